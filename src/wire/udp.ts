// UDP header (RFC 768) over IPv4: checked view with named offsets, parse with
// pseudo-header checksum verification, emit with checksum.
// Contract: the UDP length field must equal the bytes handed in (the IPv4
// payload); a checksum field of 0 means "no checksum" (allowed over IPv4); a
// computed checksum of 0 is sent as 0xFFFF. Decoders throw only DecodeError.
import { internetChecksum } from './checksum.ts';
import { DecodeError, EncodeError } from './errors.ts';
import { IP_PROTOCOL_UDP } from './ipv4.ts';

export const UDP_SRC_PORT = 0; // u16
export const UDP_DST_PORT = 2; // u16
export const UDP_LENGTH = 4; // u16, header + payload
export const UDP_CHECKSUM = 6; // u16, 0 = none
export const UDP_HEADER_LEN = 8;
export const UDP_MAX_LENGTH = 65535;

const LAYER = 'udp';

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];

/** One's-complement sum of the IPv4 pseudo-header (src, dst, zero, protocol 17, UDP length). */
export function udpPseudoHeaderSum(srcU32: number, dstU32: number, udpLength: number): number {
  let s = (srcU32 >>> 16) + (srcU32 & 0xffff) + (dstU32 >>> 16) + (dstU32 & 0xffff) + IP_PROTOCOL_UDP + udpLength;
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}

/**
 * Validate the shape of the UDP datagram in bytes[offset, end) (not the checksum,
 * which needs the IP addresses). Allocation-free.
 */
export function checkUdp(bytes: Uint8Array, offset = 0, end = bytes.length): void {
  const n = end - offset;
  if (n < UDP_HEADER_LEN) throw new DecodeError(LAYER, `truncated: ${n} bytes, a header needs 8`);
  const length = u16(bytes, offset + UDP_LENGTH);
  if (length !== n) throw new DecodeError(LAYER, `length field ${length} does not match the ${n} bytes received`);
}

/** Verify the checksum of the shape-checked UDP datagram in bytes[offset, end). Allocation-free. */
export function checkUdpChecksum(srcU32: number, dstU32: number, bytes: Uint8Array, offset = 0, end = bytes.length): void {
  const stored = u16(bytes, offset + UDP_CHECKSUM);
  if (stored === 0) return; // sender did not compute one (allowed over IPv4)
  const pseudo = udpPseudoHeaderSum(srcU32 >>> 0, dstU32 >>> 0, end - offset);
  if (internetChecksum(bytes, offset, end, pseudo) !== 0) {
    throw new DecodeError(LAYER, `bad checksum 0x${stored.toString(16).padStart(4, '0')}`);
  }
}

/** Zero-copy view over a shape-checked UDP datagram (checksum not verified: use parseUdp for that). */
export class UdpView {
  readonly bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  static checked(bytes: Uint8Array): UdpView {
    checkUdp(bytes);
    return new UdpView(bytes);
  }

  get srcPort(): number { return u16(this.bytes, UDP_SRC_PORT); }
  get dstPort(): number { return u16(this.bytes, UDP_DST_PORT); }
  get length(): number { return u16(this.bytes, UDP_LENGTH); }
  get checksum(): number { return u16(this.bytes, UDP_CHECKSUM); }

  payload(): Uint8Array {
    return this.bytes.subarray(UDP_HEADER_LEN, this.length);
  }
}

/** Parse a UDP datagram carried in IPv4 from src to dst; verifies length and checksum. Throws DecodeError. */
export function parseUdp(srcU32: number, dstU32: number, bytes: Uint8Array): { repr: UdpRepr; payload: Uint8Array } {
  const v = UdpView.checked(bytes);
  checkUdpChecksum(srcU32, dstU32, bytes);
  return { repr: { srcPort: v.srcPort, dstPort: v.dstPort }, payload: v.payload() };
}

/** Bytes needed for a UDP datagram carrying `payloadLen` bytes. */
export function udpBufferLen(payloadLen: number): number {
  return UDP_HEADER_LEN + payloadLen;
}

/**
 * Write header + payload into out[offset..offset+8+payload.length) with the checksum.
 * Throws EncodeError on bad ports or a length over 65535.
 */
export function emitUdpInto(srcU32: number, dstU32: number, repr: UdpRepr, payload: Uint8Array, out: Uint8Array, offset = 0): void {
  const length = udpBufferLen(payload.length);
  if (length > UDP_MAX_LENGTH) throw new EncodeError(LAYER, `length ${length} exceeds 65535`);
  checkPort('srcPort', repr.srcPort);
  checkPort('dstPort', repr.dstPort);
  const b = out;
  const o = offset;
  b[o] = repr.srcPort >>> 8;
  b[o + 1] = repr.srcPort;
  b[o + 2] = repr.dstPort >>> 8;
  b[o + 3] = repr.dstPort;
  b[o + 4] = length >>> 8;
  b[o + 5] = length;
  b[o + 6] = 0;
  b[o + 7] = 0;
  b.set(payload, o + UDP_HEADER_LEN);
  const pseudo = udpPseudoHeaderSum(srcU32 >>> 0, dstU32 >>> 0, length);
  const c = internetChecksum(b, o, o + length, pseudo) || 0xffff;
  b[o + 6] = c >>> 8;
  b[o + 7] = c;
}

/** Build a UDP datagram (header + copy of payload) with its pseudo-header checksum. */
export function emitUdp(srcU32: number, dstU32: number, repr: UdpRepr, payload: Uint8Array): Uint8Array {
  const length = udpBufferLen(payload.length);
  if (length > UDP_MAX_LENGTH) throw new EncodeError(LAYER, `length ${length} exceeds 65535`);
  const out = new Uint8Array(length);
  emitUdpInto(srcU32, dstU32, repr, payload, out, 0);
  return out;
}

function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EncodeError(LAYER, `${name} ${port} is outside 0..65535`);
}
