// The native socket's receive arena is a JS ArrayBuffer that every batch consumer can reach
// (batch.bytes.buffer). A consumer that TRANSFERS it — structuredClone(buf, { transfer }),
// worker.postMessage(view, [view.buffer]) — detaches it: its memory now belongs to another
// ArrayBuffer (maybe in another thread), which frees it when collected. The addon must
// never write received datagrams into (nor send ARENA_REF entries from) memory it no longer
// owns, and the socket must keep delivering what arrives afterwards.
// - in process: after a transfer, the transferred buffer's bytes never change and later
//   datagrams still arrive intact;
// - child process (worker transfer, worker exit, gc, then traffic): exits cleanly and, under
//   the ASan+UBSan build (native-asan.test.ts runs every test/datagram file with it), without
//   a sanitizer report (it reported heap-use-after-free WRITE in recvmmsg before).
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { bindUdp, nativeUdp, type UdpSocket } from '../../src/datagram/udp.ts';
import { ROOT, expectNoSanitizerReport } from '../native-asan.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function until(done: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !done(); t += 5) await sleep(5);
}
const skip = !nativeUdp.available;
const why = skip ? ` (skipped: ${nativeUdp.loadError})` : '';

describe('native receive arena transferred away by a batch consumer', () => {
  it.skipIf(skip)(`the addon never writes into the transferred memory, and later datagrams still arrive intact${why}`, async () => {
    const a = (await bindUdp({ address: '127.0.0.1', impl: 'native' })) as UdpSocket;
    const b = (await bindUdp({ address: '127.0.0.1', impl: 'native' })) as UdpSocket;
    let stolen: ArrayBuffer | undefined;
    const got: string[] = [];
    b.onBatch((batch) => {
      for (let r = 0; r < batch.runs; r++) {
        try { got.push(Buffer.from(batch.bytes.subarray(batch.offset(r), batch.offset(r) + batch.length(r))).toString('hex')); } catch { got.push('unreadable (the arena is detached)'); }
      }
      if (stolen === undefined && batch.bytes.byteLength > 0) stolen = structuredClone(batch.bytes.buffer as ArrayBuffer, { transfer: [batch.bytes.buffer as ArrayBuffer] });
    });
    try {
      a.send(b.local, Uint8Array.of(1, 1, 1, 1));
      a.flush();
      await until(() => stolen !== undefined);
      const before = Buffer.from(new Uint8Array(stolen!, 0, 64)).toString('hex');
      for (let i = 2; i < 6; i++) { a.send(b.local, new Uint8Array(4).fill(i)); a.flush(); await sleep(10); }
      await until(() => got.length >= 5, 1000);
      expect(Buffer.from(new Uint8Array(stolen!, 0, 64)).toString('hex'), 'the addon wrote into memory it no longer owns').toBe(before);
      expect(got).toEqual(['01010101', '02020202', '03030303', '04040404', '05050505']);
    } finally {
      a.close(); b.close();
      await Promise.all([a.whenClosed(), b.whenClosed()]);
    }
  });

  it.skipIf(skip)(`transferred to a worker that exits (its memory freed), then traffic: no crash, no sanitizer report${why}`, () => {
    const script = `
      const { bindUdp } = await import(${JSON.stringify(join(ROOT, 'src', 'datagram', 'udp.ts'))});
      const { Worker } = await import('node:worker_threads');
      const a = await bindUdp({ address: '127.0.0.1', impl: 'native' }), b = await bindUdp({ address: '127.0.0.1', impl: 'native' });
      const w = new Worker('require("node:worker_threads").parentPort.on("message", (m) => require("node:worker_threads").parentPort.postMessage(m.byteLength));', { eval: true, execArgv: [] });
      let moved = false, after = 0;
      b.onBatch((batch) => { if (!moved) { moved = true; w.postMessage(batch.bytes.buffer, [batch.bytes.buffer]); } else after += batch.runs; });
      a.send(b.local, Uint8Array.of(1, 1, 1, 1)); a.flush();
      await new Promise((r) => w.once('message', r));
      await w.terminate();
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      for (let i = 0; i < 20; i++) a.send(b.local, new Uint8Array(1000).fill(i));
      a.flush();
      await new Promise((r) => setTimeout(r, 200));
      console.log(JSON.stringify({ after, received: b.counters.received }));
      a.close(); b.close();`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    expectNoSanitizerReport(out);
    expect(r.status, out.slice(-3000)).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { after: number; received: number };
    expect(res.after, 'datagrams delivered after the transfer').toBe(20);
  }, 70_000);
});
