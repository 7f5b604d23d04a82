// The native batched UDP socket on loopback (what the shared udp.test.ts suite does
// not cover): the addon must load on Linux (unless TINCAN_UDP=dgram), GSO/GRO bursts
// arrive byte-exact and in order, mixed sizes/destinations in one flush, received
// views stay the receiver's, the send queue (EAGAIN injected; tiny SO_SNDBUF) never
// loses a datagram without counting it, per-message errors and GSO refusals (injected),
// hostile arguments never throw or read out of bounds, close with pending sends,
// handlers that close mid-batch or throw, no fd leak.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { bindUdp, nativeUdp, NativeUdpSocket, realClock, type BindUdpOptions } from '../../src/datagram/udp.ts';
import { Driver, type SansIoEndpoint } from '../../src/datagram/driver.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { prng } from '../wire/fixtures.ts';

const EAGAIN = 11;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const bindNative = async (opts: BindUdpOptions = {}) => (await bindUdp({ address: '127.0.0.1', ...opts, impl: 'native' })) as NativeUdpSocket;

async function until(done: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !done(); t += 5) await sleep(5);
}

/** Payload `i` of `len` bytes: index in the first 4 bytes, then a pattern. */
function payload(i: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let k = 0; k < len; k++) b[k] = (k * 7 + i * 13) & 0xff;
  if (len >= 4) new DataView(b.buffer).setUint32(0, i);
  return b;
}

function collect(s: NativeUdpSocket): { from: UdpAddress; bytes: Uint8Array }[] {
  const got: { from: UdpAddress; bytes: Uint8Array }[] = [];
  s.onDatagram((from, bytes) => got.push({ from, bytes: Uint8Array.from(bytes) }));
  return got;
}

async function closeAll(...socks: NativeUdpSocket[]): Promise<void> {
  for (const s of socks) s.close();
  await Promise.all(socks.map((s) => s.whenClosed()));
}

describe('native UDP addon', () => {
  it('is loaded on Linux (set TINCAN_UDP=dgram to run without it)', () => {
    if (process.platform !== 'linux' || process.env.TINCAN_UDP === 'dgram') return;
    expect(nativeUdp.loadError).toBeUndefined();
    expect(nativeUdp.available).toBe(true);
  });
});

