// Seeded pseudo-random numbers for the simulator (sfc32, 32-bit state words).
// Contract: the same seed yields the same sequence on every platform; `fork(label)`
// derives an independent stream deterministically, so adding a link does not
// shift the numbers another link sees. Never use Math.random in src/sim.

export interface Rng {
  /** Next 32-bit unsigned integer. */
  next(): number;
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n) for 1 <= n <= 2^32. */
  int(n: number): number;
  /** An independent generator derived from this one's seed and `label`. */
  fork(label: string | number): Rng;
}

/** 32-bit string/number hash (FNV-1a then avalanche), used to derive seeds. */
export function hashSeed(seed: number, label: string | number): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  const s = String(label);
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private readonly seed: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
    this.seed = seed >>> 0;
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = this.seed;
    for (let i = 0; i < 15; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  float(): number {
    return this.next() / 4294967296;
  }

  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296)) throw new RangeError(`rng.int(n) needs 1 <= n <= 2^32, got ${n}`);
    return Math.floor(this.float() * n);
  }

  fork(label: string | number): Rng {
    return new Sfc32(hashSeed(this.seed, label));
  }
}

export function createRng(seed: number): Rng {
  return new Sfc32(seed);
}
