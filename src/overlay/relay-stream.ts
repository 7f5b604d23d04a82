// Relay messages over a byte stream (TCP), for devices whose UDP is blocked
// (docs/protocol/relay.md, "Over TCP"): each relay message is prefixed with its length
// as a 16-bit big-endian integer; the messages themselves are the UDP ones, unchanged.
// Pure: `encodeFrame` frames one message; `FrameDecoder.push(chunk)` returns the
// complete messages so far and keeps the rest. A zero length is malformed: the decoder
// throws RelayStreamError and the connection must be closed.
export class RelayStreamError extends Error {
  override readonly name = 'RelayStreamError';
}

export const MAX_FRAME = 0xffff;

export function encodeFrame(message: Uint8Array): Uint8Array {
  if (message.length === 0 || message.length > MAX_FRAME) throw new RangeError(`relay frame of ${message.length} bytes (1..${MAX_FRAME})`);
  const out = new Uint8Array(2 + message.length);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

export class FrameDecoder {
  private buf = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    const all = new Uint8Array(this.buf.length + chunk.length);
    all.set(this.buf);
    all.set(chunk, this.buf.length);
    const out: Uint8Array[] = [];
    let off = 0;
    while (all.length - off >= 2) {
      const len = (all[off] << 8) | all[off + 1];
      if (len === 0) throw new RelayStreamError('relay frame of length 0');
      if (all.length - off - 2 < len) break;
      out.push(all.slice(off + 2, off + 2 + len));
      off += 2 + len;
    }
    this.buf = all.slice(off);
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buf.length;
  }
}
