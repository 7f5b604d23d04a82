// The packet-AEAD implementations (noise/packet-aead.ts) are the same
// function: the OpenSSL addon (src/session/native), each of its two paths
// forced (direct: OpenSSL's raw ChaCha20/Poly1305; evp), gives byte-identical
// ciphertexts and tags to libsodium's public crypto_aead_chacha20poly1305_ietf
// for seeded random sizes (0..65,507), packet numbers (0..2^53-1), headers,
// keys, in place and not, and for 300 packets in a row on one key; opens what libsodium sealed and vice versa; refuses
// every tampered byte class (ciphertext, tag, header, wrong pn) and zeroes the
// output; refuses overlapping/short/oversize arguments and offsets/lengths that are
// not uint32 integers (never wrapped or truncated); a destroyed key throws
// on seal and opens nothing. The libsodium implementation is checked against
// the same public API. A noiseCrypto forced to libsodium and one on 'auto'
// exchange packets both ways. On Linux the addon must be in use (the root
// install script builds it) unless TINCAN_PACKET_AEAD=libsodium is set; the
// OpenSSL cases are skipped (with the reason) only where it is not. The addon's
// handles are type-tagged: every entry point (path/decryptedBytes/nop too) refuses (-2) the UDP addon's
// socket external, plain objects, other values, and a destroyed handle. Every
// call writes only its output (guard bytes around it stay untouched: the ASan
// build cannot see inside node's statically linked OpenSSL).
import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { seededRandom } from '../../src/transport/random.ts';
import { noiseCrypto } from '../../src/session/index.ts';
import type { NoisePacketKeys } from '../../src/session/packet-keys.ts';
import { testIdentity, seededBytes } from './helpers.ts';
import { TAG, reference } from './aead-paths.ts';
import {
  PACKET_AEAD_ADDON_PATHS, PACKET_AEAD_BACKEND, PACKET_AEAD_FALLBACK_REASON, PACKET_AEAD_IMPL, nativePacketAeadAddon, opensslPacketAead, packetAead, sodiumPacketAead,
  type KeyedPacketAead,
} from '../../src/session/noise/packet-aead.ts';

const SEED = 4242;

interface Impl { name: string; make: (key: Uint8Array, encrypt: boolean) => KeyedPacketAead | undefined }
// both addon paths, each forced (the process default is direct where node exports the primitives)
const impls: (Impl & { missing?: boolean })[] = [
  { name: 'libsodium', make: (key) => sodiumPacketAead(key) },
  { name: 'openssl-direct', make: (key, encrypt) => opensslPacketAead(key, encrypt, 'direct'), missing: !PACKET_AEAD_ADDON_PATHS.includes('direct') },
  { name: 'openssl-evp', make: (key, encrypt) => opensslPacketAead(key, encrypt, 'evp'), missing: !PACKET_AEAD_ADDON_PATHS.includes('evp') },
];
const hasOpenSsl = opensslPacketAead(new Uint8Array(32), true) !== undefined;

