// Injected randomness: every random choice (connection IDs, path challenges)
// comes from a `Random`. `seededRandom(seed)` is deterministic (sfc32); the
// real driver supplies one seeded from crypto.randomBytes.
export interface Random {
  /** 32 random bits as an unsigned integer. */
  nextU32(): number;
  /** Fill `out` with random bytes and return it. */
  fill(out: Uint8Array): Uint8Array;
}

export function seededRandom(seed: number): Random {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return r >>> 0;
  };
  for (let i = 0; i < 15; i++) next();
  return {
    nextU32: next,
    fill(out) {
      for (let i = 0; i < out.length; i += 4) {
        const v = next();
        for (let j = 0; j < 4 && i + j < out.length; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
      }
      return out;
    },
  };
}
