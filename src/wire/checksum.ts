// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
// All values are 16-bit unsigned numbers. `onesComplementSum` returns the folded
// one's-complement sum of big-endian 16-bit words (an odd trailing byte is
// padded with a zero byte); `internetChecksum` returns the value to store in a
// header (the complement of that sum). Allocation-free.

/** One's-complement addition of two 16-bit values (end-around carry). */
export function onesComplementAdd(a: number, b: number): number {
  const s = a + b;
  return (s & 0xffff) + (s >>> 16);
}

/**
 * Folded one's-complement sum of bytes[start, end) read as big-endian 16-bit words,
 * starting from `initial` (a previous sum, e.g. of a pseudo-header).
 */
export function onesComplementSum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  // Plain number accumulation is exact up to 2^53, i.e. ~2^37 words: no folding inside the loop.
  let sum = initial;
  let i = start;
  const evenEnd = end - ((end - start) & 1);
  const octEnd = start + ((evenEnd - start) & ~7);
  while (i < octEnd) {
    sum += ((bytes[i] << 8) | bytes[i + 1]) + ((bytes[i + 2] << 8) | bytes[i + 3])
      + ((bytes[i + 4] << 8) | bytes[i + 5]) + ((bytes[i + 6] << 8) | bytes[i + 7]);
    i += 8;
  }
  const quadEnd = start + ((evenEnd - start) & ~3);
  while (i < quadEnd) {
    sum += ((bytes[i] << 8) | bytes[i + 1]) + ((bytes[i + 2] << 8) | bytes[i + 3]);
    i += 4;
  }
  if (i < evenEnd) {
    sum += (bytes[i] << 8) | bytes[i + 1];
    i += 2;
  }
  if (i < end) sum += bytes[i] << 8;
  if (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** RFC 1071 checksum of bytes[start, end) (with `initial` added in): the 16-bit value to store. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  return ~onesComplementSum(bytes, start, end, initial) & 0xffff;
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data
 * changed from `oldWord` to `newWord`: HC' = ~(~HC + ~m + m').
 */
export function updateChecksum(oldChecksum: number, oldWord: number, newWord: number): number {
  let sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** updateChecksum for a 32-bit field (e.g. an IPv4 address) = two word updates. */
export function updateChecksum32(oldChecksum: number, oldValue: number, newValue: number): number {
  let sum = (~oldChecksum & 0xffff)
    + (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff)
    + (newValue >>> 16) + (newValue & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
