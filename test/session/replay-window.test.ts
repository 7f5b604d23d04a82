// The RFC 6479 anti-replay window, property-tested against a reference model
// (a Set of every accepted packet number): over 10,000 seeded runs of
// reordered, duplicated and far-jumping packet numbers, no pn is accepted
// twice, every pn inside the window that was not seen is accepted, and
// everything behind the window is refused.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ReplayWindow, REPLAY_WINDOW } from '../../src/session/replay-window.ts';

const SEED = 6479;

describe('ReplayWindow', () => {
  it('basics: new accepted once, duplicates refused, reordering inside the window accepted, too old refused', () => {
    const w = new ReplayWindow();
    const acc = (pn: number) => { const ok = w.check(pn); if (ok) w.commit(pn); return ok; };
    expect(acc(0)).toBe(true);
    expect(acc(0)).toBe(false);
    expect(acc(10)).toBe(true);
    expect(acc(5)).toBe(true);
    expect(acc(5)).toBe(false);
    expect(acc(10 + REPLAY_WINDOW)).toBe(true);
    expect(acc(11)).toBe(true); // exactly at the window's edge
    expect(acc(10)).toBe(false); // behind it
    expect(acc(-1)).toBe(false);
    expect(acc(2 ** 50)).toBe(true); // a far jump clears the bitmap
    expect(acc(2 ** 50 - 1)).toBe(true);
    expect(acc(2 ** 50 - 1)).toBe(false);
    expect(acc(1.5)).toBe(false);
  });

  it(`matches the reference model over 10,000 runs (seed ${SEED})`, () => {
    // a run: a sequence of pns built from a base, local reordering, duplicates and jumps
    const op = fc.oneof(
      { arbitrary: fc.integer({ min: -40, max: 40 }).map((d) => ({ kind: 'near' as const, d })), weight: 6 },
      { arbitrary: fc.integer({ min: 0, max: 3 * REPLAY_WINDOW }).map((d) => ({ kind: 'jump' as const, d })), weight: 1 },
      { arbitrary: fc.integer({ min: 0, max: REPLAY_WINDOW + 200 }).map((d) => ({ kind: 'back' as const, d })), weight: 2 },
      { arbitrary: fc.constant({ kind: 'dup' as const, d: 0 }), weight: 2 },
    );
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 200 }), (ops) => {
      const w = new ReplayWindow();
      const seen = new Set<number>();
      let top = -1, cursor = 0, last = 0;
      for (const o of ops) {
        let pn: number;
        switch (o.kind) {
          case 'near': pn = Math.max(0, cursor + o.d); cursor++; break;
          case 'jump': pn = cursor + o.d; cursor = pn + 1; break;
          case 'back': pn = top - o.d; break;
          case 'dup': pn = last; break;
        }
        if (pn < 0) continue;
        last = pn;
        const ok = w.check(pn);
        const expected = !seen.has(pn) && (pn > top || pn > top - REPLAY_WINDOW);
        if (ok !== expected) return false;
        if (ok) { w.commit(pn); seen.add(pn); top = Math.max(top, pn); }
      }
      return true;
    }), { numRuns: 10_000, seed: SEED });
  });

  it('random permutations of 100 pns (a block smaller than the window): every pn accepted exactly once (10,000 runs)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.shuffledSubarray([...Array(100).keys()], { minLength: 100, maxLength: 100 }), (base, perm) => {
      const w = new ReplayWindow();
      for (const i of perm) { const pn = base + i; if (!w.check(pn)) return false; w.commit(pn); }
      for (const i of perm) if (w.check(base + i)) return false;
      return true;
    }), { numRuns: 10_000, seed: SEED + 1 });
  });
});
