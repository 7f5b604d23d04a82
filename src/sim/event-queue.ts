// The simulator's event queue: a binary min-heap ordered by (time, insertion order).
// Contract: events at equal times run in the order they were scheduled (FIFO), so a
// run is a pure function of its inputs and seed. Events are (fn, arg) pairs stored in
// slot arrays; the heap keeps (time, seq, slot) in parallel typed arrays in heap order
// (no pointer chasing while sifting), and nothing is allocated per event.

export type EventFn = (arg: unknown) => void;

export class EventQueue {
  // heap order
  private hTime = new Float64Array(1024);
  private hSeq = new Float64Array(1024);
  private hSlot = new Int32Array(1024);
  // slot storage
  private gens = new Int32Array(1024);
  private fns: (EventFn | undefined)[] = new Array(1024).fill(undefined);
  private args: unknown[] = new Array(1024).fill(undefined);
  private free = new Int32Array(1024);
  private freeCount = 0;
  private slotCount = 0;
  private count = 0;
  private nextSeq = 0;

  /** The fn/arg of the event just popped by popDue (valid until the next popDue). */
  lastFn: EventFn | undefined = undefined;
  lastArg: unknown = undefined;

  /** Pending events (cancelled ones count until they are popped). */
  get size(): number {
    return this.count;
  }

  /** Time of the earliest pending event, or Infinity when empty. */
  peekTime(): number {
    return this.count === 0 ? Infinity : this.hTime[0];
  }

  /** Schedule `fn(arg)` at `timeMs`. Returns the slot id (for `cancel` with `generation`). */
  push(timeMs: number, fn: EventFn, arg: unknown): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.free[--this.freeCount];
    else {
      if (this.slotCount === this.fns.length) this.growSlots();
      slot = this.slotCount++;
    }
    this.fns[slot] = fn;
    this.args[slot] = arg;
    this.gens[slot] = (this.gens[slot] + 1) & 0x7fffffff;
    if (this.count === this.hTime.length) this.growHeap();
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const hSlot = this.hSlot;
    const seq = this.nextSeq++;
    let i = this.count++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = hTime[p];
      if (pt < timeMs || (pt === timeMs && hSeq[p] < seq)) break;
      hTime[i] = pt;
      hSeq[i] = hSeq[p];
      hSlot[i] = hSlot[p];
      i = p;
    }
    hTime[i] = timeMs;
    hSeq[i] = seq;
    hSlot[i] = slot;
    return slot;
  }

  /** Generation of a slot, to detect reuse when cancelling. */
  generation(slot: number): number {
    return this.gens[slot];
  }

  /** Cancel a scheduled event if it is still pending (lazy: it becomes a no-op when popped). */
  cancel(slot: number, generation: number): void {
    if (this.gens[slot] === generation && this.fns[slot] !== undefined) {
      this.fns[slot] = cancelled;
      this.args[slot] = undefined;
    }
  }

  /**
   * Pop the earliest event if its time is <= limitMs; returns its time, or NaN when
   * nothing is due. After a hit, `lastFn(lastArg)` is the event to run.
   */
  popDue(limitMs: number): number {
    if (this.count === 0) return NaN;
    const hTime = this.hTime;
    const t = hTime[0];
    if (t > limitMs) return NaN;
    const hSeq = this.hSeq;
    const hSlot = this.hSlot;
    const top = hSlot[0];
    this.lastFn = this.fns[top];
    this.lastArg = this.args[top];
    this.fns[top] = undefined;
    this.args[top] = undefined;
    this.gens[top] = (this.gens[top] + 1) & 0x7fffffff;
    this.free[this.freeCount++] = top;
    const n = --this.count;
    if (n === 0) return t;
    const lt = hTime[n];
    const ls = hSeq[n];
    const lslot = hSlot[n];
    let i = 0;
    const half = n >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      let ct = hTime[c];
      const r = c + 1;
      if (r < n) {
        const rt = hTime[r];
        if (rt < ct || (rt === ct && hSeq[r] < hSeq[c])) {
          c = r;
          ct = rt;
        }
      }
      if (lt < ct || (lt === ct && ls < hSeq[c])) break;
      hTime[i] = ct;
      hSeq[i] = hSeq[c];
      hSlot[i] = hSlot[c];
      i = c;
    }
    hTime[i] = lt;
    hSeq[i] = ls;
    hSlot[i] = lslot;
    return t;
  }

  private growHeap(): void {
    const n = this.hTime.length * 2;
    const t = new Float64Array(n); t.set(this.hTime); this.hTime = t;
    const s = new Float64Array(n); s.set(this.hSeq); this.hSeq = s;
    const h = new Int32Array(n); h.set(this.hSlot); this.hSlot = h;
  }

  private growSlots(): void {
    const n = this.fns.length * 2;
    const g = new Int32Array(n); g.set(this.gens); this.gens = g;
    const f = new Int32Array(n); f.set(this.free); this.free = f;
    for (let i = this.fns.length; i < n; i++) { this.fns.push(undefined); this.args.push(undefined); }
  }
}

function cancelled(): void {}
