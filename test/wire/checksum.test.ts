// RFC 1071 checksum and RFC 1624 incremental update.
import { describe, it, expect } from 'vitest';
import { internetChecksum, onesComplementAdd, onesComplementSum, updateChecksum, updateChecksum32 } from '../../src/wire/checksum.ts';
import { hex, prng, randomBytes } from './fixtures.ts';

describe('internet checksum (RFC 1071)', () => {
  it('matches the RFC 1071 section 3 example', () => {
    // 00 01 f2 03 f4 f5 f6 f7 -> one's complement sum 0xddf2, checksum 0x220d
    const b = hex('0001f203f4f5f6f7');
    expect(onesComplementSum(b)).toBe(0xddf2);
    expect(internetChecksum(b)).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero and honours start/end/initial', () => {
    expect(onesComplementSum(hex('0102 03'))).toBe(0x0102 + 0x0300);
    const b = hex('ffff0001f203f4f5f6f7ffff');
    expect(internetChecksum(b, 2, 10)).toBe(0x220d);
    expect(internetChecksum(hex('f4f5f6f7'), 0, 4, onesComplementSum(hex('0001f203')))).toBe(0x220d);
  });

  it('agrees with a naive word-by-word reference for every length and offset 0..40', () => {
    const rand = prng(1071);
    for (let n = 0; n <= 40; n++) {
      for (let start = 0; start <= Math.min(n, 5); start++) {
        const b = randomBytes(rand, n);
        let ref = 0;
        for (let i = start; i < n; i += 2) ref = onesComplementAdd(ref, (b[i] << 8) | (i + 1 < n ? b[i + 1] : 0));
        expect(onesComplementSum(b, start, n), `n=${n} start=${start}`).toBe(ref);
      }
    }
  });

  it('onesComplementAdd wraps the carry around', () => {
    expect(onesComplementAdd(0xffff, 0x0001)).toBe(0x0001);
    expect(onesComplementAdd(0x8000, 0x8000)).toBe(0x0001);
    expect(onesComplementAdd(0x1234, 0x1111)).toBe(0x2345);
  });

  it('a buffer carrying its own checksum sums to zero', () => {
    const b = hex('450000730000400040110000c0a80001c0a800c7');
    const c = internetChecksum(b);
    expect(c).toBe(0xb861); // well-known example header
    b[10] = c >> 8;
    b[11] = c & 0xff;
    expect(internetChecksum(b)).toBe(0);
  });
});

describe('incremental update (RFC 1624) equals a full recompute', () => {
  it('for 20,000 random buffers and word / 32-bit changes', () => {
    const seed = 0x1624;
    const rand = prng(seed);
    for (let i = 0; i < 20_000; i++) {
      const n = 2 * (2 + ((rand() * 30) | 0));
      const b = randomBytes(rand, n);
      b[0] |= 0x40; // never all zero (like an IPv4 header): see RFC 1624 section 3
      const c0 = internetChecksum(b);
      const at = 2 * (1 + ((rand() * (n / 2 - 1)) | 0));
      if (rand() < 0.5 || at + 4 > n) {
        const oldWord = (b[at] << 8) | b[at + 1];
        const newWord = rand() < 0.1 ? [0, 0xffff][(rand() * 2) | 0] : (rand() * 0x10000) | 0;
        b[at] = newWord >> 8;
        b[at + 1] = newWord & 0xff;
        const inc = updateChecksum(c0, oldWord, newWord);
        if (inc !== internetChecksum(b)) throw new Error(`seed ${seed} iteration ${i}: incremental ${inc} != full ${internetChecksum(b)}`);
      } else {
        const oldV = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
        const newV = (rand() * 2 ** 32) >>> 0;
        b[at] = newV >>> 24;
        b[at + 1] = newV >>> 16;
        b[at + 2] = newV >>> 8;
        b[at + 3] = newV;
        const inc = updateChecksum32(c0, oldV, newV);
        if (inc !== internetChecksum(b)) throw new Error(`seed ${seed} iteration ${i}: incremental32 ${inc} != full ${internetChecksum(b)}`);
      }
    }
  });

  it('RFC 1624 section 4 example (0xDD2F, 0x5555 -> 0x3285)', () => {
    // HC = 0xDD2F, m = 0x5555, m' = 0x3285 -> HC' = 0x0000 per eqn. 3
    expect(updateChecksum(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
  });
});
