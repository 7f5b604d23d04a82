// Adversarial review of the relay's batch path (RelayForwarder.handleRun, SupernodeCore.handleRun,
// RelayTransmitQueue, RelayBatchDriver.onBatch) against the per-datagram path, on hostile runs:
// - segment sizes 1..11 around the 10-byte DATA header (headers straddling segments, segments
//   shorter than a header), a last segment of 1 byte, runs mixing two sessions, unknown ids and
//   junk, the device rate limit hit mid-run, a 1- and 3-datagram queue trimming runs (drop-oldest):
//   the same bytes to the same destinations in the same order, and the same counters, as
//   handleDatagram on each segment;
// - invalid run shapes (segment size 0 with bytes, > length, = length, fractional, NaN,
//   negative; offset/length past the buffer): never throw, never send a byte from outside
//   buf[off, off+len), and a valid-looking one behaves as one datagram;
// - memory: 200,000 runs never drained keep at most maxQueuePackets datagrams queued.
// (A batch whose handling throws: review-relay-driver-throw.test.ts.)
import { describe, it, expect } from 'vitest';
import { RelayForwarder, type RelayConfig } from '../../src/overlay/relay.ts';
import { SupernodeCore } from '../../src/overlay/supernode.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { prng } from '../wire/fixtures.ts';
import { T0, sid, A, C, X, config, type Core, bound, data, out, splitRun, B, D } from './review-relay-world.ts';

/** Feed `runs` (from, bytes, seg) both ways; compare outputs and counters. */
function same(make: () => Core, runs: { from: UdpAddress; bytes: Uint8Array; seg: number; now?: number }[], drainEvery = 1): { sent: string[]; counters: unknown } {
  const perDgram = bound(make()), batch = bound(make());
  const a: string[] = [], b: string[] = [];
  const s1 = { to: A, bytes: new Uint8Array(0) }, s2 = { to: A, bytes: new Uint8Array(0), segmentSize: 0 };
  runs.forEach((r, i) => {
    const now = r.now ?? T0 + 1 + i;
    for (const s of splitRun(r.bytes, r.seg)) perDgram.handleDatagram(now, r.from, s);
    const big = new Uint8Array(r.bytes.length + 20);
    big.fill(0xee);
    big.set(r.bytes, 7);
    batch.handleRun(now, r.from, big, 7, r.bytes.length, r.seg);
    if ((i + 1) % drainEvery === 0 || i === runs.length - 1) {
      while (perDgram.pollInto(s1)) a.push(out(s1.to, s1.bytes));
      while (batch.pollRunInto(s2)) for (const s of splitRun(s2.bytes, s2.segmentSize)) b.push(out(s2.to, s));
      big.fill(0); // a drained run never refers to the buffer again
    }
  });
  expect(b).toEqual(a);
  expect(batch.counters()).toEqual(perDgram.counters());
  return { sent: a, counters: perDgram.counters() };
}

const cores = [['RelayForwarder', (c?: Partial<RelayConfig>) => new RelayForwarder(config(c), T0)], ['SupernodeCore', (c?: Partial<RelayConfig>) => new SupernodeCore({ relay: config(c) }, T0)]] as const;

