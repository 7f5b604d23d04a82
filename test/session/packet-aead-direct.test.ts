// The packet-AEAD addon's two paths (src/session/native/tincan_aead.c: `direct` =
// RFC 8439 on the ChaCha20_ctr32 / Poly1305_* that node exports, `evp` =
// EVP_chacha20_poly1305) against libsodium's public API and each other:
// - byte-identical ciphertext || tag for every size 0..2,100 and big ones (around
//   the 16 KiB sealing chunks, up to 1 MiB), AD of 0..100 bytes (none included; the direct path
//   hashes AD <= 48 bytes through a padded copy), in place at odd offsets and not,
//   seeded; each opens what the other two sealed;
// - forgeries refused: every tag bit, ciphertext bits at the keystream-split
//   boundaries (63/64, 191/192/193, 1,215/1,216/1,217, last byte), every AD byte,
//   AD shortened / lengthened / dropped, wrong pn (+-1, high bits), wrong key,
//   another packet's tag, a truncated packet: the open returns -1, the output is
//   zeroed (a zero-filled output stays all zeros), the tag bytes are untouched,
//   and on the direct path NOTHING was decrypted (decryptedBytes unchanged: the
//   tag is checked first), while the evp path's counter shows its full decryption;
// - the process default is direct where node exports the primitives (a test
//   FAILS on Linux x64 if not), TINCAN_PACKET_AEAD=openssl-evp forces evp
//   (children), libsodium forces libsodium;
// - create() refuses a path that is not undefined/0/1/2 with a RangeError;
// - selectPacketAeadPath (benchmarks) switches the path new keys get, refuses one not available;
// - direct-path keys live in the addon's key pages (mlock'ed where RLIMIT_MEMLOCK
//   allows: logged, not asserted), reused after destroy rather than growing;
// - the process-wide state (symbol lookup, key pages) holds up under 3 worker
//   threads creating, using and destroying direct handles at once.
// Skips (with the reason) where the addon or a path is unavailable.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { seededRandom } from '../../src/transport/random.ts';
import { sodium } from '../../src/session/noise/sodium.ts';
import { writeNonce } from '../../src/session/noise/primitives.ts';
import {
  ADDON_PATH, PACKET_AEAD_ADDON_PATHS, PACKET_AEAD_EVP_REASON, PACKET_AEAD_FALLBACK_REASON, PACKET_AEAD_IMPL, nativePacketAeadAddon,
  opensslPacketAead, packetAead, selectPacketAeadPath, sodiumPacketAead, type KeyedPacketAead,
} from '../../src/session/noise/packet-aead.ts';
import { ROOT } from '../native-asan.ts';

const SEED = 8439;
const TAG = 16;
const PATHS = ['direct', 'evp'] as const;
const has = (p: 'direct' | 'evp') => PACKET_AEAD_ADDON_PATHS.includes(p);
const skipWhy = (p: 'direct' | 'evp') => (has(p) ? '' : ` (skipped: ${PACKET_AEAD_FALLBACK_REASON ?? PACKET_AEAD_EVP_REASON ?? `the ${p} path is unavailable`})`);

function reference(key: Uint8Array, pn: number, ad: Uint8Array, m: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(12), c = new Uint8Array(m.length + TAG);
  writeNonce(nonce, pn);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(c, m, ad, null, nonce, key);
  return c;
}

const rng = (seed: number) => {
  const r = seededRandom(seed);
  return { int: (n: number) => Math.floor((r.nextU32() / 2 ** 32) * n), bytes: (n: number) => r.fill(new Uint8Array(n)) };
};

