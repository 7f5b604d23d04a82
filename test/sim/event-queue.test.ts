// EventQueue: (time, insertion) order, cancellation, growth; checked against a sort and
// against a reference queue under interleaved pushes/pops at every time scale (the
// calendar ring, the far heap, jumps over idle gaps, times before the cursor).
import { describe, it, expect } from 'vitest';
import { EventQueue } from '../../src/sim/event-queue.ts';
import { createRng } from '../../src/sim/rng.ts';

function drain(q: EventQueue, limit = Infinity): unknown[] {
  const out: unknown[] = [];
  while (true) {
    const t = q.popDue(limit);
    if (Number.isNaN(t)) break;
    q.lastFn!(q.lastArg);
    out.push(q.lastArg);
  }
  return out;
}

describe('EventQueue', () => {
  it('runs events by time, then by insertion order at equal times', () => {
    const q = new EventQueue();
    const ran: string[] = [];
    const fn = (a: unknown) => ran.push(a as string);
    q.push(5, fn, 'c');
    q.push(1, fn, 'a');
    q.push(5, fn, 'd');
    q.push(1, fn, 'b');
    q.push(3, fn, 'x');
    drain(q);
    expect(ran).toEqual(['a', 'b', 'x', 'c', 'd']);
  });

  it('matches a stable sort for 20,000 random events (seed 7) and grows past its initial size', () => {
    const seed = 7;
    const rng = createRng(seed);
    const q = new EventQueue();
    const expected: { t: number; i: number }[] = [];
    const ran: number[] = [];
    const fn = (a: unknown) => ran.push(a as number);
    for (let i = 0; i < 20_000; i++) {
      const t = rng.int(500);
      expected.push({ t, i });
      q.push(t, fn, i);
    }
    expected.sort((x, y) => x.t - y.t || x.i - y.i);
    drain(q);
    expect(ran, `seed ${seed}`).toEqual(expected.map((e) => e.i));
    expect(q.size).toBe(0);
  });

  it('respects the time limit and keeps later events', () => {
    const q = new EventQueue();
    const fn = () => {};
    q.push(10, fn, 1);
    q.push(20, fn, 2);
    expect(drain(q, 15)).toEqual([1]);
    expect(q.peekTime()).toBe(20);
    expect(q.size).toBe(1);
  });

  it('cancels a pending event, and a stale handle does not cancel a reused slot', () => {
    const q = new EventQueue();
    const ran: number[] = [];
    const fn = (a: unknown) => ran.push(a as number);
    const s1 = q.push(1, fn, 1);
    const g1 = q.generation(s1);
    q.cancel(s1, g1);
    drain(q);
    expect(ran).toEqual([]);
    const s2 = q.push(2, fn, 2); // reuses the freed slot
    expect(s2).toBe(s1);
    q.cancel(s1, g1); // stale
    drain(q);
    expect(ran).toEqual([2]);
  });

  it('matches a reference queue under interleaved push/pop/cancel across time scales (seeds 1..6)', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rng = createRng(seed);
      const q = new EventQueue();
      const ref: { t: number; id: number; live: boolean }[] = []; // reference: pending events sorted by (time, push order)
      const handles: { slot: number; gen: number; entry: (typeof ref)[number] }[] = [];
      const fn = () => {};
      let now = 0;
      const got: number[] = [];
      const want: number[] = [];
      const scales = [0.001, 0.05, 1, 30, 700, 40_000, 5e6];
      for (let step = 0; step < 30_000; step++) {
        const r = rng.float();
        if (r < 0.55) {
          const scale = scales[rng.int(scales.length)];
          // mostly ahead of now; sometimes at now, sometimes in the past (allowed for a bare queue)
          const k = rng.float();
          const t = k < 0.1 ? now : k < 0.13 ? now - rng.float() * scale : k < 0.2 ? Math.round(now + rng.float() * scale) : now + rng.float() * scale;
          const entry = { t, id: step, live: true };
          let lo = 0;
          let hi = ref.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (ref[mid].t <= t) lo = mid + 1; // equal times: after earlier pushes
            else hi = mid;
          }
          ref.splice(lo, 0, entry);
          const slot = q.push(t, fn, step);
          handles.push({ slot, gen: q.generation(slot), entry });
        } else if (r < 0.6 && handles.length > 0) {
          const h = handles[rng.int(handles.length)];
          q.cancel(h.slot, h.gen);
          h.entry.live = false;
        } else {
          // pop everything due up to a limit a little ahead of now
          const limit = now + rng.float() * scales[rng.int(4)];
          while (true) {
            const t = q.popDue(limit);
            if (ref.length === 0 || ref[0].t > limit) {
              if (!Number.isNaN(t)) expect.fail(`seed ${seed} step ${step}: popped t=${t}, nothing was due`);
              break;
            }
            const e = ref.shift()!;
            if (t !== e.t) expect.fail(`seed ${seed} step ${step}: popped t=${t}, want ${e.t}`);
            if ((q.lastFn === fn) !== e.live) expect.fail(`seed ${seed} step ${step}: event ${e.id} live=${e.live} but ran=${q.lastFn === fn}`);
            if (e.live) {
              got.push(q.lastArg as number);
              want.push(e.id);
            }
            if (e.t > now) now = e.t;
          }
          if (limit > now) now = limit;
          const peek = ref.length > 0 ? ref[0].t : Infinity;
          if (q.peekTime() !== peek || q.size !== ref.length) expect.fail(`seed ${seed} step ${step}: peek ${q.peekTime()} size ${q.size}, want ${peek} ${ref.length}`);
        }
      }
      expect(got, `seed ${seed}`).toEqual(want);
    }
  });
});

