// The directory's rendezvous replay buffer (src/directory/push/replay.ts), in virtual time:
// kept until acknowledged or expired, replayed oldest first with the remaining delay, and
// bounded per device and in total whatever is thrown at it (seeded flood).
import { describe, it, expect } from 'vitest';
import { RendezvousReplay } from '../../src/directory/push/replay.ts';
import { seededRandom } from '../../src/transport/random.ts';

const dev = (n: number) => n.toString(16).padStart(32, '0');
const rid = (n: number) => `r${n.toString(16).padStart(31, '0')}`;
const msg = (id: string, deviceId: string, startAt: number) => ({ type: 'rendezvous', id, deviceId, serverTime: startAt - 300, startAt, delayMs: 300 });

describe('RendezvousReplay', () => {
  it('replays what was not acknowledged, oldest first, with the delay that remains and replayed: true', () => {
    const b = new RendezvousReplay({ ttlMs: 15_000 });
    b.keep(1_000, dev(1), rid(1), 1_300, msg(rid(1), dev(1), 1_300));
    b.keep(1_100, dev(1), rid(2), 1_400, msg(rid(2), dev(1), 1_400));
    b.keep(1_100, dev(2), rid(3), 1_400, msg(rid(3), dev(2), 1_400));
    expect(b.pending(1_200, dev(1))).toEqual([
      { ...msg(rid(1), dev(1), 1_300), delayMs: 100, replayed: true },
      { ...msg(rid(2), dev(1), 1_400), delayMs: 200, replayed: true },
    ]);
    // after startAt: start at once
    expect(b.pending(5_000, dev(1)).map((m) => (m as { delayMs: number }).delayMs)).toEqual([0, 0]);
    expect(b.ack(dev(1), rid(1))).toBe(true);
    expect(b.ack(dev(1), rid(1))).toBe(false); // once
    expect(b.ack(dev(2), rid(2))).toBe(false); // another device's id: not this device's entry
    expect(b.pending(5_000, dev(1)).map((m) => (m as { id: string }).id)).toEqual([rid(2)]);
    expect(b.pending(5_000, dev(3))).toEqual([]);
  });

  it('keeps a rendezvous once per device however often it is delivered', () => {
    const b = new RendezvousReplay();
    for (let i = 0; i < 3; i++) b.keep(1_000 + i, dev(1), rid(1), 1_300, msg(rid(1), dev(1), 1_300));
    expect(b.size).toBe(1);
    expect(b.pending(1_000, dev(1))).toHaveLength(1);
  });

  it('expires entries after ttlMs', () => {
    const b = new RendezvousReplay({ ttlMs: 15_000 });
    b.keep(0, dev(1), rid(1), 300, msg(rid(1), dev(1), 300));
    b.keep(10_000, dev(1), rid(2), 10_300, msg(rid(2), dev(1), 10_300));
    expect(b.pending(14_999, dev(1))).toHaveLength(2);
    expect(b.pending(15_000, dev(1)).map((m) => (m as { id: string }).id)).toEqual([rid(2)]);
    expect(b.pending(25_000, dev(1))).toEqual([]);
    expect(b.size).toBe(0);
  });

  it('per-device bound: the device\'s oldest goes first; total bound: the oldest overall goes first', () => {
    const b = new RendezvousReplay({ perDevice: 3, total: 5 });
    for (let i = 1; i <= 4; i++) b.keep(i, dev(1), rid(i), 300, msg(rid(i), dev(1), 300));
    expect(b.pending(10, dev(1)).map((m) => (m as { id: string }).id)).toEqual([rid(2), rid(3), rid(4)]);
    expect(b.evicted).toBe(1);
    for (let i = 5; i <= 7; i++) b.keep(i, dev(i), rid(i), 300, msg(rid(i), dev(i), 300));
    expect(b.size).toBe(5); // 3 of dev 1 + 3 others = 6 > 5: dev 1's oldest (r2) dropped
    expect(b.pending(10, dev(1)).map((m) => (m as { id: string }).id)).toEqual([rid(3), rid(4)]);
    expect(b.evicted).toBe(2);
  });

  it('stays within its bounds under a seeded flood of keeps, acks and lookups', () => {
    const seed = 0x5eed;
    const r = seededRandom(seed);
    const b = new RendezvousReplay({ ttlMs: 15_000, perDevice: 8, total: 1_000 });
    let now = 0;
    for (let i = 0; i < 100_000; i++) {
      now += r.nextU32() % 5; // ~0.5 ms apart on average: 30k entries would live within one TTL
      const d = dev(r.nextU32() % 2_000);
      const x = r.nextU32() % 10;
      if (x < 7) b.keep(now, d, rid(i), now + 300, msg(rid(i), d, now + 300));
      else if (x < 9) b.ack(d, rid(Math.max(0, i - (r.nextU32() % 50))));
      else {
        const p = b.pending(now, d);
        expect(p.length, `seed ${seed} step ${i}`).toBeLessThanOrEqual(8);
      }
      if (b.size > 1_000) throw new Error(`seed ${seed} step ${i}: ${b.size} entries`);
    }
    expect(b.evicted, `seed ${seed}`).toBeGreaterThan(0);
    expect(b.pending(now + 15_000, dev(1))).toEqual([]);
    expect(b.size, `seed ${seed}: everything expired`).toBe(0);
  });
});
