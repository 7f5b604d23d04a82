// Adversarial review of the packet-AEAD addon (src/session/native/tincan_aead.c) and its
// loader (src/session/noise/packet-aead.ts), both addon paths:
// - byte identity with libsodium at the sizes where the direct path changes how it calls
//   ChaCha20_ctr32 (keystream head 192 B, whole KiB + <= 256 B tail split, 16 KiB sealing
//   chunks beyond 32 KiB) and at the largest UDP/Noise packets, in place and not, and the
//   open of each, with AD around the 48-byte padded copy;
// - the raw entry points refuse (-2) partly overlapping in/out buffers and AD overlapping
//   the output (non-uint32 offsets/lengths: review-packet-aead-args.test.ts); AD overlapping only the INPUT is allowed
//   and gives libsodium's bytes;
// - handle life cycle: destroy twice, use after destroy, a handle of the wrong direction,
//   a UDP-socket handle (the other addon's type tag) and plain objects refused; a key slot
//   reused after destroy holds the new key only (libsodium's bytes) and key pages do not
//   grow over create/destroy cycles;
// - the loader's self-check: an addon whose direct path is wrong is used through EVP, one
//   whose both paths are wrong is not used at all (libsodium), via TINCAN_AEAD_ADDON
//   pointing at a wrapper module (fresh module instance per case).
// Skips (with the reason) where the addon or a path is unavailable.
import { describe, it, expect, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADDON_PATH, nativePacketAeadAddon as addon } from '../../src/session/noise/packet-aead.ts';
import { PATHS, TAG, has, why, pattern, reference } from './aead-paths.ts';
import { bindUdp, nativeUdp } from '../../src/datagram/udp.ts';
import { ROOT } from '../native-asan.ts';

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

const BOUNDARY_SIZES = [
  0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256, 257, 447, 448, 449, 1023, 1024, 1025,
  1216, 1217, 1279, 1280, 1281, 2047, 2048, 2049, 2303, 2304, 2305, 4095, 4096, 4097, 16383, 16384, 16385,
  16576, 16577, 32767, 32768, 32769, 32960, 32961, 49151, 49152, 49153, 49344, 49345, 65279, 65280, 65281,
  65471, 65472, 65473, 65491, 65507, 65519, 65535, 65536, 65537, 131_072 + 129,
];
const AD_SIZES = [0, 1, 13, 47, 48, 49, 64, 200];

