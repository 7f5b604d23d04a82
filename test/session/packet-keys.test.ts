// Packet keys alone: seal/open round trip with the header authenticated, any
// flipped bit (header, ciphertext or tag) refused and counted, replays refused
// across key generations, next() memoized, shouldUpdate at the packet and age
// limits, and a property test with real AEAD: under random reordering and
// duplication no packet number is delivered twice and every packet inside
// the window is delivered once. sealInto (the transport's in-place path):
// byte-identical to seal, in place and at an offset behind a header in the
// same buffer, tampered output refused and counted, key generations kept.
// openInPlace: plaintext is a view of the received bytes, same results and
// counters as open; openInPlaceLength: the same, returning the length. sealInto
// called again with views it validated seals byte-identically. Old generations are wiped as soon as the transport can
// no longer use them (send: when the next one seals; receive: two behind).
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

describe('NoisePacketKeys.sealInto (in place)', () => {
  const HDR = header.length;
  /** A transport-style packet: header || plaintext || room for the tag, sealed in place. */
  const packet = (keys: NoisePacketKeys, pn: number, plain: Uint8Array): Uint8Array => {
    const buf = new Uint8Array(HDR + plain.length + 16);
    buf.set(header); buf.set(plain, HDR);
    const n = keys.sealInto(pn, buf.subarray(0, HDR), buf.subarray(HDR, HDR + plain.length), buf, HDR);
    expect(n).toBe(plain.length + 16);
    return buf;
  };

  it('in place (c == m, header in the same buffer) is byte-identical to seal for sizes 0..65,000 and opens', () => {
    const a = pair(), b = pair();
    const sizes = [0, 1, 15, 16, 17, 63, 64, 65, 1000, 1171, 4096, 16_384, 65_000];
    sizes.forEach((size, pn) => {
      const plain = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff);
      const viaSeal = a.send.seal(pn, header, plain);
      const buf = packet(b.send, pn, plain);
      expect(Buffer.from(buf.subarray(0, HDR)).equals(Buffer.from(header))).toBe(true); // header untouched
      expect(Buffer.from(buf.subarray(HDR)).equals(Buffer.from(viaSeal))).toBe(true);
      expect(Buffer.from(b.recv.open(pn, buf.subarray(0, HDR), buf.subarray(HDR))!).equals(Buffer.from(plain))).toBe(true);
    });
    expect(b.stats.sealed).toBe(sizes.length);
    expect(b.stats.opened).toBe(sizes.length);
    expect(b.stats.authFailures).toBe(0);
  });

  it('into a separate buffer at an offset; leaves the bytes around the output alone', () => {
    const { send, recv } = pair();
    const plain = new TextEncoder().encode('hello, in-place world');
    const out = new Uint8Array(7 + plain.length + 16 + 5).fill(0xee);
    expect(send.sealInto(3, header, plain, out, 7)).toBe(plain.length + 16);
    expect([...out.subarray(0, 7)].every((x) => x === 0xee)).toBe(true);
    expect([...out.subarray(7 + plain.length + 16)].every((x) => x === 0xee)).toBe(true);
    expect(Buffer.from(recv.open(3, header, out.subarray(7, 7 + plain.length + 16))!).toString()).toBe('hello, in-place world');
    expect(() => send.sealInto(4, header, plain, out, 8 + 5)).toThrow(RangeError);
    expect(() => send.sealInto(4, header, plain, out, -1)).toThrow(RangeError);
    const buf = new Uint8Array(100);
    expect(() => send.sealInto(5, header, buf.subarray(10, 40), buf, 11)).toThrow(/overlap/); // shifted by one: not c == m
    expect(() => send.sealInto(5, header, buf.subarray(10, 40), buf, 0)).toThrow(/overlap/);
    expect(send.sealInto(5, header, buf.subarray(0, 30), buf, 40)).toBe(46); // same buffer, disjoint: fine
    expect(recv.open(5, header, buf.subarray(40, 86))).toBeDefined();
  });

  it('tampered in-place packets: every single-bit flip of header or sealed bytes is refused and counted, not recorded in the replay window', () => {
    const { send, recv, stats } = pair();
    const plain = Uint8Array.from({ length: 40 }, (_, i) => i);
    const buf = packet(send, 77, plain);
    let refused = 0;
    for (let i = 0; i < buf.length * 8; i++) {
      const bad = buf.slice(); bad[i >> 3] ^= 1 << (i & 7);
      if (recv.open(77, bad.subarray(0, HDR), bad.subarray(HDR)) === undefined) refused++;
    }
    expect(refused).toBe(buf.length * 8);
    expect(stats.authFailures).toBe(refused);
    expect(stats.replays + stats.tooOld).toBe(0);
    expect(Buffer.from(recv.open(77, buf.subarray(0, HDR), buf.subarray(HDR))!).equals(Buffer.from(plain))).toBe(true);
    expect(recv.open(77, buf.subarray(0, HDR), buf.subarray(HDR))).toBeUndefined();
    expect(stats.replays).toBe(1);
  });

  it('key generations: next().sealInto opens only with recv.next(); counts toward shouldUpdate', () => {
    const { send, recv } = pair({ packets: 2, ageMs: 1e9 });
    const plain = new Uint8Array(100).fill(5);
    expect(send.shouldUpdate(0)).toBe(false);
    packet(send, 2, plain); packet(send, 3, plain);
    expect(send.shouldUpdate(0)).toBe(true);
    const g1 = packet(send.next(), 4, plain);
    expect(recv.open(4, g1.subarray(0, HDR), g1.subarray(HDR))).toBeUndefined();
    expect(recv.next().open(4, g1.subarray(0, HDR), g1.subarray(HDR))).toBeDefined();
    expect(send.next().shouldUpdate(0)).toBe(false);
  });
});

