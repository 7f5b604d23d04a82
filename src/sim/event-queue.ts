// The simulator's event queue: a binary min-heap ordered by (time, insertion order).
// Contract: events at equal times run in the order they were scheduled (FIFO), so a
// run is a pure function of its inputs and seed. Events are (fn, arg) pairs stored in
// parallel arrays indexed by slot; the heap moves only int slot ids, and no object is
// allocated per event unless the caller asks for a cancellable handle.

export type EventFn = (arg: unknown) => void;

export class EventQueue {
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private gens = new Int32Array(1024);
  private fns: (EventFn | undefined)[] = new Array(1024).fill(undefined);
  private args: unknown[] = new Array(1024).fill(undefined);
  private heap = new Int32Array(1024);
  private free = new Int32Array(1024);
  private freeCount = 0;
  private slotCount = 0;
  private count = 0;
  private nextSeq = 0;

  get size(): number {
    return this.count;
  }

  /** Time of the earliest pending event, or Infinity when empty. */
  peekTime(): number {
    return this.count === 0 ? Infinity : this.times[this.heap[0]];
  }

  /** Schedule `fn(arg)` at `timeMs`. Returns the slot id (for `cancel` with `generation`). */
  push(timeMs: number, fn: EventFn, arg: unknown): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.free[--this.freeCount];
    else {
      if (this.slotCount === this.times.length) this.grow();
      slot = this.slotCount++;
    }
    this.times[slot] = timeMs;
    this.seqs[slot] = this.nextSeq++;
    this.fns[slot] = fn;
    this.args[slot] = arg;
    this.gens[slot] = (this.gens[slot] + 1) & 0x7fffffff;
    // sift up
    const heap = this.heap;
    const times = this.times;
    const seqs = this.seqs;
    const seq = seqs[slot];
    let i = this.count++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = heap[p];
      const pt = times[ps];
      if (pt < timeMs || (pt === timeMs && seqs[ps] < seq)) break;
      heap[i] = ps;
      i = p;
    }
    heap[i] = slot;
    return slot;
  }

  /** Generation of a slot, to detect reuse when cancelling. */
  generation(slot: number): number {
    return this.gens[slot];
  }

  /** Cancel a scheduled event if it is still pending (lazy: it is skipped when popped). */
  cancel(slot: number, generation: number): void {
    if (this.gens[slot] === generation && this.fns[slot] !== undefined) {
      this.fns[slot] = cancelled;
      this.args[slot] = undefined;
    }
  }

  /**
   * Pop the earliest event if its time is <= limitMs; returns its time,
   * or NaN when nothing is due. After a hit, `lastFn(lastArg)` is the event to run.
   */
  popDue(limitMs: number): number {
    if (this.count === 0) return NaN;
    const heap = this.heap;
    const top = heap[0];
    const t = this.times[top];
    if (t > limitMs) return NaN;
    this.removeTop();
    return t;
  }

  /** The fn/arg of the slot just popped by popDue (valid until the next push). */
  lastFn: EventFn | undefined = undefined;
  lastArg: unknown = undefined;

  private removeTop(): void {
    const heap = this.heap;
    const times = this.times;
    const seqs = this.seqs;
    const top = heap[0];
    this.lastFn = this.fns[top];
    this.lastArg = this.args[top];
    this.fns[top] = undefined;
    this.args[top] = undefined;
    this.gens[top] = (this.gens[top] + 1) & 0x7fffffff;
    this.free[this.freeCount++] = top;
    const n = --this.count;
    if (n === 0) return;
    const last = heap[n];
    const lt = times[last];
    const ls = seqs[last];
    let i = 0;
    const half = n >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      let cs = heap[c];
      let ct = times[cs];
      const r = c + 1;
      if (r < n) {
        const rs = heap[r];
        const rt = times[rs];
        if (rt < ct || (rt === ct && seqs[rs] < seqs[cs])) {
          c = r;
          cs = rs;
          ct = rt;
        }
      }
      if (lt < ct || (lt === ct && ls < seqs[cs])) break;
      heap[i] = cs;
      i = c;
    }
    heap[i] = last;
  }

  private grow(): void {
    const n = this.times.length * 2;
    const t = new Float64Array(n); t.set(this.times); this.times = t;
    const s = new Float64Array(n); s.set(this.seqs); this.seqs = s;
    const g = new Int32Array(n); g.set(this.gens); this.gens = g;
    const h = new Int32Array(n); h.set(this.heap); this.heap = h;
    const f = new Int32Array(n); f.set(this.free); this.free = f;
    for (let i = this.fns.length; i < n; i++) { this.fns.push(undefined); this.args.push(undefined); }
  }
}

function cancelled(): void {}