describe.skipIf(!nativeUdp.available)('native UDP socket', () => {
  it('a GSO burst of 64 x 1200 B to one destination arrives as 64 byte-exact datagrams in order (GRO on and off)', async () => {
    for (const gro of [true, false]) {
      const a = await bindNative();
      const b = await bindNative({ gro });
      const got = collect(b);
      try {
        const sent = Array.from({ length: 64 }, (_, i) => payload(i, 1200));
        for (const p of sent) a.send(b.local, p);
        await until(() => got.length >= 64);
        expect(got.length).toBe(64);
        got.forEach((g, i) => expect(Buffer.compare(g.bytes, sent[i]!)).toBe(0));
        expect(got[0]!.from).toEqual(a.local);
        expect(a.counters.sent).toBe(64);
        expect(a.counters.gsoMessages).toBeGreaterThanOrEqual(2); // 54 + 10 (65,507-byte limit)
        expect(a.counters.sendSyscalls).toBe(1);
        if (gro) expect(b.counters.groSegments).toBe(64);
        else expect(b.counters.groSegments).toBe(0);
        expect(b.counters.received).toBe(64);
      } finally {
        await closeAll(a, b);
      }
    }
  });

  it('mixed sizes and destinations in one flush arrive exact and in per-destination order', async () => {
    const a = await bindNative();
    const b = await bindNative();
    const c = await bindNative();
    const atB = collect(b), atC = collect(c);
    try {
      const want = new Map<NativeUdpSocket, Uint8Array[]>([[b, []], [c, []]]);
      const sizes = [1200, 1200, 1200, 700, 1200, 0, 1, 1200, 1200, 9000, 9000, 9000, 8999, 60_000, 1200, 1400];
      let i = 0;
      for (let round = 0; round < 3; round++) {
        for (const len of sizes) {
          const to = i % 5 < 3 ? b : c; // runs of 3 to b, 2 to c
          const p = payload(i++, len);
          want.get(to)!.push(p);
          a.send(to.local, p);
        }
      }
      await until(() => atB.length >= want.get(b)!.length && atC.length >= want.get(c)!.length);
      expect(atB.map((g) => Buffer.from(g.bytes).toString('hex'))).toEqual(want.get(b)!.map((p) => Buffer.from(p).toString('hex')));
      expect(atC.map((g) => Buffer.from(g.bytes).toString('hex'))).toEqual(want.get(c)!.map((p) => Buffer.from(p).toString('hex')));
      expect(a.counters.sent).toBe(i);
      expect(a.counters.sendErrors + a.counters.dropped).toBe(0);
    } finally {
      await closeAll(a, b, c);
    }
  });

  it('a received view the receiver keeps (and overwrites in place) is never touched by later batches', async () => {
    const a = await bindNative();
    const b = await bindNative();
    const kept: Uint8Array[] = [];
    b.onDatagram((_from, bytes) => {
      bytes[bytes.length - 1] ^= 0xff; // "decrypt in place"
      kept.push(bytes);
    });
    try {
      const sent: Uint8Array[] = [];
      for (let round = 0; round < 5; round++) {
        for (let k = 0; k < 40; k++) {
          const p = payload(sent.length, 1000 + (k % 3) * 100);
          sent.push(p);
          a.send(b.local, p);
        }
        await until(() => kept.length >= sent.length);
      }
      expect(kept.length).toBe(sent.length);
      kept.forEach((v, i) => {
        const p = Uint8Array.from(sent[i]!);
        p[p.length - 1] ^= 0xff;
        expect(Buffer.compare(v, p)).toBe(0);
      });
      expect(b.counters.recvBatches).toBeGreaterThanOrEqual(5);
    } finally {
      await closeAll(a, b);
    }
  });

  it('EAGAIN: the unsent tail is queued and sent when writable, in order, nothing lost', async () => {
    const a = await bindNative();
    const b = await bindNative();
    const got = collect(b);
    try {
      a.injectSendErrors(EAGAIN, 3);
      const n = 300;
      for (let i = 0; i < n; i++) a.send(b.local, payload(i, 1200));
      a.flush();
      expect(a.counters.queued).toBe(n); // the kernel "had no room"
      await until(() => got.length >= n);
      expect(got.map((g) => new DataView(g.bytes.buffer).getUint32(0))).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(a.counters.sent).toBe(n);
      expect(a.counters.queued).toBe(0);
      expect(a.counters.sendBlocked).toBeGreaterThanOrEqual(1);
      expect(a.counters.dropped + a.counters.sendErrors).toBe(0);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a queue head the kernel keeps refusing while writable (ENOBUFS) is given up and counted, not spun on forever', async () => {
    const ENOBUFS = 105;
    const a = await bindNative();
    const b = await bindNative();
    const got = collect(b);
    try {
      a.injectSendErrors(ENOBUFS, 1e9);
      for (let i = 0; i < 10; i++) a.send(b.local, payload(i, 1200));
      a.flush();
      expect(a.counters.queued).toBe(10);
      await until(() => a.counters.queued === 0);
      expect(a.counters.sendErrors).toBe(10);
      expect(a.lastError).toBe('ENOBUFS');
      a.injectSendErrors(0, 0);
      a.send(b.local, payload(10, 1200));
      await until(() => got.length >= 1);
      expect(got.map((g) => new DataView(g.bytes.buffer).getUint32(0))).toEqual([10]);
      expect(a.counters.sent).toBe(1);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a full send queue (4 MiB) drops and counts; everything is either received or counted', async () => {
    const a = await bindNative();
    const b = await bindNative({ recvBufferSize: 32 * 1024 * 1024, gro: false });
    let received = 0;
    b.onDatagram(() => { received++; });
    try {
      a.injectSendErrors(EAGAIN, 1e9);
      const n = 5000; // 6 MB > the 4 MiB queue
      for (let i = 0; i < n; i++) a.send(b.local, payload(i, 1200));
      a.flush();
      expect(a.counters.queueDrops).toBeGreaterThan(0);
      expect(a.counters.queued + a.counters.queueDrops).toBe(n);
      a.injectSendErrors(0, 0); // the kernel has room again
      a.send(b.local, payload(n, 1200)); // a flush retries the queue first
      await until(() => a.counters.queued === 0);
      await sleep(50);
      a.send(b.local, payload(n + 1, 1200)); // carries the receiver's final drop count
      a.flush();
      await until(() => received + b.counters.rxOverflow >= a.counters.sent);
      expect(a.counters.sent + a.counters.dropped + a.counters.sendErrors).toBe(n + 2);
      expect(received + b.counters.rxOverflow).toBe(a.counters.sent);
    } finally {
      await closeAll(a, b);
    }
  });

  it('tiny SO_SNDBUF and a large burst: sent = received + counted receive drops, every send accounted', async () => {
    const a = await bindNative({ sendBufferSize: 4096 });
    // GRO off: the kernel's drop count counts a dropped GRO super-datagram once
    const b = await bindNative({ recvBufferSize: 32 * 1024 * 1024, gro: false });
    let received = 0;
    b.onDatagram(() => { received++; });
    try {
      const n = 20_000;
      for (let i = 0; i < n; i++) {
        a.send(b.local, payload(i, 1200));
        if (i % 2000 === 1999) await sleep(1);
      }
      await until(() => a.counters.queued === 0);
      // the kernel's drop count (SO_RXQ_OVFL) rides on the next received datagram: send one
      // more once the burst has been read or dropped, so the count covers every drop
      await sleep(50);
      a.send(b.local, payload(n, 1200));
      a.flush();
      await until(() => received + b.counters.rxOverflow >= a.counters.sent);
      console.log(`tiny SO_SNDBUF (${a.sendBufferSize} granted): ${JSON.stringify({ sent: a.counters.sent, blocked: a.counters.sendBlocked, queueDrops: a.counters.queueDrops, received, rxOverflow: b.counters.rxOverflow })}`);
      expect(a.counters.sent + a.counters.dropped + a.counters.sendErrors).toBe(n + 1);
      expect(received + b.counters.rxOverflow).toBe(a.counters.sent);
    } finally {
      await closeAll(a, b);
    }
  });

  it('receive-buffer overflow is counted (SO_RXQ_OVFL): sent = received + rxOverflow', async () => {
    const a = await bindNative();
    const b = await bindNative({ recvBufferSize: 64 * 1024, gro: false });
    let received = 0;
    b.onDatagram(() => { received++; });
    try {
      const n = 2000; // 2.4 MB into a ~128 KiB receive buffer, no chance to read in between
      for (let i = 0; i < n; i++) a.send(b.local, payload(i, 1200));
      a.flush();
      await sleep(50);
      a.send(b.local, payload(n, 1200)); // carries the final drop count
      a.flush();
      await until(() => received + b.counters.rxOverflow >= a.counters.sent);
      expect(b.counters.rxOverflow).toBeGreaterThan(0);
      expect(received + b.counters.rxOverflow).toBe(a.counters.sent);
      expect(a.counters.sent).toBe(n + 1);
    } finally {
      await closeAll(a, b);
    }
  });

  it('hostile sends never throw and are counted; hostile native arguments are refused without reading out of bounds', async () => {
    const a = await bindNative();
    const b = await bindNative();
    const got = collect(b);
    try {
      const bad: UdpAddress[] = [
        { address: '127.0.0.1', port: 0 }, { address: '127.0.0.1', port: -1 }, { address: '127.0.0.1', port: 70_000 },
        { address: '127.0.0.1', port: 1.5 }, { address: '127.0.0.1', port: NaN }, { address: '1.2.3', port: 9 },
        { address: '256.0.0.1', port: 9 }, { address: '', port: 9 }, { address: 'localhost', port: 9 },
        { address: '01.2.3.4', port: 9 }, { address: '1.2.3.4 ', port: 9 },
      ];
      for (const to of bad) expect(() => a.send(to, Uint8Array.of(1))).not.toThrow();
      expect(() => a.send(b.local, new Uint8Array(65_508))).not.toThrow();
      expect(() => a.sendOwned(b.local, new Uint8Array(70_000))).not.toThrow();
      expect(a.counters.dropped).toBe(bad.length + 2);
      a.send(b.local, new Uint8Array(65_507)); // the largest is fine
      await until(() => got.length >= 1);
      expect(got.map((g) => g.bytes.length)).toEqual([65_507]);

      // the addon itself: wrong handles, counts beyond the metadata, offsets beyond staging
      const raw = a as unknown as { addon: Record<string, (...args: unknown[]) => unknown>; handle: unknown; sendMeta: Uint32Array };
      const addon = raw.addon;
      for (const args of [[], [{}, 1], [raw.handle, -1], [raw.handle, 1.5], [raw.handle, 'x'], [raw.sendMeta.buffer, 1]]) {
        expect(() => addon.flush!(...args)).toThrow(TypeError);
      }
      expect(() => addon.close!(raw.handle, 'not a function')).toThrow(TypeError);
      expect(() => addon.open!(1, 2, 3)).toThrow(TypeError);
      const before = a.counters.dropped;
      const m = raw.sendMeta;
      m.set([2 ** 20 - 10, 100, 0x7f000001, b.local.port, 0xffffffff, 10, 0x7f000001, b.local.port, 0, 65_508, 0x7f000001, b.local.port, 0, 10, 0x7f000001, 0]);
      expect(() => addon.flush!(raw.handle, 4)).not.toThrow();
      expect(() => addon.flush!(raw.handle, 2 ** 31)).not.toThrow(); // clamped to the metadata size
      expect(a.counters.dropped).toBeGreaterThanOrEqual(before + 4);
      await sleep(20);

      a.close();
      expect(() => a.send(b.local, Uint8Array.of(1))).not.toThrow();
      expect(() => a.flush()).not.toThrow();
      expect(() => addon.flush!(raw.handle, 1)).not.toThrow(); // after close: counted as dropped
      expect(() => a.injectSendErrors(EAGAIN, 1)).not.toThrow();
    } finally {
      await closeAll(a, b);
    }
  });

  it('random send metadata (seeded) never crashes or reads out of bounds; the socket keeps working', async () => {
    const seed = 20261202;
    const rand = prng(seed);
    const a = await bindNative();
    const b = await bindNative();
    const got = collect(b);
    const raw = a as unknown as { addon: { flush(h: unknown, n: number): void }; handle: unknown; sendMeta: Uint32Array };
    try {
      const u32 = () => Math.floor(rand() * 2 ** 32) >>> 0;
      const near = (max: number) => (rand() < 0.5 ? Math.floor(rand() * max) : u32());
      for (let round = 0; round < 300; round++) {
        const n = Math.floor(rand() * 40);
        for (let i = 0; i < n; i++) {
          const m = i * 4;
          raw.sendMeta[m] = near(2 ** 20 + 100);
          raw.sendMeta[m + 1] = near(70_000);
          // only to b (a real port) or an unused loopback port, never elsewhere
          raw.sendMeta[m + 2] = 0x7f000001;
          raw.sendMeta[m + 3] = rand() < 0.5 ? b.local.port : near(70_000);
        }
        raw.addon.flush(raw.handle, rand() < 0.9 ? n : u32());
      }
      await sleep(100); // b reads (or the kernel drops) what the valid entries sent it
      a.send(b.local, Uint8Array.of(42));
      await until(() => got.some((g) => g.bytes.length === 1 && g.bytes[0] === 42));
      const state = JSON.stringify({ a: { ...a.counters }, rxOverflow: b.counters.rxOverflow, received: got.length });
      expect(got.some((g) => g.bytes.length === 1 && g.bytes[0] === 42), `seed ${seed} ${state}`).toBe(true);
    } finally {
      await closeAll(a, b);
    }
  });

  it('close() sends what is staged; what the kernel refused until then is counted as dropped', async () => {
    const a = await bindNative();
    const b = await bindNative();
    const got = collect(b);
    try {
      for (let i = 0; i < 100; i++) a.send(b.local, payload(i, 1200));
      a.close();
      await a.whenClosed();
      await until(() => got.length >= 100);
      expect(got.length).toBe(100);
      expect(a.counters.sent).toBe(100);

      const c = await bindNative();
      c.injectSendErrors(EAGAIN, 1e9);
      for (let i = 0; i < 50; i++) c.send(b.local, payload(i, 1200));
      c.flush();
      expect(c.counters.queued).toBe(50);
      c.close();
      c.close();
      await c.whenClosed();
      expect(c.counters.dropped).toBe(50);
      expect(c.counters.queued).toBe(0);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a handler that closes its socket mid-batch stops delivery at once', async () => {
    const a = await bindNative();
    const b = await bindNative();
    let seen = 0;
    b.onDatagram(() => {
      seen++;
      if (seen === 3) b.close();
    });
    try {
      for (let i = 0; i < 40; i++) a.send(b.local, payload(i, 100));
      await b.whenClosed();
      await sleep(20);
      expect(seen).toBe(3);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a kernel error on one message of a flush is counted and skipped; the rest of the flush is sent', async () => {
    const a = await bindNative();
    const b = await bindNative();
    const got = collect(b);
    try {
      a.send(b.local, payload(0, 100));
      a.send({ address: '255.255.255.255', port: 9 }, payload(1, 100)); // EACCES without SO_BROADCAST
      for (let i = 2; i < 6; i++) a.send(b.local, payload(i, 1200));
      a.flush();
      await until(() => got.length >= 5);
      expect(got.map((g) => new DataView(g.bytes.buffer).getUint32(0))).toEqual([0, 2, 3, 4, 5]);
      expect(a.counters.sent).toBe(5);
      expect(a.counters.sendErrors).toBe(1);
      expect(a.lastError).toBe('EACCES');
    } finally {
      await closeAll(a, b);
    }
  });

  it('GSO refused: EINVAL resends that run datagram by datagram and coalesces only shorter segments since; EIO (no checksum offload) turns GSO off', async () => {
    const EINVAL = 22, EIO = 5;
    const a = await bindNative();
    const b = await bindNative();
    const got = collect(b);
    try {
      a.injectSendErrors(EINVAL, 1);
      for (let i = 0; i < 10; i++) a.send(b.local, payload(i, 1200));
      a.flush();
      expect(a.counters.gsoFallbacks).toBe(1);
      expect(a.counters.gsoOn).toBe(1);
      expect(a.counters.gsoMaxSegment).toBe(1200); // 1200-byte segments are no longer coalesced...
      for (let i = 10; i < 15; i++) a.send(b.local, payload(i, 1200));
      a.flush();
      expect(a.counters.gsoMessages).toBe(0);
      a.injectSendErrors(EIO, 1);
      for (let i = 15; i < 20; i++) a.send(b.local, payload(i, 1000)); // ...shorter ones are
      a.flush();
      expect(a.counters.gsoFallbacks).toBe(2);
      expect(a.counters.gsoOn).toBe(0);
      for (let i = 20; i < 30; i++) a.send(b.local, payload(i, 1000));
      a.flush();
      await until(() => got.length >= 30);
      expect(got.map((g) => new DataView(g.bytes.buffer).getUint32(0))).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(a.counters.gsoMessages).toBe(0);
      expect(a.counters.sent).toBe(30);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a handler that throws does not cost the rest of its batch; the error surfaces as uncaught', () => {
    // in a child process: vitest treats any uncaught exception in its own process as a failure
    const script = `
      import { bindUdp } from ${JSON.stringify(new URL('../../src/datagram/udp.ts', import.meta.url).pathname)};
      const a = await bindUdp({ address: '127.0.0.1', impl: 'native' });
      const b = await bindUdp({ address: '127.0.0.1', impl: 'native', gro: true });
      const seen = [];
      const errors = [];
      process.on('uncaughtException', (e) => errors.push(e.message));
      b.onDatagram((_f, bytes) => { seen.push(bytes[0]); if (bytes[0] === 2) throw new Error('boom'); });
      for (let i = 0; i < 6; i++) a.send(b.local, Uint8Array.of(i, 0, 0));
      setTimeout(() => { console.log(JSON.stringify({ seen, errors, batches: b.counters.recvBatches })); a.close(); b.close(); }, 100);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { seen: number[]; errors: string[]; batches: number };
    expect(out.seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(out.errors).toEqual(['boom']);
  });

  it('the Driver over the native socket: one transmit pass of 20 equal packets = one sendmmsg, one GSO message', async () => {
    const a = await bindNative();
    const b = await bindNative();
    const got = collect(b);
    try {
      let owed = 0;
      const endpoint: SansIoEndpoint = {
        handleDatagram: () => {}, handleTimeout: () => {}, pollTimeout: () => undefined,
        pollTransmit: () => (owed > 0 ? { to: b.local, bytes: payload(20 - owed--, 1200) } : undefined),
      };
      const driver = new Driver(endpoint, a, realClock);
      owed = 20;
      driver.wake();
      await until(() => got.length >= 20);
      expect(got.map((g) => new DataView(g.bytes.buffer).getUint32(0))).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(a.counters.sendSyscalls).toBe(1);
      expect(a.counters.gsoMessages).toBe(1);
      driver.close();
    } finally {
      await closeAll(a, b);
    }
  });

  it('datagrams sent just before process.exit() (no microtasks run) still leave', async () => {
    const b = await bindNative();
    const got = collect(b);
    try {
      const script = `
        import { bindUdp } from ${JSON.stringify(new URL('../../src/datagram/udp.ts', import.meta.url).pathname)};
        const a = await bindUdp({ address: '127.0.0.1', impl: 'native' });
        for (let i = 0; i < 3; i++) a.send({ address: '127.0.0.1', port: ${b.local.port} }, Uint8Array.of(i));
        process.exit(0);
      `;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(0);
      await until(() => got.length >= 3);
      expect(got.map((g) => g.bytes[0])).toEqual([0, 1, 2]);
    } finally {
      await closeAll(b);
    }
  });

  it('1,000 open/close cycles leak no file descriptors', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const warm = await bindNative();
    await closeAll(warm);
    const before = fds();
    for (let round = 0; round < 20; round++) {
      const socks = await Promise.all(Array.from({ length: 50 }, () => bindNative()));
      socks[0]!.send(socks[1]!.local, Uint8Array.of(1));
      await closeAll(...socks);
    }
    expect(fds()).toBeLessThanOrEqual(before);
  });

  it('reports bind errors with their code; odd buffer sizes are no error', async () => {
    const a = await bindNative();
    try {
      await expect(bindNative({ port: a.local.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      await expect(bindUdp({ address: '192.0.2.1', impl: 'native' })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
      for (const size of [-1, 1.5, NaN, 2 ** 40]) { // best effort, like node:dgram: never a throw
        const s = await bindNative({ recvBufferSize: size, sendBufferSize: size });
        await closeAll(s);
      }
    } finally {
      await closeAll(a);
    }
  });
});
