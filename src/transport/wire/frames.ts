// Frames (docs/protocol/transport.md §Frames): QUIC-style type varint then fields.
// `decodeFrames` throws only DecodeError and caps every peer-controlled size;
// `frameLen` gives the exact encoded size so a packet is assembled in one buffer.
import { Reader, Writer, varintLen } from './cursor.ts';
import { DecodeError } from './errors.ts';
import { MAX_TOKEN_LEN } from './header.ts';

export const FT = {
  PADDING: 0x00,
  PING: 0x01,
  ACK: 0x02,
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  CRYPTO: 0x06,
  NEW_TOKEN: 0x07,
  STREAM: 0x08, // 0x08..0x0f: | OFF 0x04 | LEN 0x02 | FIN 0x01
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  MAX_STREAMS_UNI: 0x13,
  PATH_CHALLENGE: 0x1a,
  PATH_RESPONSE: 0x1b,
  CONNECTION_CLOSE: 0x1c, // transport error
  CONNECTION_CLOSE_APP: 0x1d,
  HANDSHAKE_DONE: 0x1e,
  DATAGRAM: 0x30, // 0x30 no length, 0x31 with length
} as const;
const STREAM_OFF = 0x04, STREAM_LEN = 0x02, STREAM_FIN = 0x01;

export const MAX_ACK_RANGES = 256;
export const MAX_REASON_LEN = 1024;

/** Inclusive packet-number range. */
export interface PnRange { lo: number; hi: number }

export type Frame =
  | { type: 'padding'; length: number }
  | { type: 'ping' }
  /** ranges: descending, non-overlapping, ranges[0].hi is the largest acknowledged. */
  | { type: 'ack'; ackDelayUs: number; ranges: PnRange[] }
  | { type: 'reset_stream'; id: number; code: number; finalSize: number }
  | { type: 'stop_sending'; id: number; code: number }
  | { type: 'crypto'; offset: number; data: Uint8Array }
  | { type: 'new_token'; token: Uint8Array }
  | { type: 'stream'; id: number; offset: number; data: Uint8Array; fin: boolean }
  | { type: 'max_data'; max: number }
  | { type: 'max_stream_data'; id: number; max: number }
  | { type: 'max_streams'; bidi: boolean; max: number }
  | { type: 'path_challenge'; data: Uint8Array }
  | { type: 'path_response'; data: Uint8Array }
  | { type: 'connection_close'; app: boolean; code: number; frameType: number; reason: string }
  | { type: 'handshake_done' }
  | { type: 'datagram'; data: Uint8Array };

export type FrameType = Frame['type'];

const utf8 = new TextEncoder();
const utf8d = new TextDecoder('utf-8', { fatal: false });

/** The frames in payload[0, end) (end defaults to the whole payload). */
export function decodeFrames(payload: Uint8Array, end = payload.length): Frame[] {
  const r = new Reader(payload, 0, end);
  const out: Frame[] = [];
  while (r.remaining > 0) out.push(decodeFrame(r));
  return out;
}

