// Whole IPv4+UDP datagrams for the simulator's hot path: build, parse (checked),
// allocation-free field readers, TTL decrement and NAT rewrites.
// Contract: parseUdpPacket/checkUdpPacket validate everything (IPv4 header and
// checksum, no fragments, protocol 17, UDP length and checksum) and throw only
// DecodeError. The readers and rewrite helpers assume bytes that passed those
// checks; they allocate nothing and keep both the IPv4 header checksum and the
// UDP checksum (pseudo-header address + port) valid by RFC 1624 incremental
// update. A UDP checksum of 0 ("none") stays 0.
import type { UdpAddress } from './socket.ts';
import { internetChecksum, updateChecksum, updateChecksum32 } from './checksum.ts';
import { DecodeError, EncodeError } from './errors.ts';
import { ipv4ToU32, u32ToIpv4 } from './ipv4-address.ts';
import {
  checkIpv4, decrementIpv4Ttl, IP_PROTOCOL_UDP, IPV4_CHECKSUM, IPV4_DST, IPV4_FLAGS_FRAGMENT, IPV4_MAX_TOTAL,
  IPV4_MIN_HEADER, IPV4_PROTOCOL, IPV4_SRC, IPV4_TOTAL_LENGTH, IPV4_TTL,
} from './ipv4.ts';
import { checkUdp, checkUdpChecksum, UDP_CHECKSUM, UDP_DST_PORT, UDP_HEADER_LEN, UDP_SRC_PORT, udpPseudoHeaderSum } from './udp.ts';

/** IPv4 header (20) + UDP header (8). */
export const UDP_PACKET_OVERHEAD = IPV4_MIN_HEADER + UDP_HEADER_LEN;
/** Largest UDP payload in one IPv4 datagram: 65535 - 28. */
export const UDP_PACKET_MAX_PAYLOAD = IPV4_MAX_TOTAL - UDP_PACKET_OVERHEAD;

export interface BuildUdpOptions {
  /** Default 64. */
  ttl?: number;
  /** Default 0. */
  identification?: number;
  /** Default true (tincan never fragments; oversize datagrams are dropped). */
  dontFragment?: boolean;
}

