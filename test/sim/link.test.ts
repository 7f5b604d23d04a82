// Link impairments, each measured at the receiving socket and in the link counters.
// Randomised checks use fixed seeds (printed in the assertion message on failure).
import { describe, it, expect } from 'vitest';
import type { LinkOptions } from '../../src/sim/index.ts';
import { pair, payload } from './helpers.ts';

/** Send n packets a->b, one every `gapMs`; returns what b received (first byte pair = index). */
function blast(opts: LinkOptions, n: number, gapMs: number, seed = 1, size = 100) {
  const { net, a, b, link } = pair(opts, seed);
  const got: number[] = [];
  const times: number[] = [];
  b.bindUdp(9).onDatagram((_f, bytes) => {
    got.push((bytes[0] << 8) | bytes[1]);
    times.push(net.clock.now());
  });
  const s = a.bindUdp();
  for (let i = 0; i < n; i++) {
    net.at(i * gapMs, () => {
      const p = payload(size);
      p[0] = i >> 8;
      p[1] = i & 0xff;
      s.send({ address: b.address, port: 9 }, p);
    });
  }
  net.run(n * gapMs + 60_000);
  return { got, times, c: link.counters().aToB, net, b };
}

describe('link impairments', () => {
  it('random loss drops about lossRate of the packets and counts them as random-loss', () => {
    const seed = 3;
    const { got, c } = blast({ lossRate: 0.2 }, 5000, 1, seed);
    expect(c.drops['random-loss'], `seed ${seed}`).toBe(5000 - got.length);
    expect(Math.abs(got.length / 5000 - 0.8), `seed ${seed}`).toBeLessThan(0.03);
  });

  it('Gilbert–Elliott loss is bursty: stationary loss p/(p+r), mean burst length 1/r', () => {
    const seed = 4;
    const { got, c } = blast({ gilbertElliott: { pGoodToBad: 0.01, pBadToGood: 0.25 } }, 20_000, 0.5, seed);
    const lost = new Set(Array.from({ length: 20_000 }, (_, i) => i));
    for (const i of got) lost.delete(i);
    const sorted = [...lost].sort((x, y) => x - y);
    let bursts = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1] + 1) bursts++;
    const meanBurst = sorted.length / bursts;
    expect(c.drops['burst-loss']).toBe(sorted.length);
    // p/(p+r) = 0.0385; mean sojourn in bad = 1/r = 4 packets
    expect(Math.abs(sorted.length / 20_000 - 0.0385), `seed ${seed}`).toBeLessThan(0.012);
    expect(meanBurst, `seed ${seed}`).toBeGreaterThan(2.5);
    expect(meanBurst, `seed ${seed}`).toBeLessThan(6);
  });

  it('duplication delivers extra copies and counts them', () => {
    const { got, c } = blast({ duplicateRate: 0.1 }, 2000, 1, 5);
    expect(got.length).toBe(2000 + c.duplicated);
    expect(c.duplicated).toBeGreaterThan(150);
    expect(c.duplicated).toBeLessThan(250);
  });

  it('without reorderRate, jitter keeps FIFO order; with reorderRate, later packets overtake', () => {
    const fifo = blast({ latencyMs: 10, jitterMs: 20 }, 500, 1, 6);
    expect(fifo.got).toEqual([...fifo.got].sort((x, y) => x - y));
    const ro = blast({ latencyMs: 10, reorderRate: 0.1, reorderDelayMs: 5 }, 500, 1, 6);
    let inversions = 0;
    for (let i = 1; i < ro.got.length; i++) if (ro.got[i] < ro.got[i - 1]) inversions++;
    expect(ro.c.reordered).toBeGreaterThan(20);
    expect(inversions).toBeGreaterThan(20);
    expect(ro.got.length).toBe(500);
  });

  it('jitter delays packets uniformly within [latency, latency + jitter)', () => {
    const { times } = blast({ latencyMs: 10, jitterMs: 20 }, 200, 100, 7);
    const delays = times.map((t, i) => t - i * 100);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...delays)).toBeLessThan(30);
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(15);
  });

  it('corruption flips bits; the receiving host verifies checksums and drops the damaged packets', () => {
    const { got, c, b } = blast({ corruptRate: 0.2 }, 2000, 1, 8);
    const hostDrops = b.counters().drops;
    const bad = (hostDrops['bad-checksum'] ?? 0) + (hostDrops.malformed ?? 0) + (hostDrops['not-for-host'] ?? 0) + (hostDrops['port-unreachable'] ?? 0);
    expect(c.corrupted).toBeGreaterThan(300);
    // A single flipped bit is always detected by the Internet checksum: nothing corrupt reaches the socket.
    expect(got.length + bad).toBe(2000);
    expect(bad).toBe(c.corrupted);
    expect(hostDrops['bad-checksum']).toBeGreaterThan(250);
  });

  it('drops packets above the MTU and counts them', () => {
    const small = blast({ mtu: 1500 }, 10, 1, 1, 1472); // 1472 + 28 = 1500: fits
    expect(small.got.length).toBe(10);
    const big = blast({ mtu: 1500 }, 10, 1, 1, 1473);
    expect(big.got.length).toBe(0);
    expect(big.c.drops.mtu).toBe(10);
  });

  it('a drop-tail queue (packets) holds queuePackets waiting packets behind the one on the wire', () => {
    const { got, c } = blast({ bandwidthBps: 1_000_000, queuePackets: 2 }, 10, 0, 1, 1000);
    expect(got).toEqual([0, 1, 2]);
    expect(c.drops['queue-full']).toBe(7);
  });

  it('a drop-tail queue (bytes) bounds the backlog in bytes', () => {
    // 1028-byte packets, 4,000-byte limit on unsent bytes (including the packet on the wire):
    // 3 x 1028 = 3084 fit, a fourth would make 4112.
    const { got, c } = blast({ bandwidthBps: 1_000_000, queueBytes: 4000 }, 10, 0, 1, 1000);
    expect(got).toEqual([0, 1, 2]);
    expect(c.drops['queue-full']).toBe(7);
  });

  it('scheduled flaps (5 s up / 2 s down) drop exactly the packets sent during outages', () => {
    const { got, c } = blast({ latencyMs: 1, flap: { upMs: 5000, downMs: 2000 } }, 140, 100, 1);
    // Sent at i*100 ms; down when (t mod 7000) >= 5000, also for the 1 ms in flight at the boundary.
    const expected = [];
    for (let i = 0; i < 140; i++) {
      const t = i * 100;
      const downAt = (x: number) => x % 7000 >= 5000;
      if (!downAt(t) && !downAt(t + 1)) expected.push(i);
    }
    expect(got).toEqual(expected);
    expect(c.drops['link-down']).toBe(140 - expected.length);
  });

  it('outage windows and setUp(false) during a run', () => {
    const w = blast({ outages: [{ fromMs: 1000, toMs: 2000 }] }, 30, 100, 1);
    expect(w.got.length).toBe(20);
    const { net, a, b, link } = pair();
    const got: number[] = [];
    b.bindUdp(9).onDatagram(() => got.push(net.clock.now()));
    const s = a.bindUdp();
    for (let i = 0; i < 10; i++) net.at(i * 10, () => s.send({ address: b.address, port: 9 }, payload(4)));
    net.at(45, () => link.setUp(false));
    net.at(75, () => link.configure({ up: true, latencyMs: 3 }));
    net.run(1000);
    expect(got).toEqual([1, 11, 21, 31, 41, 83, 93]);
  });
});

