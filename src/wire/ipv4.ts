// IPv4 header (RFC 791): a checked zero-copy view with named field offsets, and
// a parsed value (Ipv4Repr) with parse / emit / buffer length.
// Contract: untrusted bytes go through Ipv4View.checked() (or checkIpv4());
// after it passed, no accessor can fail. Setters update the header checksum
// incrementally (RFC 1624), so a checked header stays valid. Options are kept
// opaque (their length comes from IHL); emit never writes options. Ipv4Repr
// describes an unfragmented datagram: parseIpv4 rejects fragments.
import { internetChecksum, updateChecksum, updateChecksum32 } from './checksum.ts';
import { DecodeError, EncodeError } from './errors.ts';
import { ipv4ToU32, u32ToIpv4 } from './ipv4-address.ts';

/** Byte offsets of the header fields. */
export const IPV4_VER_IHL = 0; // version (high nibble), IHL in 32-bit words (low nibble)
export const IPV4_DSCP_ECN = 1; // DSCP (6 bits), ECN (2 bits)
export const IPV4_TOTAL_LENGTH = 2; // u16, header + payload bytes
export const IPV4_IDENTIFICATION = 4; // u16
export const IPV4_FLAGS_FRAGMENT = 6; // flags (3 bits: reserved, DF, MF), fragment offset (13 bits, 8-byte units)
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL = 9;
export const IPV4_CHECKSUM = 10; // u16
export const IPV4_SRC = 12; // u32
export const IPV4_DST = 16; // u32
export const IPV4_MIN_HEADER = 20;
export const IPV4_MAX_TOTAL = 65535;

export const IP_PROTOCOL_UDP = 17;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAGMENT_MASK = 0x1fff;

const LAYER = 'ipv4';

