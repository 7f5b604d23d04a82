// The simulator's event queue: a calendar queue ordered by (time, insertion order).
// Contract: events at equal times run in the order they were scheduled (FIFO), so a
// run is a pure function of its inputs and seed. Events are fn(arg, arg2) calls kept in
// slot arrays; nothing is allocated per event.
// Layout: time is cut into buckets of 1/128 ms; a ring of BUCKETS buckets covers the
// next ~32 ms after the cursor (the earliest pending bucket). Each bucket is a list of
// slots sorted by (time, seq) — events mostly arrive in time order, so a push is
// usually an append (an out-of-order push walks its bucket: thousands of events inside
// one 7.8 us bucket, pushed in reverse time order, would make pushes linear). Events further out wait in a binary min-heap (typed arrays,
// (time, seq) order) and move into the ring when the cursor comes within reach; when
// the ring is empty the heap's head is popped directly (long idle gaps cost nothing).
// A bitmap of non-empty buckets makes finding the next event a word scan.

export type EventFn = (arg: unknown, arg2?: unknown) => void;

const SHIFT = 7; // 2^7 buckets per ms
const SCALE = 1 << SHIFT;
const BUCKETS = 4096; // ring size (power of two): 32 ms
const MASK = BUCKETS - 1;
const WORDS = BUCKETS >>> 5;
/** Bucket numbers at or above this are not exact integers once cursor arithmetic is applied: heap only. */
const MAX_BUCKET = 2 ** 50;

export class EventQueue {
  // per-slot storage
  private sTime = new Float64Array(1024);
  private sSeq = new Float64Array(1024);
  private sNext = new Int32Array(1024);
  private gens = new Int32Array(1024);
  private fns: (EventFn | undefined)[] = new Array(1024).fill(undefined);
  private args: unknown[] = new Array(1024).fill(undefined);
  private args2: unknown[] = new Array(1024).fill(undefined);
  private free = new Int32Array(1024);
  private freeCount = 0;
  private slotCount = 0;
  private nextSeq = 0;
  // the ring: per bucket a sorted singly linked list (head/tail slot, -1 = empty)
  private readonly head = new Int32Array(BUCKETS).fill(-1);
  private readonly tail = new Int32Array(BUCKETS).fill(-1);
  private readonly bits = new Uint32Array(WORDS);
  /** Bucket number of the earliest ring bucket that may hold events; ring events lie in [cursor, cursor + BUCKETS). */
  private cursor = 0;
  private ringCount = 0;
  // the far heap, in heap order: (time, seq, slot)
  private hTime = new Float64Array(256);
  private hSeq = new Float64Array(256);
  private hSlot = new Int32Array(256);
  private heapCount = 0;

  /** The fn/arg/arg2 of the event just popped by popDue (valid until the next popDue). */
  lastFn: EventFn | undefined = undefined;
  lastArg: unknown = undefined;
  lastArg2: unknown = undefined;

  /** Pending events (cancelled ones count until they are popped). */
  get size(): number {
    return this.ringCount + this.heapCount;
  }

  /** Time of the earliest pending event, or Infinity when empty. */
  peekTime(): number {
    if (this.ringCount > 0) return this.sTime[this.head[this.advance()]];
    return this.heapCount === 0 ? Infinity : this.hTime[0];
  }

