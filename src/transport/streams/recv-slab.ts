// Copies of the received bytes the transport keeps (stream and CRYPTO data), for datagrams that
// are only lent to it (TransportConfig.copyReceivedData: the native socket's receive arena is
// rewritten by its next recvmmsg). Contract: copy(data) returns a view holding data's bytes that
// shares no byte with any other copy and that nothing ever rewrites (carved in order from
// zero-filled ArrayBuffers that are never reused: the GC frees one once no view of it is left),
// so a reader may hand it to the application as its own; the rest of its ArrayBuffer holds only
// zeros or other received bytes of the same connection. Consecutive copies that fit in one slab
// are adjacent in memory, so in-order stream data read back piece by piece joins without another
// copy (adjacent()). Slabs start at 16 KiB and double up to 256 KiB while data keeps coming (a
// chat message kept by the application pins a small slab; a bulk flow gets few large ones);
// pieces of 16 KiB and more (PMTUD-sized packets) get an ArrayBuffer of exactly their size, not
// zero-filled since the copy overwrites all of it (a 64 KB memset per packet saved; the
// application takes such a piece alone anyway). Sans-IO.
const SLAB_MIN = 16 * 1024;
const SLAB_MAX = 256 * 1024;
const MAX_CARVED = 16 * 1024 - 1;

export class RecvSlab {
  private slab: ArrayBuffer | undefined;
  private used = 0;
  private size = SLAB_MIN / 2;

  /** A copy of `data` (see the contract above). */
  copy(data: Uint8Array): Uint8Array {
    const len = data.length;
    let out: Uint8Array;
    if (len > MAX_CARVED) out = new Uint8Array(Buffer.allocUnsafeSlow(len).buffer, 0, len);
    else {
      let slab = this.slab;
      if (slab === undefined || this.used + len > slab.byteLength) {
        this.size = Math.min(SLAB_MAX, this.size * 2);
        slab = this.slab = new ArrayBuffer(Math.max(this.size, len));
        this.used = 0;
      }
      out = new Uint8Array(slab, this.used, len);
      this.used += len;
    }
    out.set(data);
    return out;
  }
}

/** Whether `b` starts right where `a` ends, in the same ArrayBuffer (two adjacent copies). */
export function adjacent(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset + a.length === b.byteOffset;
}
