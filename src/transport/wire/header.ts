// Packet headers (docs/protocol/transport.md §Packets).
// Long header (handshake packets: Initial, Handshake, Retry) and short header
// (1-RTT). A datagram may coalesce Initial/Handshake packets (each carries its
// own length) followed by at most one Retry or short-header packet, which runs
// to the end of the datagram. Long-header packets end in a CRC-32 of all their
// preceding bytes; their payload is not encrypted (the handshake payloads
// protect themselves). `parseDatagram` throws only DecodeError.
import { Reader, Writer, varintLen } from './cursor.ts';
import { DecodeError } from './errors.ts';
import { crc32 } from './crc32.ts';

export const VERSION = 0x7463_0001; // "tc" 0x00 0x01
export const CID_LEN = 8;
export const MAX_CID_LEN = 20;
export const MAX_TOKEN_LEN = 512;
export const PN_LEN = 4;
export const CRC_LEN = 4;
/** Short header: byte0, 8-byte DCID, 4-byte packet number. */
export const SHORT_HEADER_LEN = 1 + CID_LEN + PN_LEN;

// byte 0 bits (bit 0 = MSB)
export const FORM_LONG = 0x80;
export const FIXED_BIT = 0x40;
export const KEY_PHASE_BIT = 0x20;
export const LONG_TYPE_SHIFT = 4; // bits 2-3 of a long header: type

export type LongType = 'initial' | 'handshake' | 'retry';
const LONG_TYPES: LongType[] = ['initial', 'handshake', 'retry'];

export interface LongPacket {
  readonly form: 'long';
  readonly type: LongType;
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  /** Initial and Retry only (empty otherwise). */
  readonly token: Uint8Array;
  /** Low 32 bits of the packet number (not present in Retry: 0). */
  readonly pnTruncated: number;
  /** Frames, unprotected (empty for Retry). */
  readonly payload: Uint8Array;
}

export interface ShortPacket {
  readonly form: 'short';
  readonly keyPhase: 0 | 1;
  readonly dcid: Uint8Array;
  readonly pnTruncated: number;
  /** Bytes 0..SHORT_HEADER_LEN: authenticated data for the AEAD. */
  readonly header: Uint8Array;
  readonly sealed: Uint8Array;
}

export type Packet = LongPacket | ShortPacket;

/** Parse every packet in a datagram. Throws DecodeError on any malformed byte. */
export function parseDatagram(bytes: Uint8Array): Packet[] {
  const out: Packet[] = [];
  const r = new Reader(bytes);
  if (bytes.length === 0) throw new DecodeError('datagram', 'empty');
  while (r.remaining > 0) {
    if (out.length > 0 && out[out.length - 1].form === 'short') break;
    const start = r.pos;
    const b0 = r.u8('byte0');
    if (b0 & FORM_LONG) {
      if ((b0 & 0x4f) !== FIXED_BIT) throw new DecodeError('byte0', 'reserved bits set in long header');
      const typeIdx = (b0 >> LONG_TYPE_SHIFT) & 0x03;
      const type = LONG_TYPES[typeIdx];
      if (!type) throw new DecodeError('long.type', `unknown type ${typeIdx}`);
      const version = r.u32('version');
      if (version !== VERSION) throw new DecodeError('version', `unsupported 0x${version.toString(16)}`);
      const dcid = r.bytes(cidLen(r, 'dcid.len'), 'dcid');
      const scid = r.bytes(cidLen(r, 'scid.len'), 'scid');
      let token: Uint8Array = new Uint8Array(0);
      if (type !== 'handshake') token = r.bytes(r.varintMax('token.len', MAX_TOKEN_LEN), 'token');
      if (type === 'retry') {
        r.need(CRC_LEN, 'crc');
        checkCrc(bytes, start, r.pos);
        r.pos += CRC_LEN;
        if (r.remaining > 0) throw new DecodeError('retry', 'bytes after a Retry packet');
        out.push({ form: 'long', type, version, dcid, scid, token, pnTruncated: 0, payload: new Uint8Array(0) });
        break;
      }
      const length = r.varintMax('length', r.remaining);
      if (length < PN_LEN + CRC_LEN) throw new DecodeError('length', `${length} shorter than packet number + crc`);
      const pnTruncated = r.u32('pn');
      const payload = r.bytes(length - PN_LEN - CRC_LEN, 'payload');
      checkCrc(bytes, start, r.pos);
      r.pos += CRC_LEN;
      out.push({ form: 'long', type, version, dcid, scid, token, pnTruncated, payload });
    } else {
      if ((b0 & 0xdf) !== FIXED_BIT) throw new DecodeError('byte0', 'bad fixed/reserved bits in short header');
      const dcid = r.bytes(CID_LEN, 'dcid');
      const pnTruncated = r.u32('pn');
      const header = bytes.subarray(start, r.pos);
      const sealed = r.bytes(r.remaining, 'payload');
      out.push({ form: 'short', keyPhase: b0 & KEY_PHASE_BIT ? 1 : 0, dcid, pnTruncated, header, sealed });
    }
  }
  return out;
}

