// Per-hop IPv4 handling shared by routers and NATs, on raw packet bytes in place:
// validate with the wire layer's allocation-free checkIpv4 (version, IHL, lengths,
// header checksum), refuse TTL <= 1, decrement TTL with an incremental checksum
// update (RFC 1624). Nothing is allocated for a good packet.
import { DecodeError } from '../wire/errors.ts';
import { checkIpv4, decrementIpv4Ttl, IPV4_DST, IPV4_SRC, IPV4_TTL } from '../wire/ipv4.ts';
import { DROP } from './drops.ts';

/** Drop code for a packet that must not be forwarded, or -1 when it may. Does not modify bytes. */
export function checkForForwarding(bytes: Uint8Array): number {
  try {
    checkIpv4(bytes);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return decodeDropReason(err);
  }
  if (bytes[IPV4_TTL] <= 1) return DROP['ttl-expired'];
  return -1;
}

/** Map a wire DecodeError to the simulator's drop reason. */
export function decodeDropReason(err: DecodeError): number {
  return /checksum/i.test(err.message) ? DROP['bad-checksum'] : DROP.malformed;
}

/** TTL -= 1 with the header checksum patched. Caller checked TTL > 1. */
export function decrementTtl(bytes: Uint8Array): void {
  decrementIpv4Ttl(bytes);
}

export function readDst(bytes: Uint8Array): number {
  return ((bytes[IPV4_DST] << 24) | (bytes[IPV4_DST + 1] << 16) | (bytes[IPV4_DST + 2] << 8) | bytes[IPV4_DST + 3]) >>> 0;
}

export function readSrc(bytes: Uint8Array): number {
  return ((bytes[IPV4_SRC] << 24) | (bytes[IPV4_SRC + 1] << 16) | (bytes[IPV4_SRC + 2] << 8) | bytes[IPV4_SRC + 3]) >>> 0;
}
