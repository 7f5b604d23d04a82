// Shared by the packet-AEAD addon tests that run once per addon path: the paths, whether this
// build offers each (PACKET_AEAD_ADDON_PATHS), the "(skipped: …)" suffix a test title carries
// when the addon or the path is missing, and a seeded byte pattern (LCG) for plaintexts and ADs.
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
