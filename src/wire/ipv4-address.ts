// IPv4 address text <-> unsigned 32-bit number (network order: "1.2.3.4" = 0x01020304).
// Strict dotted-quad parsing: four decimal parts 0..255, no leading zeros, no
// spaces; anything else is a DecodeError. u32ToIpv4 keeps a small bounded cache
// so hot paths reuse strings instead of allocating new ones.
import { DecodeError } from './errors.ts';

/** Parse "a.b.c.d" into an unsigned 32-bit number. Throws DecodeError('ipv4-address', ...) on bad text. */
export function ipv4ToU32(s: string): number {
  if (typeof s !== 'string' || s.length < 7 || s.length > 15) throw bad(s);
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e; // virtual trailing '.'
    if (c === 0x2e) {
      if (digits === 0) throw bad(s);
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) throw bad(s); // leading zero
      part = part * 10 + (c - 0x30);
      digits++;
      if (part > 255) throw bad(s);
    } else {
      throw bad(s);
    }
  }
  if (parts !== 4) throw bad(s);
  return value >>> 0;
}

/** True when `s` is a valid dotted-quad IPv4 address. */
export function isIpv4(s: string): boolean {
  try {
    ipv4ToU32(s);
    return true;
  } catch {
    return false;
  }
}

const CACHE_LIMIT = 4096;
const cache = new Map<number, string>();

/** Format an unsigned 32-bit number as "a.b.c.d" (the value is taken modulo 2^32). */
export function u32ToIpv4(n: number): string {
  const v = n >>> 0;
  const hit = cache.get(v);
  if (hit !== undefined) return hit;
  const s = `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(v, s);
  return s;
}

function bad(s: unknown): DecodeError {
  const shown = typeof s === 'string' ? JSON.stringify(s.length > 40 ? s.slice(0, 40) + '...' : s) : typeof s;
  return new DecodeError('ipv4-address', `not a dotted-quad IPv4 address: ${shown}`);
}