describe('NoisePacketKeys.openInPlace', () => {
  it('same plaintext and counters as open; the result is a view of the sealed bytes', () => {
    const a = pair(), b = pair();
    for (const [pn, size] of [[0, 0], [1, 1], [2, 1171], [3, 65_000]] as const) {
      const plain = Uint8Array.from({ length: size }, (_, i) => (i * 7 + pn) & 0xff);
      const s1 = a.send.seal(pn, header, plain), s2 = b.send.seal(pn, header, plain);
      const viaOpen = a.recv.open(pn, header, s1)!;
      const inPlace = b.recv.openInPlace(pn, header, s2)!;
      expect(Buffer.from(inPlace).equals(Buffer.from(plain))).toBe(true);
      expect(Buffer.from(viaOpen).equals(Buffer.from(plain))).toBe(true);
      expect(inPlace.buffer).toBe(s2.buffer);
      expect(inPlace.byteOffset).toBe(s2.byteOffset);
    }
    const bad = b.send.seal(9, header, new Uint8Array(50)); bad[3] ^= 1;
    expect(b.recv.openInPlace(9, header, bad)).toBeUndefined();
    expect(b.recv.openInPlace(3, header, b.send.seal(3, header, new Uint8Array(1)))).toBeUndefined(); // replay
    expect(b.recv.openInPlace(10, header, new Uint8Array(15))).toBeUndefined(); // shorter than the tag
    expect(b.stats).toMatchObject({ opened: 4, authFailures: 2, replays: 1 });
    expect(a.stats).toMatchObject({ opened: 4, authFailures: 0, replays: 0 });
  });
});

describe('NoisePacketKeys.openInPlaceLength', () => {
  it('same plaintext, refusals and counters as openInPlace; the plaintext is the first bytes of the sealed buffer', () => {
    const a = pair(), b = pair();
    for (const [pn, size] of [[0, 0], [1, 1], [2, 1171], [3, 65_000]] as const) {
      const plain = Uint8Array.from({ length: size }, (_, i) => (i * 7 + pn) & 0xff);
      const s1 = a.send.seal(pn, header, plain), s2 = b.send.seal(pn, header, plain);
      expect(Buffer.from(a.recv.openInPlace(pn, header, s1)!).equals(Buffer.from(plain))).toBe(true);
      expect(b.recv.openInPlaceLength(pn, header, s2)).toBe(size);
      expect(Buffer.from(s2.subarray(0, size)).equals(Buffer.from(plain))).toBe(true);
    }
    const bad = b.send.seal(9, header, new Uint8Array(50)); bad[3] ^= 1;
    expect(b.recv.openInPlaceLength(9, header, bad)).toBe(-1);
    expect(b.recv.openInPlaceLength(3, header, b.send.seal(3, header, new Uint8Array(1)))).toBe(-1); // replay
    expect(b.recv.openInPlaceLength(10, header, new Uint8Array(15))).toBe(-1); // shorter than the tag
    expect(b.recv.openInPlaceLength(-1, header, new Uint8Array(20))).toBe(-1); // not a packet number
    expect(b.stats).toMatchObject({ opened: 4, authFailures: 2, replays: 1, tooOld: 1 });
  });
});

