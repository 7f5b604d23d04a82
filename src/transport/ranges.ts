// A set of non-negative integers kept as sorted, disjoint, non-adjacent
// inclusive ranges. Used for received packet numbers (ACK ranges) and for
// stream byte ranges (acked / to-retransmit). `maxRanges` bounds memory: when
// exceeded the lowest ranges are dropped and everything below `floor` counts
// as present (callers treat such numbers as already seen).
export interface Range { lo: number; hi: number }

export class RangeSet {
  /** ascending by lo */
  readonly ranges: Range[] = [];
  floor = 0;
  constructor(readonly maxRanges = Infinity) {}

  get isEmpty(): boolean { return this.ranges.length === 0; }
  get max(): number | undefined { return this.ranges.length ? this.ranges[this.ranges.length - 1].hi : undefined; }
  get min(): number | undefined { return this.ranges.length ? this.ranges[0].lo : undefined; }

  has(v: number): boolean {
    if (v < this.floor) return true;
    const n = this.ranges.length;
    if (n === 0 || v > this.ranges[n - 1].hi) return false; // beyond everything (the next packet number)
    const i = this.indexAtOrBefore(v);
    return i >= 0 && this.ranges[i].hi >= v;
  }

  /** Index of the last range with lo <= v, or -1. */
  private indexAtOrBefore(v: number): number {
    let lo = 0, hi = this.ranges.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.ranges[mid].lo <= v) { ans = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return ans;
  }

  /** Insert [lo, hi]; returns true if any value was new. */
  add(lo: number, hi: number = lo): boolean {
    if (hi < lo) return false;
    if (hi < this.floor) return false;
    lo = Math.max(lo, this.floor);
    const rs = this.ranges;
    // fast path: append at the end
    const last = rs[rs.length - 1];
    if (!last || lo > last.hi + 1) { rs.push({ lo, hi }); this.trim(); return true; }
    if (lo >= last.lo && lo <= last.hi + 1) {
      if (hi <= last.hi) return false;
      last.hi = hi; return true;
    }
    let i = this.indexAtOrBefore(lo);
    if (i >= 0 && rs[i].hi + 1 < lo) i++;
    if (i < 0) i = 0;
    // i = first range that may merge
    let j = i, newLo = lo, newHi = hi, covered = 0;
    while (j < rs.length && rs[j].lo <= hi + 1) {
      newLo = Math.min(newLo, rs[j].lo); newHi = Math.max(newHi, rs[j].hi);
      covered += Math.min(rs[j].hi, hi) - Math.max(rs[j].lo, lo) + 1;
      j++;
    }
    const isNew = covered < hi - lo + 1;
    rs.splice(i, j - i, { lo: newLo, hi: newHi });
    this.trim();
    return isNew;
  }

  /** Remove [lo, hi]. */
  remove(lo: number, hi: number): void {
    const rs = this.ranges;
    if (rs.length === 0 || hi < rs[0].lo || lo > rs[rs.length - 1].hi) return; // nothing to remove
    const out: Range[] = [];
    let i = this.indexAtOrBefore(lo);
    if (i < 0) i = 0;
    let j = i;
    while (j < rs.length && rs[j].lo <= hi) {
      const r = rs[j];
      if (r.hi < lo) { out.push(r); j++; continue; }
      if (r.lo < lo) out.push({ lo: r.lo, hi: lo - 1 });
      if (r.hi > hi) out.push({ lo: hi + 1, hi: r.hi });
      j++;
    }
    rs.splice(i, j - i, ...out);
  }

  /** Remove and return the lowest range, at most `maxLen` long. */
  shift(maxLen: number): Range | undefined {
    const r = this.ranges[0];
    if (!r) return undefined;
    if (r.hi - r.lo + 1 <= maxLen) { this.ranges.shift(); return r; }
    const out = { lo: r.lo, hi: r.lo + maxLen - 1 };
    r.lo += maxLen;
    return out;
  }

  private trim(): void {
    while (this.ranges.length > this.maxRanges) {
      const r = this.ranges.shift()!;
      this.floor = r.hi + 1;
    }
  }
}
