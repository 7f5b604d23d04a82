// Outgoing byte stream with retransmission bookkeeping (used by streams and by
// the CRYPTO stream). Bytes are kept until acknowledged; lost ranges are
// re-sent before new data. Offsets are absolute stream offsets.
import { RangeSet } from '../ranges.ts';

interface Chunk { offset: number; data: Uint8Array }

export class SendBuffer {
  private chunks: Chunk[] = [];
  private head = 0;
  /** Total bytes queued by the application. */
  written = 0;
  /** Next offset never sent before. */
  nextNew = 0;
  /** Every byte below this offset is acknowledged. */
  ackedPrefix = 0;
  private readonly retransmit = new RangeSet();
  private readonly acked = new RangeSet();

  write(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push({ offset: this.written, data });
    this.written += data.length;
  }

  /** Bytes queued and not yet acknowledged. */
  get unacked(): number { return this.written - this.ackedPrefix; }
  hasRetransmit(): boolean { return !this.retransmit.isEmpty; }
  /** Anything to send, given that new data may not go beyond `limit`. */
  hasPending(limit = Infinity): boolean {
    return !this.retransmit.isEmpty || this.nextNew < Math.min(this.written, limit);
  }

  /**
   * Next range to send (lost data first), at most maxLen bytes; new data stops at `limit`.
   * A range never crosses the end of a written chunk: its data is a view of that chunk,
   * never a copy (the caller puts the rest in another frame; for 64 KB PMTUD packets over
   * 256 KB application writes, a copy per packet that crossed a chunk cost ~18 us).
   */
  next(maxLen: number, limit = Infinity): { offset: number; data: Uint8Array; isNew: boolean } | undefined {
    if (maxLen <= 0) return undefined;
    const first = this.retransmit.ranges[0];
    if (first) {
      const r = this.retransmit.shift(Math.min(maxLen, this.chunkEnd(first.lo) - first.lo))!;
      return { offset: r.lo, data: this.read(r.lo, r.hi - r.lo + 1), isNew: false };
    }
    if (this.nextNew >= this.written) return undefined;
    const end = Math.min(this.written, limit, this.nextNew + maxLen, this.chunkEnd(this.nextNew));
    if (end <= this.nextNew) return undefined;
    const offset = this.nextNew;
    this.nextNew = end;
    return { offset, data: this.read(offset, end - offset), isNew: true };
  }

  /** Index of the chunk holding `offset` (which must be written and not yet released). */
  private chunkAt(offset: number): number {
    let lo = this.head, hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid].offset <= offset) lo = mid; else hi = mid - 1;
    }
    return lo;
  }
  /** End offset (exclusive) of the chunk holding `offset`. */
  private chunkEnd(offset: number): number {
    const c = this.chunks[this.chunkAt(offset)];
    return c.offset + c.data.length;
  }

  onAck(offset: number, len: number): void {
    if (len === 0) return;
    const end = offset + len;
    const rs = this.acked.ranges;
    if (offset <= this.ackedPrefix && this.retransmit.isEmpty && (rs.length === 0 || (rs.length === 1 && rs[0].lo === 0 && rs[0].hi + 1 === this.ackedPrefix))) {
      // in-order acknowledgement with nothing else acked or lost (the bulk case): the acked prefix just grows
      if (end > this.ackedPrefix) {
        this.ackedPrefix = end;
        if (rs.length === 1) rs[0].hi = end - 1; else this.acked.add(0, end - 1);
        this.release();
      }
      return;
    }
    this.acked.add(offset, end - 1);
    this.retransmit.remove(offset, offset + len - 1);
    const first = this.acked.ranges[0];
    if (first && first.lo <= this.ackedPrefix && first.hi + 1 > this.ackedPrefix) {
      this.ackedPrefix = first.hi + 1;
      this.acked.remove(0, this.ackedPrefix - 1);
      this.acked.add(0, this.ackedPrefix - 1); // keep one merged range at the front
      this.release();
    }
  }

  onLost(offset: number, len: number): void {
    if (len === 0) return;
    const lo = Math.max(offset, this.ackedPrefix), hi = offset + len - 1;
    if (hi < lo) return;
    this.retransmit.add(lo, hi);
    for (const a of this.acked.ranges) {
      if (a.lo > hi) break;
      if (a.hi >= lo) this.retransmit.remove(a.lo, a.hi);
    }
  }

  /** Mark every sent, unacknowledged byte for retransmission (PTO probes of handshake data). */
  requeueUnacked(): void {
    if (this.nextNew > this.ackedPrefix) this.onLost(this.ackedPrefix, this.nextNew - this.ackedPrefix);
  }

  /** Drop everything (stream reset). */
  clear(): void {
    this.chunks = []; this.head = 0;
    this.retransmit.remove(0, Number.MAX_SAFE_INTEGER);
    this.ackedPrefix = this.nextNew = this.written;
  }

  private release(): void {
    while (this.head < this.chunks.length) {
      const c = this.chunks[this.head];
      if (c.offset + c.data.length > this.ackedPrefix) break;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) { this.chunks = this.chunks.slice(this.head); this.head = 0; }
  }

  private read(offset: number, len: number): Uint8Array {
    const lo = this.chunkAt(offset);
    const c = this.chunks[lo];
    const start = offset - c.offset;
    if (start + len <= c.data.length) return c.data.subarray(start, start + len);
    const out = new Uint8Array(len);
    let filled = 0, i = lo, pos = start;
    while (filled < len) {
      const d = this.chunks[i].data;
      const n = Math.min(d.length - pos, len - filled);
      out.set(d.subarray(pos, pos + n), filled);
      filled += n; i++; pos = 0;
    }
    return out;
  }
}