describe('NoisePacketKeys.sealInto: repeated calls with the same views', () => {
  it('the views validated once (in place) seal every later packet byte-identically to seal; other arguments are checked again', () => {
    const a = pair(), b = pair();
    const HDR = header.length, size = 300;
    const buf = new Uint8Array(HDR + size + 16);
    const hdr = buf.subarray(0, HDR), plain = buf.subarray(HDR, HDR + size);
    for (let pn = 0; pn < 20; pn++) {
      const m = Uint8Array.from({ length: size }, (_, i) => (i + pn * 13) & 0xff);
      buf.set(header); plain.set(m);
      expect(b.send.sealInto(pn, hdr, plain, buf, HDR)).toBe(size + 16);
      expect(Buffer.from(buf.subarray(HDR)).equals(Buffer.from(a.send.seal(pn, header, m)))).toBe(true);
    }
    // the same plaintext view at another offset of the same buffer is a partial overlap: still refused
    expect(() => b.send.sealInto(20, hdr, plain, buf, HDR - 1)).toThrow(/overlap/);
    // and the remembered views still work afterwards
    expect(b.send.sealInto(21, hdr, plain, buf, HDR)).toBe(size + 16);
    expect(b.recv.open(21, hdr, buf.subarray(HDR))).toBeDefined();
    expect(b.stats.sealed).toBe(21);
  });
});

describe('NoisePacketKeys: old generations are wiped', () => {
  const keyBytes = (k: NoisePacketKeys) => (k as unknown as { key: Uint8Array }).key;
  it('send: generation g is wiped when g+1 seals its first packet, then refuses to seal', () => {
    const { send } = pair();
    send.seal(0, header, new Uint8Array(4));
    const g1 = send.next();
    expect(send.wiped).toBe(false); // deriving the next generation is not switching to it
    send.seal(1, header, new Uint8Array(4));
    g1.seal(2, header, new Uint8Array(4));
    expect(send.wiped).toBe(true);
    expect([...keyBytes(send)].every((b) => b === 0)).toBe(true);
    expect([...keyBytes(g1)].some((b) => b !== 0)).toBe(true);
    expect(() => send.seal(3, header, new Uint8Array(4))).toThrow(/wiped/);
    expect(() => send.sealInto(3, header, new Uint8Array(4), new Uint8Array(20), 0)).toThrow(/wiped/);
    expect(g1.next().generation).toBe(2); // the live generation still updates
  });

  it('receive: generation g is wiped only when g+2 opens a packet (the transport keeps one previous generation)', () => {
    const { send, recv, stats } = pair();
    const s0 = send, s1 = s0.next(), s2 = s1.next();
    const p0 = [0, 1, 2].map((pn) => s0.seal(pn, header, Uint8Array.of(pn)));
    const p1 = [10, 11].map((pn) => s1.seal(pn, header, Uint8Array.of(pn)));
    const p2 = [20].map((pn) => s2.seal(pn, header, Uint8Array.of(pn)));
    const r0 = recv, r1 = r0.next(), r2 = r1.next(); // derived early (a forged key-phase flip does this)
    expect(r0.open(0, header, p0[0])).toBeDefined();
    expect(r1.open(10, header, p1[0])).toBeDefined();
    expect(r0.open(1, header, p0[1])).toBeDefined(); // still in flight from generation 0: opens
    expect(r0.wiped).toBe(false);
    expect(r2.open(99, header, p2[0])).toBeUndefined(); // forged / wrong: no rotation, nothing wiped
    expect(r0.wiped).toBe(false);
    expect(r2.open(20, header, p2[0])).toBeDefined();
    expect(r0.wiped).toBe(true);
    expect([...keyBytes(r0)].every((b) => b === 0)).toBe(true);
    expect(r1.wiped).toBe(false);
    const tooOld = stats.tooOld;
    expect(r0.open(2, header, p0[2])).toBeUndefined();
    expect(stats.tooOld).toBe(tooOld + 1);
    expect(r1.open(11, header, p1[1])).toBeDefined();
  });

  it('destroy() (connection end) wipes a generation and every one derived from it; idempotent', () => {
    const { send, recv } = pair();
    const sealed = send.seal(0, header, new Uint8Array(3));
    const r1 = recv.next(), r2 = r1.next(); // derived, e.g. after a key-phase flip
    recv.destroy(); recv.destroy();
    expect([recv, r1, r2].every((k) => k.wiped)).toBe(true);
    expect([recv, r1, r2].every((k) => [...keyBytes(k)].every((b) => b === 0))).toBe(true);
    expect(recv.open(0, header, sealed)).toBeUndefined();
    expect(() => r2.next()).toThrow(/wiped/);
    const s1 = send.next();
    s1.destroy();
    expect(send.wiped).toBe(false); // only forward
    expect(() => s1.seal(1, header, new Uint8Array(1))).toThrow(/wiped/);
  });
});
