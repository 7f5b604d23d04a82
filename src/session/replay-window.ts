// Anti-replay sliding window (RFC 6479): a ring of 32-bit blocks holding one
// bit per packet number at or below the largest accepted one. A packet number
// is acceptable when it is above the largest seen, or inside the window and
// not yet marked. `check` before decrypting (cheap reject), `commit` only after
// the packet authenticated, so forgeries cannot move the window.
// WINDOW = (BLOCKS - 1) * 32 = 4064 packet numbers behind the largest.
const BLOCK_BITS = 32;
const BLOCKS = 128; // power of two
export const REPLAY_WINDOW = (BLOCKS - 1) * BLOCK_BITS;

export class ReplayWindow {
  private readonly bitmap = new Uint32Array(BLOCKS);
  /** Largest packet number accepted so far (-1: none). */
  top = -1;

  /** True if `pn` may be delivered (new, and not too old). */
  check(pn: number): boolean {
    if (!Number.isSafeInteger(pn) || pn < 0) return false;
    if (pn > this.top) return true;
    if (pn <= this.top - REPLAY_WINDOW) return false;
    const block = Math.floor(pn / BLOCK_BITS) % BLOCKS;
    return (this.bitmap[block] & (1 << (pn % BLOCK_BITS))) === 0;
  }

  /** Mark `pn` as received (call after `check(pn)` and successful authentication). */
  commit(pn: number): void {
    if (pn > this.top) {
      const cur = Math.floor(this.top / BLOCK_BITS);
      const idx = Math.floor(pn / BLOCK_BITS);
      const diff = Math.min(idx - cur, BLOCKS);
      for (let i = 1; i <= diff; i++) this.bitmap[(cur + i) % BLOCKS] = 0;
      this.top = pn;
    }
    const block = Math.floor(pn / BLOCK_BITS) % BLOCKS;
    this.bitmap[block] |= 1 << (pn % BLOCK_BITS);
  }
}
