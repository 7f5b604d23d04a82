// Shared byte fixtures and a seeded PRNG for the wire tests.

/**
 * A REAL captured packet: 198.51.100.1:45679 -> 198.51.100.2:45678, payload "tincan wire fixture".
 * Captured on 2026-11-24 with: two network namespaces joined by a veth pair
 * (198.51.100.1/24 <-> 198.51.100.2/24), TX checksum offload switched off on the
 * sender's veth (`ethtool -K <veth> tx off`) so the kernel computes the UDP checksum in
 * software, `tshark -i <peer veth> -c 1 -w x.pcap -f 'udp port 45678'` in the receiving
 * namespace, and node: dgram.createSocket('udp4').bind(45679,'198.51.100.1') then
 * send('tincan wire fixture', 45678, '198.51.100.2'). Bytes below are the frame minus
 * its 14-byte Ethernet header. tshark: IP checksum 0xd12c [correct], UDP 0x59d9 [correct].
 */
export const CAPTURED_HEX =
  '4500002f152740004011d12cc6336401c6336402' + 'b26fb26e001b59d9' + '74696e63616e20776972652066697874757265';

/**
 * Also real: the same datagram sent over loopback (127.0.0.1:45679 -> 127.0.0.1:45678)
 * and captured with `tshark -i lo`. lo has checksum offload fixed on, so the UDP checksum
 * field holds only the partial pseudo-header sum (0xfe2e; the correct one is 0xb041).
 * tshark flags it as bad; our decoder must reject it.
 */
export const LOOPBACK_OFFLOADED_HEX =
  '4500002f494d40004011f36e7f0000017f000001' + 'b26fb26e001bfe2e' + '74696e63616e20776972652066697874757265';

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** mulberry32: small seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

/** A mutated copy of `base`: flipped bytes, truncation or extension, random runs. */
export function mutate(rand: () => number, base: Uint8Array): Uint8Array {
  const r = rand();
  let b: Uint8Array;
  if (r < 0.15) b = base.slice(0, (rand() * (base.length + 1)) | 0);
  else if (r < 0.25) {
    b = new Uint8Array(base.length + 1 + ((rand() * 16) | 0));
    b.set(base);
  } else b = base.slice();
  const flips = 1 + ((rand() * 4) | 0);
  for (let i = 0; i < flips && b.length > 0; i++) {
    const at = (rand() * Math.min(b.length, rand() < 0.7 ? 40 : b.length)) | 0;
    b[at] = rand() < 0.5 ? (rand() * 256) | 0 : b[at] ^ (1 << ((rand() * 8) | 0));
  }
  return b;
}
