// The packet-AEAD addon's sealInPlace (src/session/native/tincan_aead.c) refuses (-2) offsets
// and lengths that are not uint32 integers (2^32 + x, fractions, negative, NaN, Infinity)
// instead of wrapping or truncating them (napi_get_value_uint32 does both), and writes nothing:
// the contract is "all arguments checked here; a wrong type or size returns -2". Both paths.
import { describe, it, expect } from 'vitest';
import { ADDON_PATH, nativePacketAeadAddon as addon } from '../../src/session/noise/packet-aead.ts';
import { PATHS, has, why, pattern } from './aead-paths.ts';

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

describe.each(PATHS)('packet AEAD %s path: sealInPlace argument ranges', (path) => {
  const skip = addon === undefined || !has(path);
  const code = ADDON_PATH[path];

  it.skipIf(skip)(`offsets/lengths that are not uint32 integers are refused (-2), not wrapped or truncated; nothing written${why(path)}`, () => {
    const a = addon!;
    const key = pattern(32, 1);
    const enc = a.create(key, true, code);
    try {
      const ad = new Uint8Array(13);
      const bad: [number, number][] = [
        [2 ** 32, 10], [2 ** 32 + 3, 10], [3, 2 ** 32 + 10], [-1, 10], [3, -1], [1.5, 10], [3, 10.5], [NaN, 10], [3, NaN],
        [Infinity, 10], [3, Infinity], [-(2 ** 32) + 3, 10],
      ];
      const results = bad.map(([off, len]) => {
        const buf = pattern(64, 9), before = buf.slice();
        const r = a.sealInPlace(enc, buf, off, len, ad, 1);
        return { off, len, r, untouched: eq(buf, before) };
      });
      expect(results.filter((x) => x.r !== -2 || !x.untouched)).toEqual([]);
    } finally {
      a.destroy(enc);
    }
  });

});