describe('packet AEAD', () => {
  // CI must not silently run on the fallback: on Linux the addon is built by the root install script
  const mustHaveOpenSsl = process.platform === 'linux' && process.env.TINCAN_PACKET_AEAD !== 'libsodium';
  it.skipIf(!mustHaveOpenSsl)(`on Linux the OpenSSL addon is in use (set TINCAN_PACKET_AEAD=libsodium to run without it)${mustHaveOpenSsl ? '' : ' (skipped: not Linux or libsodium forced)'}`, () => {
    expect(PACKET_AEAD_BACKEND, PACKET_AEAD_FALLBACK_REASON).toBe('openssl');
  });

  it('reports which implementation packets use', () => {
    expect(['openssl', 'libsodium']).toContain(PACKET_AEAD_BACKEND);
    if (PACKET_AEAD_BACKEND === 'libsodium') console.log(`packet AEAD: libsodium (${PACKET_AEAD_FALLBACK_REASON})`);
    expect(packetAead(new Uint8Array(32), true).backend).toBe(PACKET_AEAD_BACKEND);
    expect(packetAead(new Uint8Array(32), true).impl).toBe(PACKET_AEAD_IMPL);
    expect(PACKET_AEAD_IMPL.startsWith(PACKET_AEAD_BACKEND)).toBe(true);
  });

  for (const impl of impls) {
    const skip = impl.missing === true;
    const title = (s: string) => `${impl.name}: ${s}${skip ? ` (skipped: ${PACKET_AEAD_FALLBACK_REASON ?? 'this addon path is unavailable here'})` : ''}`;

    it.skipIf(skip)(title(`byte-identical to libsodium's public API, in place and not, 400 seeded cases (seed ${SEED})`), () => {
      const r = seededRandom(SEED);
      const int = (n: number) => Math.floor((r.nextU32() / 2 ** 32) * n);
      for (let i = 0; i < 400; i++) {
        const size = i < 20 ? i : int(4) === 0 ? int(65_508) : int(1500);
        const pn = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1][i % 7] ?? int(2 ** 31) * 4096 + int(4096);
        const key = r.fill(new Uint8Array(32)), ad = r.fill(new Uint8Array(int(3) === 0 ? 0 : 13)), m = r.fill(new Uint8Array(size));
        const want = reference(key, pn, ad, m);
        const enc = impl.make(key, true)!, dec = impl.make(key, false)!;
        const c = new Uint8Array(size + TAG);
        enc.seal(c, m, ad, pn);
        const off = int(40), buf = new Uint8Array(off + size + TAG + int(3));
        buf.set(m, off);
        enc.sealInPlace(buf, off, size, ad, pn);
        const ctx = `case ${i} size ${size} pn ${pn} seed ${SEED}`;
        expect(Buffer.compare(c, want), ctx).toBe(0);
        expect(Buffer.compare(buf.subarray(off, off + size + TAG), want), ctx).toBe(0);
        const back = new Uint8Array(size);
        expect(dec.open(back, want, ad, pn), ctx).toBe(true);
        expect(Buffer.compare(back, m), ctx).toBe(0);
        const inPlace = want.slice();
        expect(dec.openInPlace(inPlace, ad, pn), ctx).toBe(true);
        expect(Buffer.compare(inPlace.subarray(0, size), m), ctx).toBe(0);
        enc.destroy(); dec.destroy();
      }
    });

    it.skipIf(skip)(title('one key, 300 packets in a row (the cached context is re-initialised per packet): each equals libsodium\'s'), () => {
      const r = seededRandom(SEED + 1);
      const key = r.fill(new Uint8Array(32));
      const enc = impl.make(key, true)!, dec = impl.make(key, false)!;
      for (let pn = 0; pn < 300; pn++) {
        const size = (r.nextU32() % 3000) + (pn % 50 === 0 ? 60_000 : 0);
        const ad = r.fill(new Uint8Array(13)), m = r.fill(new Uint8Array(size));
        const want = reference(key, pn * 1000 + 1, ad, m), buf = new Uint8Array(size + TAG);
        buf.set(m);
        enc.sealInPlace(buf, 0, size, ad, pn * 1000 + 1);
        expect(Buffer.compare(buf, want), `pn ${pn} seed ${SEED + 1}`).toBe(0);
        if (pn % 7 === 3) { buf[0] ^= 1; expect(dec.openInPlace(buf, ad, pn * 1000 + 1)).toBe(false); continue; } // a forgery in between changes nothing after it
        expect(dec.openInPlace(buf, ad, pn * 1000 + 1), `pn ${pn}`).toBe(true);
        expect(Buffer.compare(buf.subarray(0, size), m), `pn ${pn}`).toBe(0);
      }
      enc.destroy(); dec.destroy();
    });

    it.skipIf(skip)(title('refuses every tampered ciphertext/tag byte, header byte and wrong packet number; output zeroed'), () => {
      const key = new Uint8Array(32).fill(3), ad = Uint8Array.from({ length: 13 }, (_, i) => i), m = Uint8Array.from({ length: 100 }, (_, i) => i + 1);
      const enc = impl.make(key, true)!, dec = impl.make(key, false)!;
      const c = new Uint8Array(m.length + TAG);
      enc.seal(c, m, ad, 77);
      for (let i = 0; i < c.length; i++) {
        const bad = c.slice(); bad[i] ^= 0x80;
        expect(dec.openInPlace(bad, ad, 77), `byte ${i}`).toBe(false);
        expect(bad.subarray(0, m.length).every((x) => x === 0), `byte ${i} zeroed`).toBe(true);
        const out = new Uint8Array(m.length).fill(0xee);
        const bad2 = c.slice(); bad2[i] ^= 1;
        expect(dec.open(out, bad2, ad, 77), `byte ${i} (open)`).toBe(false);
        expect(out.every((x) => x === 0)).toBe(true);
      }
      for (let i = 0; i < ad.length; i++) {
        const h = ad.slice(); h[i] ^= 1;
        expect(dec.open(new Uint8Array(m.length), c, h, 77)).toBe(false);
      }
      expect(dec.open(new Uint8Array(m.length), c, ad, 78)).toBe(false);
      expect(dec.open(new Uint8Array(m.length), c, ad.subarray(1), 77)).toBe(false);
      expect(dec.open(new Uint8Array(m.length), c, ad, 77)).toBe(true);
    });

    it.skipIf(skip)(title(`writes only its output: guard bytes around every output (seal, sealInPlace, open, openInPlace, failed opens) stay untouched, 300 seeded sizes around the SIMD block lengths (seed ${SEED + 2})`), () => {
      // ASan does not see inside node's statically linked OpenSSL: this catches its out-of-bounds writes (not reads)
      const r = seededRandom(SEED + 2);
      const key = r.fill(new Uint8Array(32)), ad = r.fill(new Uint8Array(13));
      const enc = impl.make(key, true)!, dec = impl.make(key, false)!;
      const G = 48;
      const guarded = (n: number) => { const b = r.fill(new Uint8Array(G + n + G)); return { b, v: b.subarray(G, G + n), before: b.slice() }; };
      const intact = (g: { b: Uint8Array; before: Uint8Array }, n: number, ctx: string) => {
        expect(Buffer.compare(g.b.subarray(0, G), g.before.subarray(0, G)), `${ctx}: bytes before`).toBe(0);
        expect(Buffer.compare(g.b.subarray(G + n), g.before.subarray(G + n)), `${ctx}: bytes after`).toBe(0);
      };
      for (let i = 0; i < 300; i++) {
        const size = i < 200 ? [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025][i % 20] + (i >= 100 ? 1024 * (i % 7) : 0) : r.nextU32() % 66_000;
        const pn = i * 31 + 1, m = r.fill(new Uint8Array(size)), ctx = `${impl.name} size ${size} seed ${SEED + 2}`;
        const c = guarded(size + TAG);
        enc.seal(c.v, m, ad, pn);
        intact(c, size + TAG, `${ctx} seal`);
        const ip = guarded(size + TAG); ip.v.set(m); ip.before.set(ip.v, G);
        enc.sealInPlace(ip.b, G, size, ad, pn);
        intact(ip, size + TAG, `${ctx} sealInPlace`);
        expect(Buffer.compare(ip.v, c.v), ctx).toBe(0);
        const o = guarded(size);
        expect(dec.open(o.v, c.v, ad, pn), ctx).toBe(true);
        intact(o, size, `${ctx} open`);
        expect(dec.open(o.v, c.v, ad, pn + 1), ctx).toBe(false); // zeroes exactly m
        intact(o, size, `${ctx} failed open`);
        const oi = guarded(size + TAG); oi.v.set(c.v); oi.before.set(oi.v, G);
        expect(dec.openInPlace(oi.v, ad, pn), ctx).toBe(true);
        intact(oi, size + TAG, `${ctx} openInPlace`);
        const bad = guarded(size + TAG); bad.v.set(c.v); bad.v[size] ^= 1; bad.before.set(bad.v, G);
        expect(dec.openInPlace(bad.v, ad, pn), ctx).toBe(false);
        intact(bad, size + TAG, `${ctx} failed openInPlace`);
      }
      enc.destroy(); dec.destroy();
    });

    it.skipIf(skip)(title('a destroyed key seals nothing and opens nothing'), () => {
      const key = new Uint8Array(32).fill(5), ad = new Uint8Array(13);
      const enc = impl.make(key, true)!, dec = impl.make(key, false)!;
      const c = new Uint8Array(10 + TAG);
      enc.seal(c, new Uint8Array(10), ad, 1);
      enc.destroy(); dec.destroy();
      expect(() => enc.seal(new Uint8Array(10 + TAG), new Uint8Array(10), ad, 2)).toThrow(RangeError);
      expect(dec.open(new Uint8Array(10), c, ad, 1)).toBe(false);
      expect(dec.openInPlace(c.slice(), ad, 1)).toBe(false);
    });
  }

  for (const path of ['direct', 'evp'] as const) it.skipIf(!PACKET_AEAD_ADDON_PATHS.includes(path))(`openssl-${path}: refuses bad arguments instead of touching memory${PACKET_AEAD_ADDON_PATHS.includes(path) ? '' : ` (skipped: ${PACKET_AEAD_FALLBACK_REASON ?? 'path unavailable'})`}`, () => {
    const key = new Uint8Array(32).fill(1), ad = new Uint8Array(13);
    const enc = opensslPacketAead(key, true, path)!, dec = opensslPacketAead(key, false, path)!;
    const buf = new Uint8Array(100);
    expect(() => enc.seal(new Uint8Array(20), new Uint8Array(10), ad, 1)).toThrow(RangeError); // c too long
    expect(() => enc.seal(new Uint8Array(25), new Uint8Array(10), ad, 1)).toThrow(RangeError); // c too short
    expect(() => enc.sealInPlace(buf, 90, 10, ad, 1)).toThrow(RangeError); // tag would run past the end
    // offsets/lengths must be uint32 integers exactly: not wrapped (2^32 + 3 -> 3) nor truncated (1.5 -> 1); nothing written
    const before = buf.slice();
    for (const [off, len] of [[2 ** 32 + 3, 10], [3, 2 ** 32 + 10], [1.5, 10], [3, 10.5], [-1, 10], [Number.NaN, 10], [3, Infinity]]) {
      expect(() => enc.sealInPlace(buf, off, len, ad, 1), `off ${off} len ${len}`).toThrow(RangeError);
    }
    expect(Buffer.compare(buf, before)).toBe(0);
    expect(() => enc.sealInPlace(buf, 20, 10, buf.subarray(25, 38), 1)).toThrow(RangeError); // header overlaps the output
    expect(() => enc.seal(buf.subarray(0, 26), buf.subarray(5, 15), ad, 1)).toThrow(RangeError); // partial overlap
    for (const pn of [-1, 0.5, 2 ** 53, Number.NaN]) expect(() => enc.seal(new Uint8Array(26), new Uint8Array(10), ad, pn), `pn ${pn}`).toThrow(RangeError);
    expect(() => (opensslPacketAead as (k: Uint8Array, e: boolean, p: string) => unknown)(new Uint8Array(31), true, path)).toThrow(RangeError);
    expect(dec.openInPlace(new Uint8Array(15), ad, 1)).toBe(false); // shorter than a tag
    expect(dec.open(new Uint8Array(5), new Uint8Array(26), ad, 1)).toBe(false); // m of the wrong size
    // a send key cannot open and a receive key cannot seal (one direction per context)
    const c = new Uint8Array(26);
    enc.seal(c, new Uint8Array(10), ad, 3);
    expect(enc.open(new Uint8Array(10), c, ad, 3)).toBe(false);
    expect(() => dec.seal(new Uint8Array(26), new Uint8Array(10), ad, 3)).toThrow(RangeError);
    expect(dec.open(new Uint8Array(10), c, ad, 3)).toBe(true);
  });

  it.skipIf(!hasOpenSsl)(`openssl: a handle not made by the addon's create() (another addon's external, plain objects, other values) or a destroyed one is refused with -2 by every entry point${hasOpenSsl ? '' : ` (skipped: ${PACKET_AEAD_FALLBACK_REASON})`}`, async () => {
    const a = nativePacketAeadAddon!;
    const key = new Uint8Array(32).fill(9), ad = new Uint8Array(13);
    const every = (h: object): number[] => [
      a.sealInPlace(h, new Uint8Array(64), 0, 10, ad, 1),
      a.seal(h, new Uint8Array(26), new Uint8Array(10), ad, 1),
      a.openInPlace(h, new Uint8Array(26), ad, 1),
      a.open(h, new Uint8Array(10), new Uint8Array(26), ad, 1),
      a.path(h), a.decryptedBytes(h), a.nop(h),
      a.destroy(h),
    ];
    const foreign: [string, unknown][] = [
      ['{}', {}], ['Object.create(null)', Object.create(null)], ['array', []], ['Uint8Array', new Uint8Array(64)],
      ['function', () => 0], ['null', null], ['undefined', undefined], ['number', 1], ['string', 'h'], ['symbol', Symbol('h')],
    ];
    // another addon's external: the native UDP socket's handle (also type-tagged, with its own tag)
    type Udp = { open(...args: unknown[]): unknown[] | number; close(h: unknown, cb: () => void): void };
    let udp: Udp | undefined, udpHandle: unknown;
    try {
      udp = createRequire(import.meta.url)(process.env.TINCAN_UDP_ADDON || '../../src/datagram/native/build/Release/tincan_udp.node') as Udp;
      const r = udp.open(0x7f000001, 0, 0, 0, 0, () => {});
      if (typeof r !== 'number') udpHandle = r[0];
    } catch (e) {
      console.log(`skipped part: no native UDP addon external to pass in (${(e as Error).message.split('\n')[0]})`);
    }
    if (process.platform === 'linux') expect(udpHandle, 'the UDP addon is built on Linux').toBeDefined();
    if (udpHandle !== undefined) foreign.push(['UDP socket external', udpHandle]);
    for (const [name, h] of foreign) expect(every(h as object), name).toEqual([-2, -2, -2, -2, -2, -2, -2, -2]);
    if (udpHandle !== undefined) await new Promise<void>((done) => udp!.close(udpHandle, done)); // the socket still works after being passed in

    // a live send and receive handle: each used in its own direction only; destroy is 0 then idempotent
    const enc = a.create(key, true), dec = a.create(key, false);
    const c = new Uint8Array(26);
    expect(a.seal(enc, c, new Uint8Array(10), ad, 1)).toBe(0);
    expect(a.open(dec, new Uint8Array(10), c, ad, 1)).toBe(0);
    expect(a.seal(dec, new Uint8Array(26), new Uint8Array(10), ad, 1)).toBe(-2);
    expect(a.open(enc, new Uint8Array(10), c, ad, 1)).toBe(-2);
    expect(a.destroy(enc)).toBe(0);
    expect(a.destroy(dec)).toBe(0);
    // destroyed: no seal/open, no path; still a handle of this addon for the counters and nop
    expect(every(enc).slice(0, 5)).toEqual([-2, -2, -2, -2, -2]);
    expect(every(dec).slice(0, 5)).toEqual([-2, -2, -2, -2, -2]);
    expect([a.decryptedBytes(dec), a.nop(dec)]).toEqual([10, 0]);
    expect(a.destroy(enc)).toBe(0);
  });

  it('noiseCrypto({ packetAead: "libsodium" }) and the default interoperate, both directions, across a key update', () => {
    const a = testIdentity(1), b = testIdentity(2);
    const pa = noiseCrypto(a, { packetAead: 'libsodium', random: seededBytes(3) }), pb = noiseCrypto(b, { random: seededBytes(4) });
    expect(pa.packetAead).toBe('libsodium');
    expect(pb.packetAead).toBe(PACKET_AEAD_BACKEND);
    const c = pa.client({ serverStatic: b.publicKey }), s = pb.server();
    const r1 = s.handlePayload(0, c.start!(0));
    const r2 = c.handlePayload(0, r1.send!);
    const ck = r2.keys!, sk = r1.keys!;
    expect((ck.send as NoisePacketKeys).aeadBackend).toBe('libsodium');
    expect((sk.recv as NoisePacketKeys).aeadBackend).toBe(PACKET_AEAD_BACKEND);
    const header = new Uint8Array(13).fill(1);
    const pairs = [[ck.send, sk.recv], [sk.send, ck.recv], [ck.send.next!(), sk.recv.next!()], [sk.send.next!(), ck.recv.next!()]];
    for (const [i, [from, to]] of pairs.entries()) {
      for (let pn = i * 100; pn < i * 100 + 20; pn++) { // one replay window per direction, across generations
        const m = new Uint8Array(100 + (pn % 100) * 97).fill(pn), buf = new Uint8Array(13 + m.length + 16);
        buf.set(header); buf.set(m, 13);
        from.sealInto!(pn, header, buf.subarray(13, 13 + m.length), buf, 13);
        const got = to.openInPlace!(pn, buf.subarray(0, 13), buf.subarray(13));
        expect(got && Buffer.compare(got, m), `pn ${pn}`).toBe(0);
      }
    }
  });
});
