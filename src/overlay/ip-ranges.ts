// Which IPv4 addresses a public relay must never send to: loopback, private
// (RFC 1918), shared (RFC 6598), link-local, "this network", multicast, reserved
// and broadcast. The documentation ranges used by tests (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24) are deliberately NOT in this list so that the
// lab and simulator can play "the public internet" with them.
export type RangeName = 'this-network' | 'private' | 'shared' | 'loopback' | 'link-local' | 'multicast' | 'reserved';

const RANGES: [number, number, RangeName][] = [
  [0x00000000, 8, 'this-network'],
  [0x0a000000, 8, 'private'],
  [0x64400000, 10, 'shared'],
  [0x7f000000, 8, 'loopback'],
  [0xa9fe0000, 16, 'link-local'],
  [0xac100000, 12, 'private'],
  [0xc0a80000, 16, 'private'],
  [0xe0000000, 4, 'multicast'],
  [0xf0000000, 4, 'reserved'], // includes 255.255.255.255
];

function parse(address: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
}

/** The special range `address` falls in, 'invalid' if it is not a dotted quad, undefined if ordinary. */
export function specialRange(address: string): RangeName | 'invalid' | undefined {
  const n = parse(address);
  if (n === undefined) return 'invalid';
  for (const [base, bits, name] of RANGES) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === base) return name;
  }
  return undefined;
}