function decodeFrame(r: Reader): Frame {
  const t = r.varint('frame.type');
  if (t === FT.PADDING) {
    let n = 1;
    while (r.remaining > 0 && r.buf[r.pos] === 0) { r.pos++; n++; }
    return { type: 'padding', length: n };
  }
  if (t === FT.PING) return { type: 'ping' };
  if (t === FT.ACK) {
    const largest = r.varint('ack.largest');
    const ackDelayUs = r.varint('ack.delay');
    const count = r.varintMax('ack.range_count', MAX_ACK_RANGES - 1);
    const first = r.varint('ack.first_range');
    if (first > largest) throw new DecodeError('ack.first_range', 'below packet number 0');
    const ranges: PnRange[] = [{ lo: largest - first, hi: largest }];
    let lo = largest - first;
    for (let i = 0; i < count; i++) {
      const gap = r.varint('ack.gap');
      const len = r.varint('ack.range_len');
      const hi = lo - gap - 2;
      if (hi - len < 0) throw new DecodeError('ack.range', 'below packet number 0');
      lo = hi - len;
      ranges.push({ lo, hi });
    }
    return { type: 'ack', ackDelayUs, ranges };
  }
  if (t === FT.RESET_STREAM) return { type: 'reset_stream', id: r.varint('reset.id'), code: r.varint('reset.code'), finalSize: r.varint('reset.final_size') };
  if (t === FT.STOP_SENDING) return { type: 'stop_sending', id: r.varint('stop.id'), code: r.varint('stop.code') };
  if (t === FT.CRYPTO) {
    const offset = r.varint('crypto.offset');
    const len = r.varintMax('crypto.len', r.remaining);
    return { type: 'crypto', offset, data: r.bytes(len, 'crypto.data') };
  }
  if (t === FT.NEW_TOKEN) {
    const len = r.varintMax('new_token.len', MAX_TOKEN_LEN);
    if (len === 0) throw new DecodeError('new_token.len', 'empty token');
    return { type: 'new_token', token: r.bytes(len, 'new_token.token') };
  }
  if (t >= FT.STREAM && t <= FT.STREAM + 7) {
    const id = r.varint('stream.id');
    const offset = t & STREAM_OFF ? r.varint('stream.offset') : 0;
    const len = t & STREAM_LEN ? r.varintMax('stream.len', r.remaining) : r.remaining;
    if (offset + len > 2 ** 53 - 1) throw new DecodeError('stream.offset', 'offset + length beyond 2^53-1');
    return { type: 'stream', id, offset, data: r.bytes(len, 'stream.data'), fin: (t & STREAM_FIN) !== 0 };
  }
  if (t === FT.MAX_DATA) return { type: 'max_data', max: r.varint('max_data') };
  if (t === FT.MAX_STREAM_DATA) return { type: 'max_stream_data', id: r.varint('max_stream_data.id'), max: r.varint('max_stream_data.max') };
  if (t === FT.MAX_STREAMS_BIDI || t === FT.MAX_STREAMS_UNI) return { type: 'max_streams', bidi: t === FT.MAX_STREAMS_BIDI, max: r.varint('max_streams') };
  if (t === FT.PATH_CHALLENGE) return { type: 'path_challenge', data: r.bytes(8, 'path_challenge.data') };
  if (t === FT.PATH_RESPONSE) return { type: 'path_response', data: r.bytes(8, 'path_response.data') };
  if (t === FT.CONNECTION_CLOSE || t === FT.CONNECTION_CLOSE_APP) {
    const app = t === FT.CONNECTION_CLOSE_APP;
    const code = r.varint('close.code');
    const frameType = app ? 0 : r.varint('close.frame_type');
    const len = r.varintMax('close.reason_len', MAX_REASON_LEN);
    return { type: 'connection_close', app, code, frameType, reason: utf8d.decode(r.bytes(len, 'close.reason')) };
  }
  if (t === FT.HANDSHAKE_DONE) return { type: 'handshake_done' };
  if (t === FT.DATAGRAM) return { type: 'datagram', data: r.bytes(r.remaining, 'datagram.data') };
  if (t === FT.DATAGRAM + 1) {
    const len = r.varintMax('datagram.len', r.remaining);
    return { type: 'datagram', data: r.bytes(len, 'datagram.data') };
  }
  throw new DecodeError('frame.type', `unknown frame type 0x${t.toString(16)}`);
}

function ackBody(f: Extract<Frame, { type: 'ack' }>): number[] {
  const v: number[] = [f.ranges[0].hi, f.ackDelayUs, f.ranges.length - 1, f.ranges[0].hi - f.ranges[0].lo];
  for (let i = 1; i < f.ranges.length; i++) {
    v.push(f.ranges[i - 1].lo - f.ranges[i].hi - 2, f.ranges[i].hi - f.ranges[i].lo);
  }
  return v;
}

