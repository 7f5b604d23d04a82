// Incoming byte stream reassembly: accepts out-of-order, overlapping and
// duplicate ranges; yields contiguous bytes from `readOffset`. Memory is
// bounded by the caller's flow-control limit (it rejects data beyond it first).
// Without a slab it keeps views of the inserted data (the caller must not change
// those bytes); with one (`new RecvBuffer(slab)`, for datagrams only lent to the
// transport) it copies exactly the bytes it keeps — duplicates and data below
// `readOffset` are never copied — before insert() returns.
import type { RecvSlab } from './recv-slab.ts';

interface Chunk { offset: number; data: Uint8Array }

export class RecvBuffer {
  /** Where kept bytes are copied (undefined: views kept); replaceable — what is already stored stays where it is. */
  constructor(public slab?: RecvSlab) {}

  /** sorted by offset, non-overlapping, all >= readOffset */
  private chunks: Chunk[] = [];
  readOffset = 0;
  /** Highest offset + 1 ever received. */
  highest = 0;
  buffered = 0;

  /** Insert data; returns the increase of `highest`. */
  insert(offset: number, data: Uint8Array): number {
    const end = offset + data.length;
    const grew = Math.max(0, end - this.highest);
    this.highest = Math.max(this.highest, end);
    if (end <= this.readOffset || data.length === 0) return grew;
    if (offset < this.readOffset) { data = data.subarray(this.readOffset - offset); offset = this.readOffset; }
    const cs = this.chunks;
    const last = cs[cs.length - 1];
    if (!last || offset >= last.offset + last.data.length) { cs.push({ offset, data: this.slab ? this.slab.copy(data) : data }); this.buffered += data.length; return grew; }
    // general case: fill the gaps between existing chunks
    const pieces: Chunk[] = [];
    let cur = offset;
    const stop = offset + data.length;
    for (const c of cs) {
      if (cur >= stop) break;
      const cEnd = c.offset + c.data.length;
      if (cEnd <= cur) continue;
      if (c.offset > cur) {
        const e = Math.min(c.offset, stop);
        pieces.push({ offset: cur, data: this.keep(data.subarray(cur - offset, e - offset)) });
      }
      cur = Math.max(cur, cEnd);
    }
    if (cur < stop) pieces.push({ offset: cur, data: this.keep(data.subarray(cur - offset)) });
    for (const p of pieces) this.buffered += p.data.length;
    if (pieces.length) { cs.push(...pieces); cs.sort((a, b) => a.offset - b.offset); }
    return grew;
  }

  private keep(data: Uint8Array): Uint8Array { return this.slab ? this.slab.copy(data) : data; }

  /** Contiguous bytes available at readOffset. */
  readable(): boolean { return this.chunks.length > 0 && this.chunks[0].offset === this.readOffset; }

  /** Take up to `max` contiguous bytes (zero-copy when a chunk allows). */
  read(max = Infinity): Uint8Array | undefined {
    const c = this.chunks[0];
    if (!c || c.offset !== this.readOffset) return undefined;
    let out: Uint8Array;
    if (c.data.length <= max) { out = c.data; this.chunks.shift(); }
    else { out = c.data.subarray(0, max); c.data = c.data.subarray(max); c.offset += max; }
    this.readOffset += out.length;
    this.buffered -= out.length;
    return out;
  }
}
