// Packet keys alone: seal/open round trip with the header authenticated, any
// flipped bit (header, ciphertext or tag) refused and counted, replays refused
// across key generations, next() memoized, shouldUpdate at the packet and age
// limits, and a property test with real AEAD: under random reordering and
// duplication no packet number is delivered twice and every packet inside
// the window is delivered once.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { NoisePacketKeys, newPacketStats } from '../../src/session/packet-keys.ts';
import { REPLAY_WINDOW } from '../../src/session/replay-window.ts';

const key = new Uint8Array(32).fill(9);
const header = Uint8Array.from({ length: 13 }, (_, i) => i);
const pair = (limits?: { packets: number; ageMs: number }) => {
  const stats = newPacketStats();
  return { stats, send: NoisePacketKeys.create(key, 'send', [stats], limits), recv: NoisePacketKeys.create(key, 'recv', [stats], limits) };
};

describe('NoisePacketKeys', () => {
  it('round trip; every single-bit flip of header or sealed bytes is refused and counted', () => {
    const { send, recv, stats } = pair();
    const msg = new TextEncoder().encode('sixteen byte msg');
    const sealed = send.seal(42, header, msg);
    expect(sealed.length).toBe(msg.length + 16);
    let refused = 0;
    for (let i = 0; i < sealed.length * 8; i++) {
      const bad = sealed.slice(); bad[i >> 3] ^= 1 << (i & 7);
      if (recv.open(42, header, bad) === undefined) refused++;
    }
    for (let i = 0; i < header.length * 8; i++) {
      const h = header.slice(); h[i >> 3] ^= 1 << (i & 7);
      if (recv.open(42, h, sealed) === undefined) refused++;
    }
    expect(refused).toBe((sealed.length + header.length) * 8);
    expect(stats.authFailures).toBe(refused);
    expect(recv.open(41, header, sealed)).toBeUndefined(); // wrong packet number = wrong nonce
    expect(recv.open(42, header, new Uint8Array(5))).toBeUndefined();
    expect(Buffer.from(recv.open(42, header, sealed)!).toString()).toBe('sixteen byte msg');
    expect(recv.open(42, header, sealed)).toBeUndefined();
    expect(stats.replays).toBe(1);
  });

  it('next() is memoized, shares the replay window, and its keys differ', () => {
    const { send, recv, stats } = pair();
    expect(send.next()).toBe(send.next());
    const a = send.seal(1, header, new Uint8Array(10));
    const b = send.next().seal(1, header, new Uint8Array(10));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(recv.next().open(1, header, a)).toBeUndefined(); // wrong generation
    expect(recv.open(1, header, a)).toBeDefined();
    expect(recv.next().open(1, header, b)).toBeUndefined(); // same pn in the next generation: replay
    expect(stats.keyUpdates).toBe(2);
    expect(recv.next().generation).toBe(1);
  });

  it('shouldUpdate after the packet limit or the age limit', () => {
    const { send } = pair({ packets: 3, ageMs: 1000 });
    expect(send.shouldUpdate(0)).toBe(false);
    for (let i = 0; i < 3; i++) send.seal(i, header, new Uint8Array(1));
    expect(send.shouldUpdate(10)).toBe(true);
    const n = send.next();
    expect(n.shouldUpdate(5000)).toBe(false); // first asked at 5000
    expect(n.shouldUpdate(5999)).toBe(false);
    expect(n.shouldUpdate(6000)).toBe(true);
  });

  it('property (1,000 runs, seed 77): reordered and duplicated packets are each delivered at most once; inside the window exactly once', () => {
    const N = 200;
    const { send } = pair();
    const packets = Array.from({ length: N }, (_, pn) => send.seal(pn, header, Uint8Array.of(pn & 0xff, pn >> 8)));
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: N - 1 }), { minLength: 0, maxLength: 100 }),
      fc.shuffledSubarray([...Array(N).keys()], { minLength: N, maxLength: N }),
      (dups, order) => {
        const recv = NoisePacketKeys.create(key, 'recv', [newPacketStats()]);
        const delivered = new Set<number>();
        for (const pn of [...order, ...dups]) {
          const out = recv.open(pn, header, packets[pn]);
          if (!out) continue;
          if (delivered.has(pn)) return false;
          if (out[0] !== (pn & 0xff) || out[1] !== pn >> 8) return false;
          delivered.add(pn);
        }
        return delivered.size === N; // N < REPLAY_WINDOW: every reordering is inside the window
      },
    ), { numRuns: 1000, seed: 77 });
    expect(N).toBeLessThan(REPLAY_WINDOW);
  });
});