/** Exact encoded size of a frame. STREAM and DATAGRAM frames always carry an explicit length. */
export function frameLen(f: Frame): number {
  switch (f.type) {
    case 'padding': return f.length;
    case 'ping': case 'handshake_done': return 1;
    case 'ack': return 1 + ackBody(f).reduce((n, v) => n + varintLen(v), 0);
    case 'reset_stream': return 1 + varintLen(f.id) + varintLen(f.code) + varintLen(f.finalSize);
    case 'stop_sending': return 1 + varintLen(f.id) + varintLen(f.code);
    case 'crypto': return 1 + varintLen(f.offset) + varintLen(f.data.length) + f.data.length;
    case 'new_token': return 1 + varintLen(f.token.length) + f.token.length;
    case 'stream': return streamFrameOverhead(f.id, f.offset, f.data.length) + f.data.length;
    case 'max_data': return 1 + varintLen(f.max);
    case 'max_stream_data': return 1 + varintLen(f.id) + varintLen(f.max);
    case 'max_streams': return 1 + varintLen(f.max);
    case 'path_challenge': case 'path_response': return 9;
    case 'connection_close': {
      const reason = utf8.encode(f.reason).subarray(0, MAX_REASON_LEN);
      return 1 + varintLen(f.code) + (f.app ? 0 : varintLen(f.frameType)) + varintLen(reason.length) + reason.length;
    }
    case 'datagram': return 1 + varintLen(f.data.length) + f.data.length;
  }
}

/** Bytes a STREAM frame adds around `len` data bytes. */
export function streamFrameOverhead(id: number, offset: number, len: number): number {
  return 1 + varintLen(id) + (offset > 0 ? varintLen(offset) : 0) + varintLen(len);
}

export function encodeFrame(w: Writer, f: Frame): void {
  switch (f.type) {
    case 'padding': w.zeros(f.length); return;
    case 'ping': w.u8(FT.PING); return;
    case 'handshake_done': w.u8(FT.HANDSHAKE_DONE); return;
    case 'ack': w.u8(FT.ACK); for (const v of ackBody(f)) w.varint(v); return;
    case 'reset_stream': w.u8(FT.RESET_STREAM); w.varint(f.id); w.varint(f.code); w.varint(f.finalSize); return;
    case 'stop_sending': w.u8(FT.STOP_SENDING); w.varint(f.id); w.varint(f.code); return;
    case 'crypto': w.u8(FT.CRYPTO); w.varint(f.offset); w.varint(f.data.length); w.bytes(f.data); return;
    case 'new_token': w.u8(FT.NEW_TOKEN); w.varint(f.token.length); w.bytes(f.token); return;
    case 'stream':
      w.u8(FT.STREAM | (f.offset > 0 ? STREAM_OFF : 0) | STREAM_LEN | (f.fin ? STREAM_FIN : 0));
      w.varint(f.id);
      if (f.offset > 0) w.varint(f.offset);
      w.varint(f.data.length);
      w.bytes(f.data);
      return;
    case 'max_data': w.u8(FT.MAX_DATA); w.varint(f.max); return;
    case 'max_stream_data': w.u8(FT.MAX_STREAM_DATA); w.varint(f.id); w.varint(f.max); return;
    case 'max_streams': w.u8(f.bidi ? FT.MAX_STREAMS_BIDI : FT.MAX_STREAMS_UNI); w.varint(f.max); return;
    case 'path_challenge': case 'path_response':
      if (f.data.length !== 8) throw new RangeError('path challenge/response data must be 8 bytes');
      w.u8(f.type === 'path_challenge' ? FT.PATH_CHALLENGE : FT.PATH_RESPONSE); w.bytes(f.data); return;
    case 'connection_close': {
      const reason = utf8.encode(f.reason).subarray(0, MAX_REASON_LEN);
      w.u8(f.app ? FT.CONNECTION_CLOSE_APP : FT.CONNECTION_CLOSE);
      w.varint(f.code);
      if (!f.app) w.varint(f.frameType);
      w.varint(reason.length); w.bytes(reason);
      return;
    }
    case 'datagram': w.u8(FT.DATAGRAM + 1); w.varint(f.data.length); w.bytes(f.data); return;
  }
}

export function encodeFrames(frames: Frame[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + frameLen(f), 0));
  const w = new Writer(out);
  for (const f of frames) encodeFrame(w, f);
  return out;
}

/** Frames that elicit an ACK (everything but PADDING, ACK and CONNECTION_CLOSE). */
export function isAckEliciting(f: Frame): boolean {
  return f.type !== 'padding' && f.type !== 'ack' && f.type !== 'connection_close';
}