function cidLen(r: Reader, field: string): number {
  const n = r.u8(field);
  if (n > MAX_CID_LEN) throw new DecodeError(field, `${n} > ${MAX_CID_LEN}`);
  return n;
}

function checkCrc(bytes: Uint8Array, start: number, end: number): void {
  const r = new Reader(bytes, end);
  const want = r.u32('crc');
  if (crc32(bytes, start, end) !== want) throw new DecodeError('crc', 'checksum mismatch');
}

export interface LongPacketFields {
  type: LongType;
  dcid: Uint8Array;
  scid: Uint8Array;
  token?: Uint8Array;
  pn?: number;
  payload?: Uint8Array;
}

export function longPacketLen(p: LongPacketFields): number {
  let n = 1 + 4 + 1 + p.dcid.length + 1 + p.scid.length;
  if (p.type !== 'handshake') { const t = p.token?.length ?? 0; n += varintLen(t) + t; }
  if (p.type === 'retry') return n + CRC_LEN;
  const length = PN_LEN + (p.payload?.length ?? 0) + CRC_LEN;
  return n + varintLen(length) + length;
}

/** Encode one long-header packet (pn is the full packet number; its low 32 bits go on the wire). */
export function encodeLongPacket(p: LongPacketFields): Uint8Array {
  const out = new Uint8Array(longPacketLen(p));
  const w = new Writer(out);
  w.u8(FORM_LONG | FIXED_BIT | (LONG_TYPES.indexOf(p.type) << LONG_TYPE_SHIFT));
  w.u32(VERSION);
  w.u8(p.dcid.length); w.bytes(p.dcid);
  w.u8(p.scid.length); w.bytes(p.scid);
  if (p.type !== 'handshake') { const t = p.token ?? new Uint8Array(0); w.varint(t.length); w.bytes(t); }
  if (p.type !== 'retry') {
    const payload = p.payload ?? new Uint8Array(0);
    w.varint(PN_LEN + payload.length + CRC_LEN);
    w.u32((p.pn ?? 0) % 2 ** 32);
    w.bytes(payload);
  }
  w.u32(crc32(out, 0, w.pos));
  return out;
}

/** Write a short header into `out` at 0..SHORT_HEADER_LEN. */
export function writeShortHeader(out: Uint8Array, dcid: Uint8Array, pn: number, keyPhase: 0 | 1): void {
  if (dcid.length !== CID_LEN) throw new RangeError('short header needs an 8-byte connection ID');
  const w = new Writer(out);
  w.u8(FIXED_BIT | (keyPhase ? KEY_PHASE_BIT : 0));
  w.bytes(dcid);
  w.u32(pn % 2 ** 32);
}

/** RFC 9000 §A.3 with a 32-bit truncated packet number: the full pn closest to largest+1. */
export function decodePacketNumber(largestPn: number, truncated: number): number {
  const expected = largestPn + 1;
  const win = 2 ** 32, half = win / 2;
  const candidate = Math.floor(expected / win) * win + truncated;
  if (candidate <= expected - half && candidate < 2 ** 53 - win) return candidate + win;
  if (candidate > expected + half && candidate >= win) return candidate - win;
  return candidate;
}
