// Batched I/O (src/datagram/batch.ts) on both real sockets, loopback: onBatch() runs walk
// to exactly the datagrams sent, in order (native: a GRO super-datagram is one run, read
// in place; node:dgram: a batch of one per datagram), sendRun() sends a run as datagrams
// of its segment size (last shorter) byte-exact, across staging/sendMeta limits and GSO's
// 64-segment limit; forwarding runs straight out of a received batch (the relay's
// pattern); hostile sendRun arguments are dropped and counted, never thrown; switching
// between onBatch and onDatagram inside a handler loses nothing; busy polling delivers the
// same; seeded random runs.
// Also run against the ASan+UBSan build of the addon (native-asan.test.ts).
import { describe, it, expect } from 'vitest';
import { bindUdp, nativeUdp, type UdpSocket } from '../../src/datagram/udp.ts';
import type { DatagramBatch } from '../../src/datagram/batch.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { prng } from '../wire/fixtures.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function until(done: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !done(); t += 5) await sleep(5);
}

function payload(i: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let k = 0; k < len; k++) b[k] = (k * 7 + i * 13) & 0xff;
  if (len >= 4) new DataView(b.buffer).setUint32(0, i);
  return b;
}

type Got = { from: UdpAddress; bytes: Uint8Array }[];

/** Every segment of a batch, copied (batch memory is only valid during the call). */
function segments(b: DatagramBatch, out: Got, runSegs?: number[]): void {
  for (let r = 0; r < b.runs; r++) {
    const off = b.offset(r), len = b.length(r), seg = b.segmentSize(r), from = b.from(r);
    expect(off + len).toBeLessThanOrEqual(b.bytes.length);
    let n = 0;
    for (let p = off; ; p += seg) {
      out.push({ from, bytes: b.bytes.slice(p, Math.min(off + len, p + seg)) });
      n++;
      if (seg === 0 || p + seg >= off + len) break;
    }
    runSegs?.push(n);
  }
}

const hex = (xs: Uint8Array[]) => xs.map((x) => Buffer.from(x).toString('hex'));

const impls = (['native', 'dgram'] as const).filter((k) => k === 'dgram' || nativeUdp.available);