export interface Ipv4Repr {
  src: string;
  dst: string;
  protocol: number;
  ttl: number;
  identification: number;
  dontFragment: boolean;
  dscp: number;
  ecn: number;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * Validate an IPv4 header in place without allocating. Throws DecodeError on:
 * truncated buffer, version != 4, IHL < 5, buffer over 65,535 bytes, total length
 * smaller than the header or larger than the buffer, bad header checksum.
 * Bytes after `total length` (link padding) are allowed and ignored.
 */
export function checkIpv4(bytes: Uint8Array): void {
  const n = bytes.length;
  if (n < IPV4_MIN_HEADER) throw new DecodeError(LAYER, `truncated: ${n} bytes, a header needs at least 20`);
  if (n > IPV4_MAX_TOTAL) throw new DecodeError(LAYER, `too large: ${n} bytes, the maximum is 65535`);
  const version = bytes[IPV4_VER_IHL] >>> 4;
  if (version !== 4) throw new DecodeError(LAYER, `wrong version ${version}, expected 4`);
  const ihl = bytes[IPV4_VER_IHL] & 0x0f;
  if (ihl < 5) throw new DecodeError(LAYER, `IHL ${ihl} is below the minimum 5`);
  const headerLength = ihl * 4;
  if (headerLength > n) throw new DecodeError(LAYER, `truncated: header length ${headerLength} exceeds ${n} bytes`);
  const total = u16(bytes, IPV4_TOTAL_LENGTH);
  if (total < headerLength) throw new DecodeError(LAYER, `total length ${total} is smaller than the header length ${headerLength}`);
  if (total > n) throw new DecodeError(LAYER, `truncated: total length ${total} exceeds ${n} bytes`);
  if ((headerLength === IPV4_MIN_HEADER ? minHeaderChecksum(bytes) : internetChecksum(bytes, 0, headerLength)) !== 0) {
    throw new DecodeError(LAYER, `bad header checksum 0x${u16(bytes, IPV4_CHECKSUM).toString(16).padStart(4, '0')}`);
  }
}

/** internetChecksum(bytes, 0, 20), unrolled: the per-hop check of an option-less header. */
function minHeaderChecksum(b: Uint8Array): number {
  let s = ((b[0] << 8) | b[1]) + ((b[2] << 8) | b[3]) + ((b[4] << 8) | b[5]) + ((b[6] << 8) | b[7]) + ((b[8] << 8) | b[9])
    + ((b[10] << 8) | b[11]) + ((b[12] << 8) | b[13]) + ((b[14] << 8) | b[15]) + ((b[16] << 8) | b[17]) + ((b[18] << 8) | b[19]);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Decrement TTL of a checked header in place, updating the checksum. Returns the new TTL (0 if it was already 0). */
export function decrementIpv4Ttl(bytes: Uint8Array): number {
  const ttl = bytes[IPV4_TTL];
  if (ttl === 0) return 0;
  setIpv4Ttl(bytes, ttl - 1);
  return ttl - 1;
}

/** Set TTL (0..255) of a checked header in place, updating the checksum. */
export function setIpv4Ttl(bytes: Uint8Array, ttl: number): void {
  const oldWord = u16(bytes, IPV4_TTL);
  bytes[IPV4_TTL] = ttl;
  const newWord = u16(bytes, IPV4_TTL);
  put16(bytes, IPV4_CHECKSUM, updateChecksum(u16(bytes, IPV4_CHECKSUM), oldWord, newWord));
}

/** Overwrite a 32-bit address field (IPV4_SRC or IPV4_DST) of a checked header, updating the checksum. */
export function setIpv4AddressU32(bytes: Uint8Array, offset: typeof IPV4_SRC | typeof IPV4_DST, value: number): void {
  const old = u32(bytes, offset);
  const v = value >>> 0;
  put32(bytes, offset, v);
  put16(bytes, IPV4_CHECKSUM, updateChecksum32(u16(bytes, IPV4_CHECKSUM), old, v));
}

/** Zero-copy view over a validated IPv4 datagram. Construct only through `checked`. */
export class Ipv4View {
  readonly bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** Validate (see checkIpv4) and wrap. Throws DecodeError. */
  static checked(bytes: Uint8Array): Ipv4View {
    checkIpv4(bytes);
    return new Ipv4View(bytes);
  }

  get version(): number { return this.bytes[IPV4_VER_IHL] >>> 4; }
  get headerLength(): number { return (this.bytes[IPV4_VER_IHL] & 0x0f) * 4; }
  get dscp(): number { return this.bytes[IPV4_DSCP_ECN] >>> 2; }
  get ecn(): number { return this.bytes[IPV4_DSCP_ECN] & 3; }
  get totalLength(): number { return u16(this.bytes, IPV4_TOTAL_LENGTH); }
  get identification(): number { return u16(this.bytes, IPV4_IDENTIFICATION); }
  get dontFragment(): boolean { return (u16(this.bytes, IPV4_FLAGS_FRAGMENT) & FLAG_DF) !== 0; }
  get moreFragments(): boolean { return (u16(this.bytes, IPV4_FLAGS_FRAGMENT) & FLAG_MF) !== 0; }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  get fragmentOffset(): number { return (u16(this.bytes, IPV4_FLAGS_FRAGMENT) & FRAGMENT_MASK) * 8; }
  get ttl(): number { return this.bytes[IPV4_TTL]; }
  get protocol(): number { return this.bytes[IPV4_PROTOCOL]; }
  get checksum(): number { return u16(this.bytes, IPV4_CHECKSUM); }
  get srcU32(): number { return u32(this.bytes, IPV4_SRC); }
  get dstU32(): number { return u32(this.bytes, IPV4_DST); }
  get src(): string { return u32ToIpv4(this.srcU32); }
  get dst(): string { return u32ToIpv4(this.dstU32); }
  get optionsLength(): number { return this.headerLength - IPV4_MIN_HEADER; }

  /** The payload (header end .. total length) as a subarray (no copy). */
  payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength);
  }

  setTtl(ttl: number): void {
    setIpv4Ttl(this.bytes, ttl & 0xff);
  }

