// Bounds-checked reader and a growable-free writer over a Uint8Array.
// Reader: every read checks the remaining length and throws DecodeError
// (never RangeError). Writer: writes into a buffer sized exactly by the
// caller (via the codecs' `*Len` functions); overflow is a programming error.
import { DecodeError } from './errors.ts';

export const VARINT_MAX = 2 ** 53 - 1; // we only ever use JS-safe integers (QUIC allows 2^62-1)

export class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.pos = start;
  }
  get remaining(): number { return this.end - this.pos; }
  need(n: number, field: string): void {
    if (n < 0 || this.pos + n > this.end) throw new DecodeError(field, `truncated (need ${n} bytes, have ${this.end - this.pos})`);
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++];
  }
  u32(field: string): number {
    this.need(4, field);
    const b = this.buf, p = this.pos;
    this.pos += 4;
    return ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** QUIC variable-length integer (RFC 9000 §16); values above 2^53-1 are rejected. */
  varint(field: string): number {
    this.need(1, field);
    const first = this.buf[this.pos];
    const len = 1 << (first >> 6);
    this.need(len, field);
    let v = first & 0x3f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + this.buf[this.pos + i];
      if (v > VARINT_MAX) throw new DecodeError(field, 'varint above 2^53-1');
    }
    this.pos += len;
    return v;
  }
  /** A varint that must be <= max (sizes and counts from the peer are always capped). */
  varintMax(field: string, max: number): number {
    const v = this.varint(field);
    if (v > max) throw new DecodeError(field, `${v} exceeds limit ${max}`);
    return v;
  }
}

export function varintLen(v: number): number {
  if (v < 0 || !Number.isInteger(v) || v > VARINT_MAX) throw new RangeError(`varint out of range: ${v}`);
  return v < 0x40 ? 1 : v < 0x4000 ? 2 : v < 0x4000_0000 ? 4 : 8;
}

export class Writer {
  pos = 0;
  constructor(public buf: Uint8Array, start = 0) { this.pos = start; }
  /** Write into `buf` from `start` next (one Writer reused across packets). */
  reset(buf: Uint8Array, start: number): void { this.buf = buf; this.pos = start; }
  u8(v: number): void { this.buf[this.pos++] = v; }
  u32(v: number): void {
    const b = this.buf, p = this.pos;
    b[p] = v >>> 24; b[p + 1] = (v >>> 16) & 0xff; b[p + 2] = (v >>> 8) & 0xff; b[p + 3] = v & 0xff;
    this.pos += 4;
  }
  bytes(src: Uint8Array): void { this.buf.set(src, this.pos); this.pos += src.length; }
  zeros(n: number): void { this.buf.fill(0, this.pos, this.pos + n); this.pos += n; }
  varint(v: number): void {
    const len = varintLen(v);
    const b = this.buf, p = this.pos;
    if (len === 1) b[p] = v;
    else if (len === 2) { b[p] = 0x40 | (v >> 8); b[p + 1] = v & 0xff; }
    else if (len === 4) { b[p] = 0x80 | (v >>> 24); b[p + 1] = (v >>> 16) & 0xff; b[p + 2] = (v >>> 8) & 0xff; b[p + 3] = v & 0xff; }
    else {
      const hi = Math.floor(v / 2 ** 32), lo = v >>> 0;
      b[p] = 0xc0 | (hi >>> 24); b[p + 1] = (hi >>> 16) & 0xff; b[p + 2] = (hi >>> 8) & 0xff; b[p + 3] = hi & 0xff;
      b[p + 4] = lo >>> 24; b[p + 5] = (lo >>> 16) & 0xff; b[p + 6] = (lo >>> 8) & 0xff; b[p + 7] = lo & 0xff;
    }
    this.pos += len;
  }
}
