// Seeded RNG: reproducible, forks independent, int() in range and roughly uniform.
import { describe, it, expect } from 'vitest';
import { createRng } from '../../src/sim/rng.ts';

describe('rng (sfc32)', () => {
  it('is reproducible per seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(sa);
    for (const v of sa) expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
  });

  it('fork(label) is deterministic and independent of the parent position', () => {
    const a = createRng(1);
    const f1 = a.fork('link:x');
    a.next();
    a.next();
    const f2 = a.fork('link:x');
    expect(f1.next()).toBe(f2.next());
    expect(createRng(1).fork('link:y').next()).not.toBe(createRng(1).fork('link:x').next());
  });

  it('int(n) stays in [0, n) and float() in [0, 1), roughly uniform', () => {
    const r = createRng(9);
    const buckets = new Array(10).fill(0);
    let outOfRange = 0;
    for (let i = 0; i < 100_000; i++) {
      const v = r.int(10);
      if (!(v >= 0 && v < 10 && Number.isInteger(v))) outOfRange++;
      else buckets[v]++;
    }
    expect(outOfRange).toBe(0);
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(600);
    let badFloats = 0;
    for (let i = 0; i < 1000; i++) {
      const f = r.float();
      if (!(f >= 0 && f < 1)) badFloats++;
    }
    expect(badFloats).toBe(0);
    expect(() => r.int(0)).toThrow(RangeError);
  });
});
