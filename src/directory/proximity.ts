// "Nearest first" for the supernode list, without a geo database: network
// proximity is the length of the address prefix a supernode shares with the
// client, counted in whole octets (0, 8, 16, 24, 32 bits for IPv4; 0..128 in
// steps of 8 for IPv6). Addresses of different families share 0 bits; an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as its IPv4 address.
// Contract: orderNearest is a stable sort by proximity, longest first, so
// among equally near supernodes the input order (least loaded first) stays.
import { ipToBytes } from '../wire/ip-address.ts';

function bytesOf(address: string): Uint8Array | undefined {
  const a = address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  try { return ipToBytes(a); } catch { return undefined; }
}

/** Shared prefix of two IP literals in bits, rounded down to whole octets; 0 if either is not an IP literal. */
export function sharedPrefixBits(a: string, b: string): number {
  const x = bytesOf(a), y = bytesOf(b);
  if (!x || !y || x.length !== y.length) return 0;
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  return i * 8;
}

/** `items` nearest to `client` first (stable: ties keep their order), each with its prefixBits. */
export function orderNearest<T extends { address: string }>(items: readonly T[], client: string): (T & { prefixBits: number })[] {
  return items.map((s) => ({ ...s, prefixBits: sharedPrefixBits(s.address, client) }))
    .map((s, i) => ({ s, i }))
    .sort((p, q) => q.s.prefixBits - p.s.prefixBits || p.i - q.i)
    .map((p) => p.s);
}
