// IP address text <-> bytes for codecs that carry either family (STUN address
// attributes). IPv4: strict dotted quad (see ipv4-address.ts). IPv6: RFC 4291
// text forms with '::' compression and an optional trailing dotted quad;
// output is the RFC 5952 canonical form (lowercase, longest run of two or more
// zero groups compressed, first one on a tie). Bad text -> DecodeError.
import { DecodeError } from './errors.ts';
import { ipv4ToU32 } from './ipv4-address.ts';

export type IpFamily = 4 | 6;

/** Family of an address string (6 if it contains ':'). Does not validate. */
export function ipFamilyOf(address: string): IpFamily {
  return address.includes(':') ? 6 : 4;
}

/** 4 bytes for IPv4, 16 for IPv6. Throws DecodeError('ip-address', ...) on bad text. */
export function ipToBytes(address: string): Uint8Array {
  if (ipFamilyOf(address) === 4) {
    const v = ipv4ToU32(address);
    return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  return ipv6ToBytes(address);
}

/** Text of a 4- or 16-byte address. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new DecodeError('ip-address', `an address has 4 or 16 bytes, not ${b.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

function ipv6ToBytes(text: string): Uint8Array {
  const bad = () => new DecodeError('ip-address', `not an IPv6 address: ${JSON.stringify(text.length > 60 ? text.slice(0, 60) + '...' : text)}`);
  if (text.length > 45 || text.length < 2) throw bad();
  const halves = text.split('::');
  if (halves.length > 2) throw bad();
  const parseSide = (side: string, allowV4Tail: boolean): number[] => {
    if (side === '') return [];
    const parts = side.split(':');
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (allowV4Tail && i === parts.length - 1 && p.includes('.')) {
        let v: number;
        try {
          v = ipv4ToU32(p);
        } catch {
          throw bad();
        }
        out.push(v >>> 16, v & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) throw bad();
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = parseSide(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? parseSide(halves[1], true) : [];
  let groups: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) throw bad();
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) throw bad();
    groups = head;
  }
  const b = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    b[2 * i] = groups[i] >>> 8;
    b[2 * i + 1] = groups[i] & 0xff;
  }
  return b;
}
