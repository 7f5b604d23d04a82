// Shared by the packet-AEAD addon tests that run once per addon path: the paths, whether this
// build offers each (PACKET_AEAD_ADDON_PATHS), the "(skipped: …)" suffix a test title carries
// when the addon or the path is missing, a seeded byte pattern (LCG) for plaintexts and ADs, and
// the reference seal (libsodium's ChaCha20-Poly1305 IETF with the packet-number nonce).
import { sodium } from '../../src/session/noise/sodium.ts';
import { writeNonce } from '../../src/session/noise/primitives.ts';
import { PACKET_AEAD_ADDON_PATHS, PACKET_AEAD_FALLBACK_REASON, nativePacketAeadAddon as addon } from '../../src/session/noise/packet-aead.ts';

export const PATHS = ['direct', 'evp'] as const;
export const has = (p: 'direct' | 'evp') => PACKET_AEAD_ADDON_PATHS.includes(p);
export const why = (p: string) => (addon === undefined ? ` (skipped: ${PACKET_AEAD_FALLBACK_REASON})` : has(p as 'direct') ? '' : ` (skipped: ${p} unavailable)`);

export function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

export const TAG = 16;

/** What every path must produce: libsodium's seal of m with the packet-number nonce. */
export function reference(key: Uint8Array, pn: number, ad: Uint8Array, m: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(12), c = new Uint8Array(m.length + TAG);
  writeNonce(nonce, pn);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(c, m, ad, null, nonce, key);
  return c;
}
