// Chat frames (docs/protocol/chat.md): pure codec, no I/O.
// A frame is u32 length (of what follows) + u8 type + body. Types:
//   HELLO 0x01  u8 version (1) + u32 delivered   (acceptor -> opener, first frame)
//   MSG   0x02  u32 seq + 16-byte id + u64 sentAt (unix ms) + UTF-8 text (opener -> acceptor)
//   ACK   0x03  u32 delivered                     (acceptor -> opener)
// `decodeFrame` throws only ChatDecodeError; `FrameReader` accumulates stream bytes and
// yields whole frames, rejecting a length above MAX_FRAME before buffering it.
export const CHAT_PROTOCOL = 'tincan-chat/1';
export const CHAT_VERSION = 1;
/** Largest text of one message, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 4096;
export const ID_BYTES = 16;
const MSG_FIXED = 1 + 4 + ID_BYTES + 8;
/** Largest frame body (type byte included) a decoder accepts. */
export const MAX_FRAME = MSG_FIXED + MAX_TEXT_BYTES;
export const MAX_SEQ = 0xffffffff;

export const FrameType = { hello: 0x01, msg: 0x02, ack: 0x03 } as const;

export type ChatFrame =
  | { type: 'hello'; version: number; delivered: number }
  | { type: 'msg'; seq: number; id: Uint8Array; sentAt: number; text: string }
  | { type: 'ack'; delivered: number };

export type ChatDecodeErrorCode =
  | 'frame-too-large' | 'truncated' | 'trailing-bytes' | 'unknown-type' | 'bad-version'
  | 'bad-seq' | 'bad-utf8' | 'text-too-long' | 'bad-timestamp';

export class ChatDecodeError extends Error {
  constructor(readonly code: ChatDecodeErrorCode, message: string) { super(message); this.name = 'ChatDecodeError'; }
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function textBytes(text: string): number { return utf8.encode(text).length; }

/** Encodes one frame including its u32 length prefix. */
export function encodeFrame(f: ChatFrame): Uint8Array {
  let body: Uint8Array;
  if (f.type === 'hello') {
    body = new Uint8Array(6);
    body[0] = FrameType.hello; body[1] = f.version;
    new DataView(body.buffer).setUint32(2, f.delivered);
  } else if (f.type === 'ack') {
    body = new Uint8Array(5);
    body[0] = FrameType.ack;
    new DataView(body.buffer).setUint32(1, f.delivered);
  } else {
    const text = utf8.encode(f.text);
    if (text.length > MAX_TEXT_BYTES) throw new RangeError(`text is ${text.length} bytes, max ${MAX_TEXT_BYTES}`);
    if (f.id.length !== ID_BYTES) throw new RangeError(`id must be ${ID_BYTES} bytes`);
    body = new Uint8Array(MSG_FIXED + text.length);
    const v = new DataView(body.buffer);
    body[0] = FrameType.msg;
    v.setUint32(1, f.seq);
    body.set(f.id, 5);
    v.setBigUint64(5 + ID_BYTES, BigInt(f.sentAt));
    body.set(text, MSG_FIXED);
  }
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Decodes one frame body (type byte + fields, without the length prefix). */
export function decodeFrame(body: Uint8Array): ChatFrame {
  if (body.length < 1) throw new ChatDecodeError('truncated', 'empty frame');
  if (body.length > MAX_FRAME) throw new ChatDecodeError('frame-too-large', `frame of ${body.length} bytes, max ${MAX_FRAME}`);
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const exact = (n: number, what: string) => {
    if (body.length < n) throw new ChatDecodeError('truncated', `${what} frame needs ${n} bytes, got ${body.length}`);
    if (body.length > n) throw new ChatDecodeError('trailing-bytes', `${what} frame has ${body.length - n} extra bytes`);
  };
  switch (body[0]) {
    case FrameType.hello: {
      exact(6, 'HELLO');
      if (body[1] !== CHAT_VERSION) throw new ChatDecodeError('bad-version', `chat version ${body[1]} not supported`);
      return { type: 'hello', version: body[1], delivered: v.getUint32(2) };
    }
    case FrameType.ack:
      exact(5, 'ACK');
      return { type: 'ack', delivered: v.getUint32(1) };
    case FrameType.msg: {
      if (body.length < MSG_FIXED) throw new ChatDecodeError('truncated', `MSG frame needs ${MSG_FIXED} bytes, got ${body.length}`);
      const seq = v.getUint32(1);
      if (seq === 0) throw new ChatDecodeError('bad-seq', 'MSG seq 0 (sequence numbers start at 1)');
      const sentAt = v.getBigUint64(5 + ID_BYTES);
      if (sentAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new ChatDecodeError('bad-timestamp', 'MSG sentAt beyond 2^53-1');
      const raw = body.subarray(MSG_FIXED);
      if (raw.length > MAX_TEXT_BYTES) throw new ChatDecodeError('text-too-long', `text of ${raw.length} bytes, max ${MAX_TEXT_BYTES}`);
      let text: string;
      try { text = strictUtf8.decode(raw); } catch { throw new ChatDecodeError('bad-utf8', 'MSG text is not valid UTF-8'); }
      return { type: 'msg', seq, id: body.slice(5, 5 + ID_BYTES), sentAt: Number(sentAt), text };
    }
    default:
      throw new ChatDecodeError('unknown-type', `unknown chat frame type 0x${body[0].toString(16).padStart(2, '0')}`);
  }
}

/** Splits a byte stream into frames. push() then drain with next() until undefined. */
export class FrameReader {
  private buf = new Uint8Array(0);

  push(bytes: Uint8Array): void {
    if (this.buf.length === 0) { this.buf = bytes.slice(); return; }
    const b = new Uint8Array(this.buf.length + bytes.length);
    b.set(this.buf); b.set(bytes, this.buf.length);
    this.buf = b;
  }

  /** The next whole frame, or undefined if more bytes are needed. Throws ChatDecodeError. */
  next(): ChatFrame | undefined {
    if (this.buf.length < 4) return undefined;
    const len = new DataView(this.buf.buffer, this.buf.byteOffset, 4).getUint32(0);
    if (len > MAX_FRAME) throw new ChatDecodeError('frame-too-large', `frame length ${len}, max ${MAX_FRAME}`);
    if (len === 0) throw new ChatDecodeError('truncated', 'frame length 0');
    if (this.buf.length < 4 + len) return undefined;
    const body = this.buf.subarray(4, 4 + len);
    this.buf = this.buf.subarray(4 + len);
    return decodeFrame(body);
  }

  get buffered(): number { return this.buf.length; }
}
