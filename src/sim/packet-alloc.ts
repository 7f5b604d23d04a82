// Packet buffers for the simulator's send path, carved from 16 KiB slabs (like Node's
// Buffer pool) instead of one ArrayBuffer per packet: allocating a typed array with
// its own backing store costs ~10x more than a view. A retained packet or payload view
// keeps at most its 16 KiB slab alive. Packets are built with the wire emitters
// (emitIpv4Header + emitUdpInto), byte-identical to wire's buildUdpPacket.
// `HeaderTemplates` (one per host) keeps the emitted IPv4 header per destination and
// patches total length and identification with RFC 1624 updates, so the send path does
// not re-parse address strings for every packet.
import { updateChecksum } from '../wire/checksum.ts';
import { emitIpv4Header, IP_PROTOCOL_UDP, IPV4_CHECKSUM, IPV4_IDENTIFICATION, IPV4_MIN_HEADER, IPV4_TOTAL_LENGTH, type Ipv4Repr } from '../wire/ipv4.ts';
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

const TEMPLATE_LIMIT = 256;

/** Per-sender cache of IPv4 headers (for one source address and TTL), keyed by destination. */
export class HeaderTemplates {
  private readonly byDst = new Map<string, Uint8Array>();

  constructor(private readonly srcAddr: string, private readonly srcU32: number, private readonly ttl: number) {}

  /** Same bytes as buildPacket(srcAddr, srcU32, srcPort, dstAddr, dstU32, dstPort, payload, ttl, identification). */
  build(srcPort: number, dstAddr: string, dstU32: number, dstPort: number, payload: Uint8Array, identification: number): Uint8Array {
    let tpl = this.byDst.get(dstAddr);
    if (tpl === undefined) {
      // Header for total length 20 and identification 0; both are patched per packet.
      tpl = new Uint8Array(IPV4_MIN_HEADER);
      const repr: Ipv4Repr = { src: this.srcAddr, dst: dstAddr, protocol: IP_PROTOCOL_UDP, ttl: this.ttl, identification: 0, dontFragment: true, dscp: 0, ecn: 0 };
      emitIpv4Header(repr, 0, tpl, 0);
      if (this.byDst.size >= TEMPLATE_LIMIT) this.byDst.clear();
      this.byDst.set(dstAddr, tpl);
    }
    const udpLen = UDP_HEADER_LEN + payload.length;
    const total = IPV4_MIN_HEADER + udpLen;
    const out = allocPacket(total);
    // 20 bytes: a plain loop beats TypedArray#set's call overhead at this size
    for (let i = 0; i < IPV4_MIN_HEADER; i++) out[i] = tpl[i];
    let c = (tpl[IPV4_CHECKSUM] << 8) | tpl[IPV4_CHECKSUM + 1];
    c = updateChecksum(c, IPV4_MIN_HEADER, total);
    c = updateChecksum(c, 0, identification);
    out[IPV4_TOTAL_LENGTH] = total >>> 8;
    out[IPV4_TOTAL_LENGTH + 1] = total;
    out[IPV4_IDENTIFICATION] = identification >>> 8;
    out[IPV4_IDENTIFICATION + 1] = identification;
    out[IPV4_CHECKSUM] = c >>> 8;
    out[IPV4_CHECKSUM + 1] = c;
    emitUdpInto(this.srcU32, dstU32, { srcPort, dstPort }, payload, out, IPV4_MIN_HEADER);
    return out;
  }
}