  /**
   * Schedule `fn(arg, arg2)` at `timeMs` (arg2 lets a shared function carry a target and a
   * value, e.g. (link direction, packet), without a closure). Returns the slot id (for
   * `cancel` with `generation`).
   */
  push(timeMs: number, fn: EventFn, arg: unknown, arg2?: unknown): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.free[--this.freeCount];
    else {
      if (this.slotCount === this.fns.length) this.growSlots();
      slot = this.slotCount++;
    }
    this.fns[slot] = fn;
    this.args[slot] = arg;
    this.args2[slot] = arg2;
    this.gens[slot] = (this.gens[slot] + 1) & 0x7fffffff;
    const seq = this.nextSeq++;
    this.sTime[slot] = timeMs;
    this.sSeq[slot] = seq;
    const b = Math.floor(timeMs * SCALE);
    const cursor = this.cursor;
    // `b < cursor` (a time before the cursor's bucket) joins the cursor's bucket: it sorts first there.
    if (b < cursor + BUCKETS) this.ringInsert(slot, b < cursor ? cursor : b, timeMs, seq);
    else this.heapPush(timeMs, seq, slot);
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
      this.args2[slot] = undefined;
    }
  }

  /**
   * Pop the earliest event if its time is <= limitMs; returns its time, or NaN when
   * nothing is due. After a hit, `lastFn(lastArg, lastArg2)` is the event to run.
   */
  popDue(limitMs: number): number {
    let slot: number;
    if (this.ringCount > 0) {
      let i = this.cursor & MASK;
      if ((this.bits[i >>> 5] & (1 << (i & 31))) === 0) i = this.advance();
      slot = this.head[i];
      const t = this.sTime[slot];
      if (t > limitMs) return NaN;
      const next = this.sNext[slot];
      this.head[i] = next;
      if (next < 0) {
        this.tail[i] = -1;
        this.bits[i >>> 5] &= ~(1 << (i & 31));
      }
      this.ringCount--;
    } else {
      if (this.heapCount === 0) return NaN;
      const t = this.hTime[0];
      if (t > limitMs) return NaN;
      slot = this.hSlot[0];
      this.heapPop();
      // Re-anchor the ring at this time, so what follows is scheduled in buckets again.
      const b = Math.floor(t * SCALE);
      if (b > this.cursor && b < MAX_BUCKET) {
        this.cursor = b;
        this.migrate();
      }
    }
    this.lastFn = this.fns[slot];
    this.lastArg = this.args[slot];
    this.lastArg2 = this.args2[slot];
    this.fns[slot] = undefined;
    this.args[slot] = undefined;
    this.args2[slot] = undefined;
    this.gens[slot] = (this.gens[slot] + 1) & 0x7fffffff;
    this.free[this.freeCount++] = slot;
    return this.sTime[slot];
  }

  /** Move the cursor to the first non-empty ring bucket (ring must be non-empty); returns its ring index. */
  private advance(): number {
    const bits = this.bits;
    const start = this.cursor & MASK;
    let w = start >>> 5;
    let word = bits[w] & (~0 << (start & 31));
    let steps = 0;
    while (word === 0) {
      w = (w + 1) & (WORDS - 1);
      word = bits[w];
      if (++steps > WORDS) throw new Error('event queue: ring count and bitmap disagree');
    }
    const i = (w << 5) | (31 - Math.clz32(word & -word));
    this.cursor += (i - start) & MASK;
    this.migrate();
    return i;
  }

  /** Move far-heap events that now fall inside the ring's window into their buckets. */
  private migrate(): void {
    const limit = (this.cursor + BUCKETS) / SCALE;
    while (this.heapCount > 0 && this.hTime[0] < limit) {
      const slot = this.hSlot[0];
      const t = this.hTime[0];
      const seq = this.hSeq[0];
      this.heapPop();
      const b = Math.floor(t * SCALE);
      this.ringInsert(slot, b < this.cursor ? this.cursor : b, t, seq);
    }
  }

  private ringInsert(slot: number, bucket: number, t: number, seq: number): void {
    const i = bucket & MASK;
    const tail = this.tail[i];
    this.ringCount++;
    if (tail < 0) {
      this.head[i] = slot;
      this.tail[i] = slot;
      this.sNext[slot] = -1;
      this.bits[i >>> 5] |= 1 << (i & 31);
      return;
    }
    const sTime = this.sTime;
    const tt = sTime[tail];
    if (tt < t || (tt === t && this.sSeq[tail] < seq)) {
      this.sNext[tail] = slot;
      this.sNext[slot] = -1;
      this.tail[i] = slot;
      return;
    }
    // Out of order within the bucket: walk from the head.
    const sSeq = this.sSeq;
    const sNext = this.sNext;
    let prev = -1;
    let cur = this.head[i];
    while (cur >= 0) {
      const ct = sTime[cur];
      if (t < ct || (t === ct && seq < sSeq[cur])) break;
      prev = cur;
      cur = sNext[cur];
    }
    sNext[slot] = cur;
    if (prev < 0) this.head[i] = slot;
    else sNext[prev] = slot;
  }

  private heapPush(timeMs: number, seq: number, slot: number): void {
    if (this.heapCount === this.hTime.length) this.growHeap();
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const hSlot = this.hSlot;
    let i = this.heapCount++;
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
  }

  /** Remove the heap's head. */
  private heapPop(): void {
    const n = --this.heapCount;
    if (n === 0) return;
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const hSlot = this.hSlot;
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
    const t = new Float64Array(n); t.set(this.sTime); this.sTime = t;
    const s = new Float64Array(n); s.set(this.sSeq); this.sSeq = s;
    const x = new Int32Array(n); x.set(this.sNext); this.sNext = x;
    for (let i = this.fns.length; i < n; i++) { this.fns.push(undefined); this.args.push(undefined); this.args2.push(undefined); }
  }
}

function cancelled(): void {}