describe('packet AEAD addon paths', () => {
  const forced = process.env.TINCAN_PACKET_AEAD;
  const expectDirect = process.platform === 'linux' && process.arch === 'x64' && forced === undefined && nativePacketAeadAddon !== undefined;
  it.skipIf(!expectDirect)(`on Linux x64 node exports ChaCha20_ctr32/Poly1305_* and packets use openssl-direct${expectDirect ? '' : ' (skipped: not Linux x64, addon not in use, or TINCAN_PACKET_AEAD set)'}`, () => {
    expect(nativePacketAeadAddon!.direct, 'node exports the primitives (nm -D $(which node) | grep Poly1305_)').toBe(true);
    expect(PACKET_AEAD_ADDON_PATHS).toEqual(['direct', 'evp']);
    expect(PACKET_AEAD_IMPL, PACKET_AEAD_EVP_REASON).toBe('openssl-direct');
    expect(PACKET_AEAD_EVP_REASON).toBeUndefined();
  });

  it.skipIf(!has('direct') || !has('evp'))(`TINCAN_PACKET_AEAD picks the implementation for the process: openssl-evp, libsodium, unset = direct (children)${has('direct') && has('evp') ? '' : ' (skipped: a path is unavailable)'}`, () => {
    const probe = `const m = await import(${JSON.stringify(join(ROOT, 'src', 'session', 'noise', 'packet-aead.ts'))});
      const a = m.packetAead(new Uint8Array(32), true);
      console.log(JSON.stringify([m.PACKET_AEAD_IMPL, m.PACKET_AEAD_BACKEND, a.impl, m.PACKET_AEAD_EVP_REASON ?? null, m.PACKET_AEAD_FALLBACK_REASON ?? null]));`;
    const run = (v: string | undefined) => {
      const env = { ...process.env };
      if (v === undefined) delete env.TINCAN_PACKET_AEAD; else env.TINCAN_PACKET_AEAD = v;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    };
    expect(run('openssl-evp')).toEqual(['openssl-evp', 'openssl', 'openssl-evp', 'TINCAN_PACKET_AEAD=openssl-evp', null]);
    expect(run('libsodium')).toEqual(['libsodium', 'libsodium', 'libsodium', null, 'TINCAN_PACKET_AEAD=libsodium']);
    expect(run(undefined)).toEqual(['openssl-direct', 'openssl', 'openssl-direct', null, null]);
  }, 120_000);

  for (const path of PATHS) {
    it.skipIf(!has(path))(`openssl-${path}: byte-identical to libsodium for every size 0..2,100 and big ones, AD 0..100 bytes, in place at odd offsets and not; opens libsodium's and the other path's packets (seed ${SEED})${skipWhy(path)}`, () => {
      const r = rng(SEED);
      const other = PATHS.find((p) => p !== path)!;
      const sizes = [...Array.from({ length: 2101 }, (_, i) => i), 4095, 4096, 4097, 8191, 16383, 16384, 16385, 32_767, 32_768, 32_769, 49_344, 49_345, 65_000, 65_507, 65_535, 1 << 20];
      const key = r.bytes(32);
      const enc = opensslPacketAead(key, true, path)!, dec = opensslPacketAead(key, false, path)!;
      const otherDec: KeyedPacketAead | undefined = has(other) ? opensslPacketAead(key, false, other) : undefined;
      const sod = sodiumPacketAead(key);
      for (const size of sizes) {
        const pn = size % 3 === 0 ? size : size % 3 === 1 ? 2 ** 53 - 1 - size : 2 ** 32 + size;
        const ad = r.bytes([0, 1, 13, 15, 16, 17, 32, 40, 47, 48, 49, 100][size % 12]), m = r.bytes(size);
        const want = reference(key, pn, ad, m);
        const ctx = `size ${size} ad ${ad.length} pn ${pn} seed ${SEED}`;
        const c = new Uint8Array(size + TAG);
        enc.seal(c, m, ad, pn);
        if (Buffer.compare(c, want) !== 0) expect.fail(`seal differs from libsodium: ${ctx}`);
        const off = 1 + r.int(24), buf = new Uint8Array(off + size + TAG + 3);
        buf.set(m, off);
        enc.sealInPlace(buf, off, size, ad, pn);
        if (Buffer.compare(buf.subarray(off, off + size + TAG), want) !== 0) expect.fail(`sealInPlace differs from libsodium: ${ctx}`);
        const back = new Uint8Array(size);
        if (!dec.open(back, want, ad, pn) || Buffer.compare(back, m) !== 0) expect.fail(`open: ${ctx}`);
        const ip = buf.subarray(off, off + size + TAG);
        if (!dec.openInPlace(ip, ad, pn) || Buffer.compare(ip.subarray(0, size), m) !== 0) expect.fail(`openInPlace: ${ctx}`);
        if (otherDec) {
          const o = new Uint8Array(size);
          if (!otherDec.open(o, c, ad, pn) || Buffer.compare(o, m) !== 0) expect.fail(`the ${other} path cannot open it: ${ctx}`);
        }
        const s = new Uint8Array(size);
        if (!sod.open(s, c, ad, pn) || Buffer.compare(s, m) !== 0) expect.fail(`libsodium cannot open it: ${ctx}`);
      }
      enc.destroy(); dec.destroy(); otherDec?.destroy(); sod.destroy();
    }, 60_000);

    it.skipIf(!has(path))(`openssl-${path}: refuses every tag bit, ciphertext bits at the keystream-split boundaries, AD bytes and length, wrong pn/key, another tag, truncation — output zeroed, tag untouched${path === 'direct' ? ', nothing decrypted (the tag is checked first)' : ' (evp decrypts, then zeroes)'}${skipWhy(path)}`, () => {
      const a = nativePacketAeadAddon!;
      const r = rng(SEED + 1);
      const key = r.bytes(32), otherKey = r.bytes(32);
      const enc = a.create(key, true, ADDON_PATH[path]), dec = a.create(key, false, ADDON_PATH[path]), wrong = a.create(otherKey, false, ADDON_PATH[path]);
      for (const size of [0, 1, 15, 16, 63, 64, 65, 191, 192, 193, 255, 256, 257, 1200, 1215, 1216, 1217, 1400, 2240, 65_000]) {
        const ad = r.bytes(size % 2 ? 13 : 16), m = r.bytes(size), pn = 1000 + size;
        const sealed = new Uint8Array(size + TAG);
        expect(a.seal(enc, sealed, m, ad, pn)).toBe(0);
        const forgeries: [string, Uint8Array, Uint8Array, number, object?][] = [];
        for (let bit = 0; bit < TAG * 8; bit++) { const f = sealed.slice(); f[size + (bit >> 3)] ^= 1 << (bit & 7); forgeries.push([`tag bit ${bit}`, f, ad, pn]); }
        for (const at of new Set([0, 1, 63, 64, 65, 190, 191, 192, 193, 1215, 1216, 1217, size >> 1, size - 1].filter((x) => x >= 0 && x < size))) {
          for (const bit of [0, 7]) { const f = sealed.slice(); f[at] ^= 1 << bit; forgeries.push([`ciphertext byte ${at} bit ${bit}`, f, ad, pn]); }
        }
        for (let i = 0; i < ad.length; i++) { const h = ad.slice(); h[i] ^= 0x10; forgeries.push([`AD byte ${i}`, sealed.slice(), h, pn]); }
        const longer = new Uint8Array(ad.length + 1); longer.set(ad);
        forgeries.push(['AD one byte shorter', sealed.slice(), ad.slice(0, -1), pn], ['AD one zero byte longer', sealed.slice(), longer, pn], ['AD dropped', sealed.slice(), new Uint8Array(0), pn]);
        for (const p of [pn + 1, pn - 1, pn + 2 ** 32, pn + 2 ** 52]) forgeries.push([`pn ${p}`, sealed.slice(), ad, p]);
        forgeries.push(['wrong key', sealed.slice(), ad, pn, wrong]);
        const otherTag = new Uint8Array(size + TAG); expect(a.seal(enc, otherTag, m, ad, pn + 1)).toBe(0);
        const swapped = sealed.slice(); swapped.set(otherTag.subarray(size), size); forgeries.push(['the tag of the same bytes at pn+1', swapped, ad, pn]);
        if (size > 0) forgeries.push(['truncated by one byte', sealed.slice(0, -1), ad, pn]);
        for (const [what, f, fad, fpn, h] of forgeries) {
          const handle = h ?? dec, ctx = `size ${size}: ${what} (seed ${SEED + 1})`;
          const before = a.decryptedBytes(handle), n = f.length - TAG;
          // not in place: a zero-filled output stays all zeros, a filled one is zeroed
          for (const fill of [0, 0xee]) {
            const out = new Uint8Array(n).fill(fill);
            expect(a.open(handle, out, f, fad, fpn), ctx).toBe(-1);
            if (out.some((x) => x !== 0)) expect.fail(`${ctx}: output not zeroed`);
          }
          const ip = f.slice();
          expect(a.openInPlace(handle, ip, fad, fpn), ctx).toBe(-1);
          if (ip.subarray(0, n).some((x) => x !== 0)) expect.fail(`${ctx}: in-place output not zeroed`);
          expect(Buffer.compare(ip.subarray(n), f.subarray(n)), `${ctx}: tag bytes untouched`).toBe(0);
          if (path === 'direct') expect(a.decryptedBytes(handle), `${ctx}: nothing decrypted`).toBe(before);
          else expect(a.decryptedBytes(handle), `${ctx}: evp decrypts before it knows`).toBe(before + 3 * n);
        }
        // and the genuine packet still opens, on the same handle, after all those forgeries
        const before = a.decryptedBytes(dec), ok = sealed.slice();
        expect(a.openInPlace(dec, ok, ad, pn), `size ${size} genuine`).toBe(0);
        expect(Buffer.compare(ok.subarray(0, size), m)).toBe(0);
        expect(a.decryptedBytes(dec)).toBe(before + size);
      }
      for (const h of [enc, dec, wrong]) expect(a.destroy(h)).toBe(0);
    }, 60_000);
  }

  it.skipIf(!nativePacketAeadAddon)(`create() takes path undefined/0/1/2 and refuses anything else with a RangeError${nativePacketAeadAddon ? '' : ` (skipped: ${PACKET_AEAD_FALLBACK_REASON})`}`, () => {
    const a = nativePacketAeadAddon!, key = new Uint8Array(32);
    const auto = a.direct ? 1 : 2;
    for (const [p, want] of [[undefined, auto], [0, auto], [2, 2], ...(a.direct ? [[1, 1]] : [])] as const) {
      const h = a.create(key, true, p);
      expect(a.path(h), `path ${p}`).toBe(want);
      expect(a.nop(h)).toBe(0);
      expect(a.decryptedBytes(h)).toBe(0);
      a.destroy(h);
    }
    for (const p of [3, -1, 1.5, Number.NaN, '1', null, {}, true, 2n]) expect(() => a.create(key, true, p as number), String(p)).toThrow(RangeError);
    expect(() => (a.create as (...x: unknown[]) => unknown)(key, true, 1, 1)).toThrow(RangeError);
    if (!a.direct) expect(() => a.create(key, true, 1)).toThrow(/direct path is unavailable/);
  });

  it.skipIf(!has('direct'))(`direct keys live in the addon's key pages, reused once destroyed (pages do not grow on a second round)${skipWhy('direct')}`, () => {
    const a = nativePacketAeadAddon!, key = new Uint8Array(32).fill(1);
    const round = () => { const hs = Array.from({ length: 300 }, (_, i) => a.create(key, i % 2 === 0, 1)); for (const h of hs) expect(a.destroy(h)).toBe(0); };
    const [p0] = a.keyPages();
    round();
    const [p1, locked] = a.keyPages();
    expect(p1).toBeGreaterThan(0);
    expect(p1).toBeGreaterThanOrEqual(p0);
    expect(locked).toBeLessThanOrEqual(p1);
    round(); round();
    expect(a.keyPages()[0], 'freed slots are reused').toBe(p1);
    // EVP handles take no key slot
    const evp = Array.from({ length: 300 }, () => a.create(key, true, 2));
    expect(a.keyPages()[0]).toBe(p1);
    for (const h of evp) a.destroy(h);
    console.log(`direct-path key pages: ${p1}, mlock'ed: ${locked}`);
  });

  it.skipIf(!has('direct'))(`3 worker threads at once each create/seal/open/destroy 1,500 direct handles: every packet equals libsodium's, every forgery refused${skipWhy('direct')}`, async () => {
    const addonPath = process.env.TINCAN_AEAD_ADDON || createRequire(import.meta.url).resolve('../../src/session/native/build/Release/tincan_aead.node');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const a = require(workerData.addonPath), sodium = require(workerData.sodiumPath);
      let bad = 0;
      for (let i = 0; i < 1500; i++) {
        const key = Buffer.alloc(32, (workerData.id * 7 + i) & 255), size = (i * 37) % 1500, m = Buffer.alloc(size, i & 255), ad = Buffer.alloc(13, workerData.id);
        const e = a.create(key, true, 1), d = a.create(key, false, 1);
        const c = Buffer.alloc(size + 16), want = Buffer.alloc(size + 16), n = Buffer.alloc(12);
        n.writeUInt32LE(i, 4);
        sodium.crypto_aead_chacha20poly1305_ietf_encrypt(want, m, ad, null, n, key);
        if (a.seal(e, c, m, ad, i) !== 0 || !c.equals(want)) bad++;
        const back = Buffer.alloc(size);
        if (a.open(d, back, c, ad, i) !== 0 || !back.equals(m)) bad++;
        c[size] ^= 1;
        if (a.openInPlace(d, c, ad, i) !== -1) bad++;
        if (i % 3 !== 0) { a.destroy(e); a.destroy(d); } // the rest left to the finalizers
      }
      parentPort.postMessage(bad);`;
    const sodiumPath = createRequire(import.meta.url).resolve('sodium-native');
    const bad = await Promise.all([1, 2, 3].map((id) => new Promise<number>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { id, addonPath, sodiumPath } });
      w.once('message', resolve); w.once('error', reject);
    })));
    expect(bad).toEqual([0, 0, 0]);
  }, 60_000);

  it.skipIf(!has('direct') || !has('evp'))(`selectPacketAeadPath switches the addon path new keys get (benchmarks' same-run A/B), returns the previous one${has('direct') && has('evp') ? '' : ' (skipped: a path is unavailable)'}`, () => {
    const key = new Uint8Array(32), start = packetAead(key, true).impl;
    const was = selectPacketAeadPath('evp');
    try {
      expect(`openssl-${was}`).toBe(start);
      expect(packetAead(key, true).impl).toBe('openssl-evp');
      expect(selectPacketAeadPath('direct')).toBe('evp');
      expect(packetAead(key, false).impl).toBe('openssl-direct');
      expect(PACKET_AEAD_IMPL).toBe(start); // the load-time choice, unchanged
    } finally {
      selectPacketAeadPath(was!);
    }
    expect(packetAead(key, true).impl).toBe(start);
  });
});