describe.each(PATHS)('packet AEAD %s path: review', (path) => {
  const skip = addon === undefined || !has(path);
  const code = ADDON_PATH[path];

  it.skipIf(skip)(`byte-identical to libsodium at every chunk/split boundary size (0..131,201 B, ${BOUNDARY_SIZES.length} sizes x AD 0..200), in place at an odd offset and not; opens both${why(path)}`, () => {
    const a = addon!;
    const key = pattern(32, 77);
    const enc = a.create(key, true, code), dec = a.create(key, false, code);
    try {
      for (const [i, size] of BOUNDARY_SIZES.entries()) {
        const ad = pattern(AD_SIZES[i % AD_SIZES.length]!, i), m = pattern(size, size ^ 0x5a5a);
        const pn = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 123_456_789][i % 6]!;
        const want = reference(key, pn, ad, m);
        const c = new Uint8Array(size + TAG);
        expect(a.seal(enc, c, m, ad, pn), `seal ${size}`).toBe(0);
        expect(eq(c, want), `seal ${size} B, AD ${ad.length}`).toBe(true);
        const buf = new Uint8Array(size + TAG + 7);
        buf.set(m, 3);
        expect(a.sealInPlace(enc, buf, 3, size, ad, pn)).toBe(0);
        expect(eq(buf.subarray(3, 3 + size + TAG), want), `sealInPlace ${size}`).toBe(true);
        expect(buf[0] | buf[1] | buf[2] | buf[size + TAG + 3]! | buf[size + TAG + 6]!, 'bytes around untouched').toBe(0);
        const back = new Uint8Array(size);
        expect(a.open(dec, back, want, ad, pn), `open ${size}`).toBe(0);
        expect(eq(back, m)).toBe(true);
        const inPlace = want.slice();
        expect(a.openInPlace(dec, inPlace, ad, pn)).toBe(0);
        expect(eq(inPlace.subarray(0, size), m), `openInPlace ${size}`).toBe(true);
        // a flipped last ciphertext byte (or tag byte when empty) is refused and zeroes the output
        const forged = want.slice();
        forged[Math.max(0, size - 1)] ^= 1;
        expect(a.openInPlace(dec, forged, ad, pn)).toBe(-1);
        expect(forged.subarray(0, size).every((x) => x === 0)).toBe(true);
      }
    } finally {
      a.destroy(enc); a.destroy(dec);
    }
  });

  it.skipIf(skip)(`partly overlapping in/out buffers and AD over the output are refused; AD over the input only, and exact in-place, match libsodium${why(path)}`, () => {
    const a = addon!;
    const key = pattern(32, 2);
    const enc = a.create(key, true, code), dec = a.create(key, false, code);
    try {
      const n = 300;
      const mem = pattern(2 * n + 64, 3);
      // seal: c starts 1 byte after m (partial overlap), and m starts 1 byte after c
      expect(a.seal(enc, mem.subarray(1, 1 + n + TAG), mem.subarray(0, n), new Uint8Array(0), 1)).toBe(-2);
      expect(a.seal(enc, mem.subarray(0, n + TAG), mem.subarray(1, 1 + n), new Uint8Array(0), 1)).toBe(-2);
      // open: the same
      expect(a.open(dec, mem.subarray(1, 1 + n), mem.subarray(0, n + TAG), new Uint8Array(0), 1)).toBe(-2);
      expect(a.open(dec, mem.subarray(0, n), mem.subarray(1, 1 + n + TAG), new Uint8Array(0), 1)).toBe(-2);
      // AD overlapping the output (the tag's last byte; the first ciphertext byte)
      const buf = pattern(n + TAG + 40, 4);
      expect(a.sealInPlace(enc, buf, 0, n, buf.subarray(n + TAG - 1, n + TAG + 13), 1)).toBe(-2);
      expect(a.seal(enc, buf.subarray(20, 20 + n + TAG), new Uint8Array(n), buf.subarray(0, 21), 1)).toBe(-2);
      const ct = reference(key, 1, new Uint8Array(0), new Uint8Array(n));
      const out = new Uint8Array(n + 13);
      expect(a.open(dec, out.subarray(0, n), ct, out.subarray(n - 1, n + 12), 1)).toBe(-2);
      // AD overlapping only the input of seal: allowed, libsodium's bytes (AD read before any write)
      const src = pattern(n + 40, 5), m = src.subarray(0, n), ad = src.subarray(n - 20, n + 20);
      const want = reference(key, 9, ad.slice(), m.slice());
      const c = new Uint8Array(n + TAG);
      expect(a.seal(enc, c, m, ad, 9)).toBe(0);
      expect(eq(c, want)).toBe(true);
      // AD overlapping the ciphertext input of open (out of place) is allowed: a wrong tag is -1 (checked, output zeroed), not -2
      const cbuf = pattern(n + TAG + 10, 6), outm = pattern(n, 7);
      expect(a.open(dec, outm, cbuf.subarray(0, n + TAG), cbuf.subarray(n + TAG - 5, n + TAG + 10), 11)).toBe(-1);
      expect(outm.every((x) => x === 0)).toBe(true);
    } finally {
      a.destroy(enc); a.destroy(dec);
    }
  });

  it.skipIf(skip)(`handles: destroy twice, use after destroy, wrong direction, a UDP socket's handle and plain values are refused; no crash${why(path)}`, async () => {
    const a = addon!;
    const key = pattern(32, 3);
    const enc = a.create(key, true, code), dec = a.create(key, false, code);
    const c = new Uint8Array(10 + TAG), m = new Uint8Array(10), ad = new Uint8Array(0);
    // wrong direction
    expect(a.seal(dec, c, m, ad, 1)).toBe(-2);
    expect(a.sealInPlace(dec, c, 0, 10, ad, 1)).toBe(-2);
    expect(a.open(enc, m, c, ad, 1)).toBe(-2);
    expect(a.openInPlace(enc, c, ad, 1)).toBe(-2);
    expect(a.destroy(enc)).toBe(0);
    expect(a.destroy(enc)).toBe(0); // idempotent, no double free
    expect(a.path(enc)).toBe(-2);
    expect(a.seal(enc, c, m, ad, 1)).toBe(-2);
    expect(a.sealInPlace(enc, c, 0, 10, ad, 1)).toBe(-2);
    expect(a.nop(enc)).toBe(0); // still a tagged external
    for (const v of [{}, null, undefined, 0, 'x', new Uint8Array(16), Symbol('h')]) {
      expect(a.path(v as object)).toBe(-2);
      expect(a.destroy(v as object)).toBe(-2);
      expect(a.seal(v as object, c, m, ad, 1)).toBe(-2);
    }
    if (nativeUdp.available) {
      const s = await bindUdp({ address: '127.0.0.1', impl: 'native' });
      try {
        const udpHandle = (s as unknown as { handle: object }).handle;
        expect([a.path(udpHandle), a.destroy(udpHandle), a.nop(udpHandle), a.seal(udpHandle, c, m, ad, 1), a.open(udpHandle, m, c, ad, 1),
          a.openInPlace(udpHandle, c, ad, 1), a.sealInPlace(udpHandle, c, 0, 10, ad, 1), a.decryptedBytes(udpHandle)]).toEqual([-2, -2, -2, -2, -2, -2, -2, -2]);
        // and the AEAD handle given to the UDP addon is refused there (a TypeError, not a misread)
        const raw = s as unknown as { addon: { flush(h: unknown, n: number): void; recvMode(h: unknown, m: number): void } };
        expect(() => raw.addon.flush(dec, 0)).toThrow(TypeError);
        expect(() => raw.addon.recvMode(dec, 1)).toThrow(TypeError);
      } finally {
        s.close();
        await s.whenClosed();
      }
    }
    a.destroy(dec);
    expect(a.open(dec, m, c, ad, 1)).toBe(-2);
    expect(a.openInPlace(dec, c, ad, 1)).toBe(-2);
  });

  it.skipIf(skip)(`a key slot reused after destroy carries only the new key (libsodium's bytes); 3,000 create/destroy cycles do not grow the key pages${why(path)}`, () => {
    const a = addon!;
    const pages0 = a.keyPages()[0];
    for (let i = 0; i < 3000; i++) {
      const key = pattern(32, 1000 + i);
      const h = a.create(key, true, code);
      if (i % 100 === 0) {
        const m = pattern(70, i), ad = pattern(13, i), c = new Uint8Array(70 + TAG);
        expect(a.seal(h, c, m, ad, i)).toBe(0);
        expect(eq(c, reference(key, i, ad, m)), `cycle ${i}`).toBe(true);
      }
      a.destroy(h);
    }
    expect(a.keyPages()[0] - pages0).toBeLessThanOrEqual(1);
  });
});

