// Received stream bytes whose reader hands every view back (Connection.release): the memory of a
// stream read with TransportStream.readRecycled, so a bulk receiver allocates nothing per packet.
// Contract: copy(data) as RecvSlab.copy — a view of exactly data's bytes, sharing none with another
// live copy — except that the 256 KiB chunk holding it is reused once every byte carved from it was
// released and it is no longer the chunk being carved: a view must not be used after release(view).
// At most 8 chunks are kept for reuse (the rest left to the GC); a piece larger than a chunk gets a
// buffer of its own (RecvSlab.copy, never reused; release ignores it). Views not from this slab are
// ignored by release. Sans-IO.
import { RecvSlab } from './recv-slab.ts';

const CHUNK = 256 * 1024;
const KEEP = 8;

interface Chunk { readonly buf: ArrayBuffer; used: number; released: number; retired: boolean }

export class RecyclingSlab extends RecvSlab {
  private readonly chunks = new Map<ArrayBuffer, Chunk>();
  private cur: Chunk | undefined;
  private readonly free: Chunk[] = [];
  /** Chunks ever allocated (tests). */
  allocated = 0;

  override copy(data: Uint8Array): Uint8Array {
    const len = data.length;
    if (len > CHUNK) return super.copy(data);
    let c = this.cur;
    if (c === undefined || c.used + len > CHUNK) {
      if (c !== undefined) { c.retired = true; if (c.released >= c.used) this.recycle(c); }
      c = this.cur = this.free.pop() ?? this.newChunk();
    }
    const out = new Uint8Array(c.buf, c.used, len);
    c.used += len;
    out.set(data);
    return out;
  }

  /** The reader is done with `view` (a copy from this slab, or part of one). */
  release(view: Uint8Array): void {
    const c = this.chunks.get(view.buffer as ArrayBuffer);
    if (c === undefined) return;
    c.released += view.length;
    if (c.retired && c.released >= c.used) this.recycle(c);
  }

  private recycle(c: Chunk): void {
    c.used = 0; c.released = 0; c.retired = false;
    if (this.free.length < KEEP) this.free.push(c);
    else this.chunks.delete(c.buf);
  }

  private newChunk(): Chunk {
    const c: Chunk = { buf: new ArrayBuffer(CHUNK), used: 0, released: 0, retired: false };
    this.chunks.set(c.buf, c);
    this.allocated++;
    return c;
  }
}