  /** Decrement TTL (not below 0), keep the checksum valid, return the new TTL. */
  decrementTtl(): number {
    return decrementIpv4Ttl(this.bytes);
  }

  setSrcU32(address: number): void {
    setIpv4AddressU32(this.bytes, IPV4_SRC, address);
  }

  setDstU32(address: number): void {
    setIpv4AddressU32(this.bytes, IPV4_DST, address);
  }
}

/** Parse an unfragmented IPv4 datagram. Throws DecodeError (also for fragments). */
export function parseIpv4(bytes: Uint8Array): { repr: Ipv4Repr; payload: Uint8Array; optionsLength: number } {
  const v = Ipv4View.checked(bytes);
  if (v.moreFragments || v.fragmentOffset !== 0) {
    throw new DecodeError(LAYER, `fragments are not supported (MF=${v.moreFragments ? 1 : 0}, offset ${v.fragmentOffset})`);
  }
  return {
    repr: {
      src: v.src,
      dst: v.dst,
      protocol: v.protocol,
      ttl: v.ttl,
      identification: v.identification,
      dontFragment: v.dontFragment,
      dscp: v.dscp,
      ecn: v.ecn,
    },
    payload: v.payload(),
    optionsLength: v.optionsLength,
  };
}

/** Bytes needed for a datagram with a 20-byte header and `payloadLen` payload bytes. */
export function ipv4BufferLen(payloadLen: number): number {
  return IPV4_MIN_HEADER + payloadLen;
}

/**
 * Write a 20-byte IPv4 header for `repr` and `payloadLen` into out[offset..offset+20),
 * with a valid checksum. Throws EncodeError on out-of-range fields or total > 65535.
 */
export function emitIpv4Header(repr: Ipv4Repr, payloadLen: number, out: Uint8Array, offset = 0): void {
  const total = ipv4BufferLen(payloadLen);
  if (total > IPV4_MAX_TOTAL) throw new EncodeError(LAYER, `total length ${total} exceeds 65535`);
  checkField('ttl', repr.ttl, 255);
  checkField('protocol', repr.protocol, 255);
  checkField('identification', repr.identification, 0xffff);
  checkField('dscp', repr.dscp, 63);
  checkField('ecn', repr.ecn, 3);
  const src = ipv4ToU32(repr.src);
  const dst = ipv4ToU32(repr.dst);
  const b = out;
  const o = offset;
  b[o + IPV4_VER_IHL] = 0x45;
  b[o + IPV4_DSCP_ECN] = (repr.dscp << 2) | repr.ecn;
  put16(b, o + IPV4_TOTAL_LENGTH, total);
  put16(b, o + IPV4_IDENTIFICATION, repr.identification);
  put16(b, o + IPV4_FLAGS_FRAGMENT, repr.dontFragment ? FLAG_DF : 0);
  b[o + IPV4_TTL] = repr.ttl;
  b[o + IPV4_PROTOCOL] = repr.protocol;
  put16(b, o + IPV4_CHECKSUM, 0);
  put32(b, o + IPV4_SRC, src);
  put32(b, o + IPV4_DST, dst);
  put16(b, o + IPV4_CHECKSUM, internetChecksum(b, o, o + IPV4_MIN_HEADER));
}

/** Build a whole datagram (header + copy of payload). Throws EncodeError if it would exceed 65,535 bytes. */
export function emitIpv4(repr: Ipv4Repr, payload: Uint8Array): Uint8Array {
  const total = ipv4BufferLen(payload.length);
  if (total > IPV4_MAX_TOTAL) throw new EncodeError(LAYER, `total length ${total} exceeds 65535`);
  const out = new Uint8Array(total);
  emitIpv4Header(repr, payload.length, out, 0);
  out.set(payload, IPV4_MIN_HEADER);
  return out;
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new EncodeError(LAYER, `${name} ${value} is outside 0..${max}`);
}