describe('per-direction settings', () => {
  it('an asymmetric link: fast down, slow up, and a one-way outage', () => {
    const { net, a, b, link } = pair({ latencyMs: 5, bandwidthBps: 8_000_000 });
    link.bToA.configure({ bandwidthBps: 800_000 }); // b -> a ten times slower
    const atA: number[] = [];
    const atB: number[] = [];
    a.bindUdp(9).onDatagram(() => atA.push(net.clock.now()));
    b.bindUdp(9).onDatagram(() => atB.push(net.clock.now()));
    const sa = a.bindUdp();
    const sb = b.bindUdp();
    net.at(0, () => sa.send({ address: b.address, port: 9 }, payload(972))); // 1000 bytes on the wire
    net.at(0, () => sb.send({ address: a.address, port: 9 }, payload(972)));
    net.at(100, () => link.aToB.configure({ up: false }));
    net.at(110, () => sa.send({ address: b.address, port: 9 }, payload(972)));
    net.at(110, () => sb.send({ address: a.address, port: 9 }, payload(972)));
    net.run(1000);
    expect(atB).toEqual([6]); // 1 ms serialisation + 5 ms; the second a->b packet hit the outage
    expect(atA).toEqual([15, 125]); // 10 ms serialisation + 5 ms, both times
    expect(link.counters().aToB.drops).toEqual({ 'link-down': 1 });
    expect(link.isUp(200)).toBe(false);
  });
});