describe('packet AEAD loader self-check (wrapper addons via TINCAN_AEAD_ADDON)', () => {
  const skip = addon === undefined || !has('direct') || !has('evp');
  const real = join(ROOT, 'src', 'session', 'native', 'build', 'Release', 'tincan_aead.node');
  /** A CommonJS wrapper around the real addon whose seal on `broken` paths flips one output bit. */
  const wrapper = (broken: number[]) => `
const a = require(${JSON.stringify(real)});
const broken = new Set(${JSON.stringify(broken)});
const paths = new WeakMap();
module.exports = { ...a, direct: a.direct,
  create(k, e, p) { const h = a.create(k, e, p); paths.set(h, p === undefined || p === 0 ? (a.direct ? 1 : 2) : p); return h; },
  seal(h, c, m, ad, pn) { const r = a.seal(h, c, m, ad, pn); if (r === 0 && broken.has(paths.get(h)) && m.length === 1200) c[c.length - 1] ^= 1; return r; },
};`;

  async function load(broken: number[], env: Record<string, string | undefined>) {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-aead-review-'));
    const file = join(dir, 'wrapper.cjs');
    writeFileSync(file, wrapper(broken));
    const saved = { TINCAN_AEAD_ADDON: process.env.TINCAN_AEAD_ADDON, TINCAN_PACKET_AEAD: process.env.TINCAN_PACKET_AEAD };
    try {
      process.env.TINCAN_AEAD_ADDON = file;
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      vi.resetModules();
      return await import('../../src/session/noise/packet-aead.ts');
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      vi.resetModules();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it.skipIf(skip)('a wrong direct path (one bit of a 1,200 B seal) falls back to EVP with the reason; both wrong: libsodium; none wrong: direct', async () => {
    const none = await load([], { TINCAN_PACKET_AEAD: undefined });
    expect([none.PACKET_AEAD_IMPL, none.PACKET_AEAD_ADDON_PATHS]).toEqual(['openssl-direct', ['direct', 'evp']]);
    const d = await load([1], { TINCAN_PACKET_AEAD: undefined });
    expect([d.PACKET_AEAD_IMPL, d.PACKET_AEAD_ADDON_PATHS, d.PACKET_AEAD_EVP_REASON]).toEqual(['openssl-evp', ['evp'], 'the direct path failed its self-check against libsodium']);
    const both = await load([1, 2], { TINCAN_PACKET_AEAD: undefined });
    expect([both.PACKET_AEAD_IMPL, both.PACKET_AEAD_BACKEND, both.PACKET_AEAD_FALLBACK_REASON]).toEqual(['libsodium', 'libsodium', 'native addon failed its self-check against libsodium']);
    // a key from the fallen-back module still round-trips with libsodium's bytes
    const k = pattern(32, 4), ad = pattern(13, 5), m = pattern(1200, 6);
    const e = both.packetAead(k, true), c = new Uint8Array(1200 + TAG);
    e.seal(c, m, ad, 7);
    expect(eq(c, reference(k, 7, ad, m))).toBe(true);
    // forced EVP with a broken EVP: not the (unchecked) direct path, libsodium
    const forced = await load([2], { TINCAN_PACKET_AEAD: 'openssl-evp' });
    expect(forced.PACKET_AEAD_IMPL).toBe('libsodium');
  });
});
