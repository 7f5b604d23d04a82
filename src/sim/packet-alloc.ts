// Packet buffers for the simulator's send path, carved from 16 KiB slabs (like Node's
// Buffer pool) instead of one ArrayBuffer per packet: allocating a typed array with
// its own backing store costs ~10x more than a view. A retained packet or payload view
// keeps at most its 16 KiB slab alive. `buildPacket` uses the wire emitters
// (emitIpv4Header + emitUdpInto); `PacketBuilder` (one per host, the send path) writes
// the fields directly. Both are byte-identical to wire's buildUdpPacket.
import { onesComplementSum } from '../wire/checksum.ts';
import { emitIpv4Header, IP_PROTOCOL_UDP, IPV4_MIN_HEADER, type Ipv4Repr } from '../wire/ipv4.ts';
import { emitUdpInto, UDP_HEADER_LEN } from '../wire/udp.ts';

const SLAB_BYTES = 16 * 1024;
const DIRECT_ABOVE = 2048;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** A zeroed buffer of `len` bytes (from a shared slab when small). */
export function allocPacket(len: number): Uint8Array {
  if (len > DIRECT_ABOVE) return new Uint8Array(len);
  if (used + len > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const view = new Uint8Array(slab, used, len);
  used += (len + 7) & ~7;
  return view;
}

/**
 * An IPv4+UDP packet (20-byte header, DF set, both checksums) from dotted-quad addresses.
 * The caller checked: payload <= 65,507 bytes, ports 0..65535, valid addresses.
 */
export function buildPacket(srcAddr: string, srcU32: number, srcPort: number, dstAddr: string, dstU32: number, dstPort: number,
  payload: Uint8Array, ttl: number, identification: number): Uint8Array {
  const udpLen = UDP_HEADER_LEN + payload.length;
  const out = allocPacket(IPV4_MIN_HEADER + udpLen);
  const repr: Ipv4Repr = { src: srcAddr, dst: dstAddr, protocol: IP_PROTOCOL_UDP, ttl, identification, dontFragment: true, dscp: 0, ecn: 0 };
  emitIpv4Header(repr, udpLen, out, 0);
  emitUdpInto(srcU32, dstU32, { srcPort, dstPort }, payload, out, IPV4_MIN_HEADER);
  return out;
}

/**
 * Builds the IPv4+UDP packets of one sender (fixed source address and TTL, DF set) into
 * slab buffers, writing every field directly: the IPv4 header checksum is the folded sum
 * of a per-sender constant (version/IHL, flags, TTL/protocol, source) plus destination,
 * total length and identification; the UDP checksum sums the payload straight from the
 * caller's buffer. Same bytes as buildUdpPacket. The caller checked: ports 0..65535,
 * identification 0..65535, payload <= 65,507 bytes.
 */
export class PacketBuilder {
  private readonly ipConstSum: number;
  private readonly srcSum: number;

  constructor(private readonly srcU32: number, private readonly ttl: number) {
    this.srcSum = (srcU32 >>> 16) + (srcU32 & 0xffff);
    this.ipConstSum = 0x4500 + 0x4000 + ((ttl << 8) | IP_PROTOCOL_UDP) + this.srcSum;
  }

  build(srcPort: number, dstU32: number, dstPort: number, payload: Uint8Array, identification: number): Uint8Array {
    const plen = payload.length;
    const udpLen = UDP_HEADER_LEN + plen;
    const total = IPV4_MIN_HEADER + udpLen;
    const out = allocPacket(total);
    const src = this.srcU32;
    const dstHi = dstU32 >>> 16;
    const dstLo = dstU32 & 0xffff;
    let s = this.ipConstSum + dstHi + dstLo + total + identification;
    s = (s & 0xffff) + (s >>> 16);
    s = (s & 0xffff) + (s >>> 16);
    const hc = ~s & 0xffff;
    out[0] = 0x45;
    out[2] = total >>> 8;
    out[3] = total;
    out[4] = identification >>> 8;
    out[5] = identification;
    out[6] = 0x40; // DF
    out[8] = this.ttl;
    out[9] = IP_PROTOCOL_UDP;
    out[10] = hc >>> 8;
    out[11] = hc;
    out[12] = src >>> 24;
    out[13] = src >>> 16;
    out[14] = src >>> 8;
    out[15] = src;
    out[16] = dstU32 >>> 24;
    out[17] = dstU32 >>> 16;
    out[18] = dstU32 >>> 8;
    out[19] = dstU32;
    out[20] = srcPort >>> 8;
    out[21] = srcPort;
    out[22] = dstPort >>> 8;
    out[23] = dstPort;
    out[24] = udpLen >>> 8;
    out[25] = udpLen;
    out.set(payload, IPV4_MIN_HEADER + UDP_HEADER_LEN);
    // pseudo-header (src, dst, protocol, UDP length) + UDP header (ports, length) + payload
    const initial = this.srcSum + dstHi + dstLo + IP_PROTOCOL_UDP + udpLen + srcPort + dstPort + udpLen;
    const uc = ~onesComplementSum(payload, 0, plen, initial) & 0xffff;
    out[26] = uc === 0 ? 0xff : uc >>> 8;
    out[27] = uc === 0 ? 0xff : uc;
    return out;
  }
}