export interface ParsedUdpPacket {
  src: UdpAddress;
  dst: UdpAddress;
  ttl: number;
  payload: Uint8Array;
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

/** A full IPv4+UDP datagram (20-byte IPv4 header, both checksums). Throws EncodeError/DecodeError on bad arguments. */
export function buildUdpPacket(src: UdpAddress, dst: UdpAddress, payload: Uint8Array, opts?: BuildUdpOptions): Uint8Array {
  const srcU32 = ipv4ToU32(src.address);
  const dstU32 = ipv4ToU32(dst.address);
  return buildUdpPacketU32(srcU32, src.port, dstU32, dst.port, payload, opts);
}

/** buildUdpPacket with numeric addresses. */
export function buildUdpPacketU32(
  srcU32: number, srcPort: number, dstU32: number, dstPort: number, payload: Uint8Array, opts?: BuildUdpOptions,
): Uint8Array {
  if (payload.length > UDP_PACKET_MAX_PAYLOAD) {
    throw new EncodeError('ipv4', `total length ${payload.length + UDP_PACKET_OVERHEAD} exceeds 65535`);
  }
  const ttl = opts?.ttl ?? 64;
  const id = opts?.identification ?? 0;
  if (!(ttl >= 0 && ttl <= 255 && Number.isInteger(ttl))) throw new EncodeError('ipv4', `ttl ${ttl} is outside 0..255`);
  if (!(id >= 0 && id <= 0xffff && Number.isInteger(id))) throw new EncodeError('ipv4', `identification ${id} is outside 0..65535`);
  if (!(srcPort >= 0 && srcPort <= 0xffff && Number.isInteger(srcPort))) throw new EncodeError('udp', `srcPort ${srcPort} is outside 0..65535`);
  if (!(dstPort >= 0 && dstPort <= 0xffff && Number.isInteger(dstPort))) throw new EncodeError('udp', `dstPort ${dstPort} is outside 0..65535`);
  const total = payload.length + UDP_PACKET_OVERHEAD;
  const b = new Uint8Array(total);
  b[0] = 0x45;
  put16(b, IPV4_TOTAL_LENGTH, total);
  put16(b, 4, id);
  put16(b, IPV4_FLAGS_FRAGMENT, opts?.dontFragment === false ? 0 : 0x4000);
  b[IPV4_TTL] = ttl;
  b[IPV4_PROTOCOL] = IP_PROTOCOL_UDP;
  put32(b, IPV4_SRC, srcU32 >>> 0);
  put32(b, IPV4_DST, dstU32 >>> 0);
  put16(b, IPV4_CHECKSUM, internetChecksum(b, 0, IPV4_MIN_HEADER));
  const o = IPV4_MIN_HEADER;
  const udpLength = total - o;
  put16(b, o + UDP_SRC_PORT, srcPort);
  put16(b, o + UDP_DST_PORT, dstPort);
  put16(b, o + 4, udpLength);
  b.set(payload, o + UDP_HEADER_LEN);
  const c = internetChecksum(b, o, total, udpPseudoHeaderSum(srcU32 >>> 0, dstU32 >>> 0, udpLength)) || 0xffff;
  put16(b, o + UDP_CHECKSUM, c);
  return b;
}

/** Validate a whole IPv4+UDP datagram without allocating. Throws DecodeError. */
export function checkUdpPacket(bytes: Uint8Array): void {
  checkIpv4(bytes);
  const frag = u16(bytes, IPV4_FLAGS_FRAGMENT);
  if ((frag & 0x3fff) !== 0) {
    throw new DecodeError('ipv4', `fragments are not supported (MF=${(frag >>> 13) & 1}, offset ${(frag & 0x1fff) * 8})`);
  }
  const protocol = bytes[IPV4_PROTOCOL];
  if (protocol !== IP_PROTOCOL_UDP) throw new DecodeError('ipv4', `protocol ${protocol} is not UDP (17)`);
  const hl = (bytes[0] & 0x0f) * 4;
  const total = u16(bytes, IPV4_TOTAL_LENGTH);
  checkUdp(bytes, hl, total);
  checkUdpChecksum(u32(bytes, IPV4_SRC), u32(bytes, IPV4_DST), bytes, hl, total);
}

/** Parse a whole IPv4+UDP datagram (fully checked). Payload is a subarray (no copy). Throws DecodeError. */
export function parseUdpPacket(bytes: Uint8Array): ParsedUdpPacket {
  checkUdpPacket(bytes);
  const hl = (bytes[0] & 0x0f) * 4;
  return {
    src: { address: u32ToIpv4(u32(bytes, IPV4_SRC)), port: u16(bytes, hl + UDP_SRC_PORT) },
    dst: { address: u32ToIpv4(u32(bytes, IPV4_DST)), port: u16(bytes, hl + UDP_DST_PORT) },
    ttl: bytes[IPV4_TTL],
    payload: bytes.subarray(hl + UDP_HEADER_LEN, u16(bytes, IPV4_TOTAL_LENGTH)),
  };
}

// ---- allocation-free readers (bytes must have passed checkUdpPacket) ----

export const packetSrcU32 = (bytes: Uint8Array): number => u32(bytes, IPV4_SRC);
export const packetDstU32 = (bytes: Uint8Array): number => u32(bytes, IPV4_DST);
export const packetSrcPort = (bytes: Uint8Array): number => u16(bytes, (bytes[0] & 0x0f) * 4 + UDP_SRC_PORT);
export const packetDstPort = (bytes: Uint8Array): number => u16(bytes, (bytes[0] & 0x0f) * 4 + UDP_DST_PORT);
export const packetTtl = (bytes: Uint8Array): number => bytes[IPV4_TTL];
/** UDP payload length of a checked packet. */
export const packetPayloadLength = (bytes: Uint8Array): number =>
  u16(bytes, IPV4_TOTAL_LENGTH) - (bytes[0] & 0x0f) * 4 - UDP_HEADER_LEN;

/** Decrement the TTL in place (not below 0), keeping the header checksum valid; returns the new TTL. */
export function decrementTtl(bytes: Uint8Array): number {
  return decrementIpv4Ttl(bytes);
}

/** NAT: replace source address and port in place; both checksums updated incrementally. */
export function rewriteSource(bytes: Uint8Array, addressU32: number, port: number): void {
  rewrite(bytes, IPV4_SRC, UDP_SRC_PORT, addressU32, port);
}

/** NAT: replace destination address and port in place; both checksums updated incrementally. */
export function rewriteDestination(bytes: Uint8Array, addressU32: number, port: number): void {
  rewrite(bytes, IPV4_DST, UDP_DST_PORT, addressU32, port);
}

function rewrite(bytes: Uint8Array, addrOffset: number, portOffset: number, addressU32: number, port: number): void {
  const hl = (bytes[0] & 0x0f) * 4;
  if (hl < IPV4_MIN_HEADER || bytes.length < hl + UDP_HEADER_LEN) {
    throw new DecodeError('udp', `cannot rewrite: ${bytes.length} bytes is not a checked IPv4+UDP packet`);
  }
  const newAddr = addressU32 >>> 0;
  const newPort = port & 0xffff;
  const oldAddr = u32(bytes, addrOffset);
  const po = hl + portOffset;
  const oldPort = u16(bytes, po);
  put32(bytes, addrOffset, newAddr);
  put16(bytes, IPV4_CHECKSUM, updateChecksum32(u16(bytes, IPV4_CHECKSUM), oldAddr, newAddr));
  put16(bytes, po, newPort);
  const co = hl + UDP_CHECKSUM;
  const c = u16(bytes, co);
  if (c !== 0) {
    const updated = updateChecksum(updateChecksum32(c, oldAddr, newAddr), oldPort, newPort);
    put16(bytes, co, updated === 0 ? 0xffff : updated);
  }
}