describe.each(cores)('%s batch path under hostile runs = per-datagram path', (_n, mk) => {
  it('segment sizes 1..11 around the 10-byte DATA header, a 1-byte last segment, two sessions and junk in one run', () => {
    for (let seg = 1; seg <= 11; seg++) {
      const parts = [data(sid(1), seg, 1), data(sid(2), seg, 2), data(sid(1), seg, 3), data(0xdeadn, seg, 4), Uint8Array.of(0x00, 1, 2).subarray(0, Math.min(3, seg)), data(sid(1), seg, 5)];
      const body = new Uint8Array(parts.length * seg + 1);
      parts.forEach((p, i) => body.set(p, i * seg));
      body[body.length - 1] = 0x7e; // a 1-byte last segment
      // from A (session 1's side a, session 2 unbound for A), C (session 2), X (never bound)
      same(() => mk(), [{ from: A, bytes: body, seg }, { from: C, bytes: body, seg }, { from: X, bytes: body, seg }]);
    }
  });

  it('the device rate limit hit mid-run and a queue of 1 and of 3 datagrams trimming runs (drop-oldest), seeded', () => {
    let limited = 0, overflow = 0;
    for (const seed of [11, 12, 13, 14]) {
      const rnd = prng(seed);
      for (const cap of [1, 3, 64]) {
        const runs = Array.from({ length: 40 }, (_, i) => {
          const seg = [10, 11, 200, 1000][Math.floor(rnd() * 4)]!, count = 1 + Math.floor(rnd() * 12);
          const from = [A, B, C, D, X][Math.floor(rnd() * 5)]!;
          const s = rnd() < 0.8 ? (from === A || from === B ? sid(1) : sid(2)) : sid(1 + Math.floor(rnd() * 3));
          const last = 1 + Math.floor(rnd() * seg);
          const body = new Uint8Array(seg * (count - 1) + last);
          for (let k = 0; k < count; k++) body.set(data(s, k === count - 1 ? last : seg, k + i), k * seg);
          return { from, bytes: body, seg, now: T0 + 1 + i * Math.floor(rnd() * 30) };
        });
        const r = same(() => mk({ maxQueuePackets: cap }), runs, 1 + Math.floor(rnd() * 4));
        if (cap === 64) expect(r.sent.length, `seed ${seed}`).toBeGreaterThan(10);
        const c = r.counters as { dropped?: { rateLimited: number; queueOverflow: number }; relay?: { dropped: { rateLimited: number; queueOverflow: number } } };
        limited += (c.relay ?? c).dropped!.rateLimited;
        overflow += (c.relay ?? c).dropped!.queueOverflow;
      }
    }
    expect(limited, 'the rate limit bit').toBeGreaterThan(0);
    expect(overflow, 'the queue trimmed').toBeGreaterThan(0);
  });

  it('invalid run shapes never throw and never send a byte from outside buf[off, off+len)', () => {
    const core = bound(mk());
    const body = new Uint8Array(300);
    body.set(data(sid(1), 100, 1), 0); body.set(data(sid(1), 100, 2), 100); body.set(data(sid(1), 100, 3), 200);
    const shapes: [number, number, number][] = [
      [7, 300, 0], [7, 300, 301], [7, 300, 300], [7, 300, 100.5], [7, 300, NaN], [7, 300, -100], [7, 300, Infinity],
      [7, 400, 100], [-3, 300, 100], [7, -5, 100], [7, NaN, 100], [1e9, 300, 100], [7, 0, 0], [7, 0, 100],
    ];
    const slot = { to: A, bytes: new Uint8Array(0), segmentSize: 0 };
    for (const [off, len, seg] of shapes) {
      const big = new Uint8Array(320).fill(0xee);
      big.set(body, 7);
      expect(() => core.handleRun(T0 + 5, A, big, off, len, seg), `${off},${len},${seg}`).not.toThrow();
      while (core.pollRunInto(slot)) {
        if (slot.bytes.buffer === big.buffer) {
          const start = slot.bytes.byteOffset, end = start + slot.bytes.length;
          const lo = Math.max(0, Number.isFinite(off) ? off : 0), hi = Math.min(big.length, lo + (Number.isFinite(len) ? Math.max(0, len) : 0));
          expect(start >= lo && end <= hi, `${off},${len},${seg}: sent [${start}, ${end})`).toBe(true);
        }
      }
    }
  });

  it('memory: 200,000 runs never drained keep at most maxQueuePackets datagrams queued (the rest counted as queue overflow)', () => {
    const core = bound(mk({ maxQueuePackets: 50, deviceBytesPerSec: 1e12, deviceBurstBytes: 1e12, totalBytesPerSec: 1e12, totalBurstBytes: 1e12 }));
    const body = new Uint8Array(40 * 5);
    for (let k = 0; k < 5; k++) body.set(data(sid(1), 40, k), k * 40);
    for (let i = 0; i < 200_000; i++) core.handleRun(T0 + 1, A, body, 0, body.length, 40);
    const slot = { to: A, bytes: new Uint8Array(0), segmentSize: 0 };
    let datagrams = 0;
    while (core.pollRunInto(slot)) datagrams += splitRun(slot.bytes, slot.segmentSize).length;
    expect(datagrams).toBe(50);
    const c = core.counters() as { dropped?: { queueOverflow: number }; relay?: { dropped: { queueOverflow: number } } };
    expect((c.relay ?? c).dropped!.queueOverflow).toBe(1_000_000 - 50);
  });
});
