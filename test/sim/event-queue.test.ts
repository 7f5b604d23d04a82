// EventQueue: (time, insertion) order, cancellation, growth; checked against a sort.
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
});