describe.each(impls)('batched I/O (%s)', (impl) => {
  const bind = async (o: { gro?: boolean } = {}) => (await bindUdp({ address: '127.0.0.1', impl, ...o })) as UdpSocket;
  const closeAll = async (...s: UdpSocket[]) => { for (const x of s) x.close(); await Promise.all(s.map((x) => x.whenClosed())); };

  it('sendRun of 150 x 1200 B (+ a 700 B tail) arrives as those datagrams in order through onBatch; GRO makes runs of many', async () => {
    const a = await bind(), b = await bind();
    const got: Got = [], runSegs: number[] = [];
    b.onBatch((batch) => segments(batch, got, runSegs));
    try {
      const sent = [...Array.from({ length: 150 }, (_, i) => payload(i, 1200)), payload(150, 700)];
      const run = new Uint8Array(sent.reduce((n, p) => n + p.length, 0));
      sent.reduce((off, p) => { run.set(p, off); return off + p.length; }, 0);
      a.sendRun(b.local, run, 1200);
      a.flush();
      await until(() => got.length >= sent.length);
      expect(hex(got.map((g) => g.bytes))).toEqual(hex(sent));
      expect(got.every((g) => g.from.port === a.local.port && g.from.address === '127.0.0.1')).toBe(true);
      expect(a.counters.sent).toBe(sent.length);
      expect(b.counters.received).toBe(sent.length);
      if (impl === 'native') {
        const c = a.counters as unknown as Record<string, number>;
        expect(c.gsoSegments).toBe(sent.length); // every datagram left inside a GSO message
        expect(c.sendSyscalls).toBe(1);
        expect(Math.max(...runSegs)).toBeGreaterThan(1); // GRO on: super-datagrams are runs
      } else {
        expect(runSegs.every((n) => n === 1)).toBe(true);
      }
    } finally {
      await closeAll(a, b);
    }
  });

  it('GRO off: every run is one datagram; empty and 1-byte datagrams and a 60,000 B one come through', async () => {
    const a = await bind(), b = await bind({ gro: false });
    const got: Got = [], runSegs: number[] = [];
    b.onBatch((batch) => segments(batch, got, runSegs));
    try {
      const sent = [payload(0, 0), payload(1, 1), payload(2, 60_000), payload(3, 1200), payload(4, 1200)];
      for (const p of sent) a.send(b.local, p);
      await until(() => got.length >= sent.length);
      expect(hex(got.map((g) => g.bytes))).toEqual(hex(sent));
      expect(runSegs.every((n) => n === 1)).toBe(true);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a run larger than the staging buffer (900 x 1400 B = 1.26 MB) is split across flushes and arrives complete (or its losses are counted)', async () => {
    const a = await bind(), b = await bind();
    const got: Got = [];
    b.onBatch((batch) => segments(batch, got));
    try {
      const n = 900, run = new Uint8Array(n * 1400);
      for (let i = 0; i < n; i++) run.set(payload(i, 1400), i * 1400);
      a.sendRun(b.local, run, 1400);
      a.flush();
      const c = b.counters as unknown as Record<string, number>;
      await until(() => got.length + (c.rxOverflow ?? 0) >= n);
      expect(a.counters.sent + a.counters.dropped).toBe(n);
      // whatever arrived is exact and in order (a full receive buffer may drop some, counted in rxOverflow)
      let prev = -1;
      for (const g of got) {
        const i = new DataView(g.bytes.buffer, g.bytes.byteOffset).getUint32(0);
        expect(i).toBeGreaterThan(prev);
        expect(Buffer.compare(g.bytes, payload(i, 1400))).toBe(0);
        prev = i;
      }
      if (impl === 'native') expect(got.length + c.rxOverflow).toBeGreaterThanOrEqual(n - 64); // a dropped GRO super-datagram counts once
    } finally {
      await closeAll(a, b);
    }
  });

  it('forwarding runs straight out of the received batch (the relay pattern) delivers byte-exact, in order', async () => {
    const a = await bind(), relay = await bind(), c = await bind();
    const got: Got = [];
    relay.onBatch((batch) => {
      for (let r = 0; r < batch.runs; r++) relay.sendRun(c.local, batch.bytes.subarray(batch.offset(r), batch.offset(r) + batch.length(r)), batch.segmentSize(r));
      relay.flush();
    });
    c.onBatch((batch) => segments(batch, got));
    try {
      const sent: Uint8Array[] = [];
      for (let round = 0; round < 4; round++) {
        for (let k = 0; k < 100; k++) {
          const p = payload(sent.length, k === 99 ? 500 : 1210);
          sent.push(p);
          a.send(relay.local, p);
        }
        await sleep(5);
      }
      await until(() => got.length >= sent.length);
      expect(hex(got.map((g) => g.bytes))).toEqual(hex(sent));
      expect(got.every((g) => g.from.port === relay.local.port)).toBe(true);
    } finally {
      await closeAll(a, relay, c);
    }
  });

  it('forwarding from the batch without a copy survives the kernel refusing (EAGAIN: queued copies) and a view kept past the call (sent as it is then)', async () => {
    if (impl !== 'native') return;
    const a = await bind(), relay = await bind(), c = await bind();
    const got: Got = [];
    let kept: Uint8Array | undefined;
    let fail = true;
    relay.onBatch((batch) => {
      if (fail) { (relay as unknown as { injectSendErrors(e: number, t: number): void }).injectSendErrors(11, 1); fail = false; } // the first flush: EAGAIN
      for (let r = 0; r < batch.runs; r++) relay.sendRun(c.local, batch.bytes.subarray(batch.offset(r), batch.offset(r) + batch.length(r)), batch.segmentSize(r));
      kept ??= batch.bytes.subarray(batch.offset(0), batch.offset(0) + batch.segmentSize(0));
    });
    c.onBatch((batch) => segments(batch, got));
    try {
      const sent = Array.from({ length: 120 }, (_, i) => payload(i, 1000));
      for (const p of sent) a.send(relay.local, p);
      await until(() => got.length >= sent.length);
      expect(hex(got.map((g) => g.bytes))).toEqual(hex(sent));
      expect((relay.counters as unknown as Record<string, number>).sendBlocked).toBeGreaterThan(0);
      // outside a handler call a view of the arena is just bytes: copied at sendRun, like any other
      const snapshot = Uint8Array.from(kept!);
      relay.sendRun(c.local, kept!, kept!.length);
      relay.flush();
      await until(() => got.length >= sent.length + 1);
      expect(Buffer.compare(got.at(-1)!.bytes, snapshot)).toBe(0);
    } finally {
      await closeAll(a, relay, c);
    }
  });

  it('busy polling (busyPollUs) delivers the same datagrams; it keeps calling recvmmsg after the data (native), and is ignored by node:dgram', async () => {
    const a = await bind(), b = (await bindUdp({ address: '127.0.0.1', impl, busyPollUs: 200 })) as UdpSocket;
    const got: Got = [];
    b.onBatch((batch) => segments(batch, got));
    try {
      const sent: Uint8Array[] = [];
      for (let round = 0; round < 5; round++) {
        for (let k = 0; k < 50; k++) { const p = payload(sent.length, 900 + (k % 2) * 100); sent.push(p); a.send(b.local, p); }
        a.flush();
        await sleep(3);
      }
      await until(() => got.length >= sent.length);
      expect(hex(got.map((g) => g.bytes))).toEqual(hex(sent));
      if (impl === 'native') {
        const c = b.counters as unknown as Record<string, number>;
        expect(c.recvSyscalls).toBeGreaterThan(c.recvBatches); // the empty reads of the busy poll
      }
    } finally {
      await closeAll(a, b);
    }
  });

  it('hostile sendMeta entries naming the receive arena (ARENA_REF) are bounds-checked: the last byte is fine, one past is dropped', async () => {
    if (impl !== 'native') return;
    const a = await bind(), b = await bind();
    const got: Got = [];
    b.onBatch((batch) => segments(batch, got));
    const raw = a as unknown as { addon: { flush(h: unknown, n: number): void }; handle: unknown; sendMeta: Uint32Array };
    try {
      const ARENA = 32 * 65536, REF = 0x80000000;
      const entries: [number, number][] = [
        [REF + ARENA - 1, 1], [REF + ARENA - 100, 100], // in bounds
        [REF + ARENA, 1], [REF + ARENA - 1, 2], [REF + 0x7fffffff, 1], [0xffffffff, 0xffffffff], [REF + ARENA - 10, 65_508], // out
      ];
      entries.forEach(([off, len], i) => raw.sendMeta.set([off >>> 0, len >>> 0, 0x7f000001, b.local.port], i * 4));
      const dropped0 = a.counters.dropped;
      raw.addon.flush(raw.handle, entries.length);
      expect(a.counters.dropped - dropped0).toBe(5);
      await until(() => got.length >= 2);
      expect(got.map((g) => g.bytes.length)).toEqual([1, 100]);
    } finally {
      await closeAll(a, b);
    }
  });

  it('hostile sendRun arguments are dropped and counted, never thrown; the socket keeps working', async () => {
    const a = await bind(), b = await bind();
    const got: Got = [];
    b.onBatch((batch) => segments(batch, got));
    try {
      const bytes = payload(7, 3000);
      const bad: [UdpAddress, number][] = [
        [b.local, 0], [b.local, -1], [b.local, NaN], [b.local, 1.5], [b.local, Infinity],
        [{ address: '127.0.0.1', port: 0 }, 1000], [{ address: '127.0.0.1', port: 70_000 }, 1000], [{ address: 'not an address', port: 9 }, 1000],
      ];
      let expectDropped = 0;
      for (const [to, seg] of bad) {
        expect(() => a.sendRun(to, bytes, seg)).not.toThrow();
        expectDropped += Number.isInteger(seg) && seg >= 1 ? 3 : 1;
      }
      const big = new Uint8Array(140_000);
      expect(() => a.sendRun(b.local, big, 70_000)).not.toThrow(); // segments over 65,507 B
      expectDropped += 2;
      a.flush();
      expect(a.counters.dropped).toBe(expectDropped);
      expect(a.counters.sent).toBe(0);
      a.sendRun(b.local, bytes, 1000);
      a.flush();
      await until(() => got.length >= 3);
      expect(hex(got.map((g) => g.bytes))).toEqual(hex([bytes.subarray(0, 1000), bytes.subarray(1000, 2000), bytes.subarray(2000)]));
    } finally {
      await closeAll(a, b);
    }
  });

  it('switching onBatch <-> onDatagram inside a handler loses and duplicates nothing', async () => {
    const a = await bind(), b = await bind();
    const got: Uint8Array[] = [];
    let switches = 0;
    const toDatagram = () => b.onDatagram((_f, bytes) => { got.push(Uint8Array.from(bytes)); if (got.length % 7 === 0) { switches++; toBatch(); } });
    const toBatch = () => b.onBatch((batch) => {
      const out: Got = [];
      segments(batch, out);
      got.push(...out.map((g) => g.bytes));
      switches++;
      toDatagram();
    });
    toBatch();
    try {
      const sent: Uint8Array[] = [];
      for (let round = 0; round < 10; round++) {
        for (let k = 0; k < 30; k++) {
          const p = payload(sent.length, 1100);
          sent.push(p);
          a.send(b.local, p);
        }
        await sleep(3);
      }
      await until(() => got.length >= sent.length);
      await sleep(20);
      expect(hex(got)).toEqual(hex(sent));
      expect(switches).toBeGreaterThan(2);
    } finally {
      await closeAll(a, b);
    }
  });

  it('seeded random runs (segment sizes, tails, destinations) arrive exact and in per-destination order', async () => {
    const seed = Number(process.env.SEED ?? 0x5eed) >>> 0;
    const rnd = prng(seed);
    const a = await bind(), b = await bind(), c = await bind();
    const atB: Got = [], atC: Got = [];
    b.onBatch((batch) => segments(batch, atB));
    c.onBatch((batch) => segments(batch, atC));
    const want = { b: [] as Uint8Array[], c: [] as Uint8Array[] };
    try {
      for (let round = 0; round < 20; round++) {
        for (let k = 0; k < 4; k++) {
          const seg = 1 + Math.floor(rnd() * 3000);
          const count = 1 + Math.floor(rnd() * 20);
          const tail = rnd() < 0.5 ? seg : 1 + Math.floor(rnd() * seg);
          const run = new Uint8Array(seg * (count - 1) + tail);
          for (let i = 0; i < run.length; i++) run[i] = Math.floor(rnd() * 256);
          const toB = rnd() < 0.5;
          for (let off = 0; off < run.length; off += seg) (toB ? want.b : want.c).push(run.slice(off, Math.min(run.length, off + seg)));
          a.sendRun((toB ? b : c).local, run, seg);
        }
        a.flush();
        await until(() => atB.length >= want.b.length && atC.length >= want.c.length);
      }
      expect(hex(atB.map((g) => g.bytes)), `seed ${seed}`).toEqual(hex(want.b));
      expect(hex(atC.map((g) => g.bytes)), `seed ${seed}`).toEqual(hex(want.c));
    } finally {
      await closeAll(a, b, c);
    }
  });
});
