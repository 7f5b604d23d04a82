// The per-packet AEAD behind NoisePacketKeys: ChaCha20-Poly1305 IETF (RFC 8439)
// with one key and Noise's nonce encoding of the packet number (4 zero bytes ||
// pn as little-endian u64), the packet header as associated data. Three
// implementations of the same function, byte-identical output (`impl`):
//   openssl-direct — src/session/native (tincan_aead.node) building RFC 8439 on
//               the raw OpenSSL primitives Node exports (ChaCha20_ctr32,
//               Poly1305_*: AVX-512/AVX2 assembly), found at load with dlsym;
//               no EVP per-packet re-initialisation; open checks the tag before
//               decrypting anything (a forgery costs one Poly1305 pass);
//   openssl-evp — the same addon through EVP_chacha20_poly1305, one cached
//               cipher context per key: used when node lacks those exports (or
//               TINCAN_PACKET_AEAD=openssl-evp); its open decrypts while it
//               authenticates (a forgery costs a full decryption, then zeroed);
//   libsodium — sodium-native (noise/sodium.ts `aead`), the fallback.
// Both addon paths build the nonce from pn in C and allocate nothing per call.
// Each addon path is used only if a self-check at load gives the same bytes as
// libsodium's public API for every size class (in place and not), opens them,
// and refuses forgeries (zeroing the output); otherwise the next one down. With
// TINCAN_PACKET_AEAD=libsodium in the environment (same-run comparisons),
// libsodium. `PACKET_AEAD_BACKEND` stays 'openssl' | 'libsodium' (either addon
// path is 'openssl'); `PACKET_AEAD_IMPL` says which of the three.
// Sizes are checked by the caller (packet-keys.ts) and again in C.
// TINCAN_AEAD_ADDON=<path> loads another build of the addon (the ASan+UBSan
// build of test/session/packet-aead-asan.test.ts); the self-check still applies.
// `destroy()` wipes the key now (direct: the addon's key words, kept in pages it
// mlock's where RLIMIT_MEMLOCK allows and excludes from core dumps; evp: OpenSSL
// cleanses the freed context; libsodium: sodium_memzero of the key copy); a
// destroyed instance throws on seal and refuses opens.
import { createRequire } from 'node:module';
import { aead as sodiumAead, sodium } from './sodium.ts';
import { writeNonce } from './primitives.ts';

/** Which implementation: the addon on OpenSSL's raw primitives, the addon through EVP, or libsodium. */
export type PacketAeadImpl = 'openssl-direct' | 'openssl-evp' | 'libsodium';

export interface KeyedPacketAead {
  readonly backend: 'openssl' | 'libsodium';
  readonly impl: PacketAeadImpl;
  /** Encrypt buf[off, off+len) in place and write the 16-byte tag after it. `ad` must not overlap those bytes. */
  sealInPlace(buf: Uint8Array, off: number, len: number, ad: Uint8Array, pn: number): void;
  /** c = seal(m) (c.length === m.length + 16); m may be exactly c's prefix. */
  seal(c: Uint8Array, m: Uint8Array, ad: Uint8Array, pn: number): void;
  /** buf = ciphertext || tag; on success the plaintext is buf's first length-16 bytes. False (and those bytes zeroed) on a forgery. */
  openInPlace(buf: Uint8Array, ad: Uint8Array, pn: number): boolean;
  /** m = open(c) (m.length === c.length - 16); false on a forgery. */
  open(m: Uint8Array, c: Uint8Array, ad: Uint8Array, pn: number): boolean;
  destroy(): void;
}

type Handle = object;
/** The addon's path codes (tincan_aead.c create()). */
export const ADDON_PATH = { auto: 0, direct: 1, evp: 2 } as const;
/** The addon's raw exports (tincan_aead.c): -2 = bad arguments, a destroyed key or a handle not created by create(). */
export interface PacketAeadAddon {
  /** `path`: 0/undefined direct when available else evp, 1 direct (throws when unavailable), 2 evp. */
  create(key: Uint8Array, encrypt: boolean, path?: number): Handle;
  sealInPlace(h: Handle, buf: Uint8Array, off: number, len: number, ad: Uint8Array, pn: number): number;
  seal(h: Handle, c: Uint8Array, m: Uint8Array, ad: Uint8Array, pn: number): number;
  openInPlace(h: Handle, buf: Uint8Array, ad: Uint8Array, pn: number): number;
  open(h: Handle, m: Uint8Array, c: Uint8Array, ad: Uint8Array, pn: number): number;
  destroy(h: Handle): number;
  /** 1 direct, 2 evp, -2 not a live handle. */
  path(h: Handle): number;
  /** Bytes this handle ran through the cipher in opens (a forgery refused on the direct path adds 0); -2 not a handle. */
  decryptedBytes(h: Handle): number;
  /** 0 after the handle check alone (benchmarks: the N-API call's own cost); -2 not a handle. */
  nop(h: Handle): number;
  /** [pages holding direct-path keys, of which mlock'ed] (process-wide). */
  keyPages(): [number, number];
  /** True when node exports ChaCha20_ctr32 / Poly1305_* (the direct path is available). */
  readonly direct: boolean;
}
type Addon = PacketAeadAddon;
type AddonPath = 'direct' | 'evp';

const TAG = 16;

function fail(what: string, r: number): never {
  throw r === -2 ? new RangeError(`packet AEAD ${what}: bad arguments or destroyed key`) : new Error(`packet AEAD ${what}: OpenSSL error ${r}`);
}

class OpenSslAead implements KeyedPacketAead {
  readonly backend = 'openssl';
  readonly impl: PacketAeadImpl;
  private readonly h: Handle;
  constructor(private readonly addon: Addon, key: Uint8Array, encrypt: boolean, path: AddonPath) {
    this.h = addon.create(key, encrypt, ADDON_PATH[path]);
    this.impl = `openssl-${path}`;
  }
  sealInPlace(buf: Uint8Array, off: number, len: number, ad: Uint8Array, pn: number): void {
    const r = this.addon.sealInPlace(this.h, buf, off, len, ad, pn);
    if (r !== 0) fail('seal', r);
  }
  seal(c: Uint8Array, m: Uint8Array, ad: Uint8Array, pn: number): void {
    const r = this.addon.seal(this.h, c, m, ad, pn);
    if (r !== 0) fail('seal', r);
  }
  openInPlace(buf: Uint8Array, ad: Uint8Array, pn: number): boolean { return this.addon.openInPlace(this.h, buf, ad, pn) === 0; }
  open(m: Uint8Array, c: Uint8Array, ad: Uint8Array, pn: number): boolean { return this.addon.open(this.h, m, c, ad, pn) === 0; }
  destroy(): void { this.addon.destroy(this.h); }
}

class SodiumAead implements KeyedPacketAead {
  readonly backend = 'libsodium';
  readonly impl = 'libsodium';
  private readonly key: Buffer;
  private readonly nonce = Buffer.alloc(12);
  private dead = false;
  constructor(key: Uint8Array) { this.key = Buffer.from(key); }
  sealInPlace(buf: Uint8Array, off: number, len: number, ad: Uint8Array, pn: number): void {
    const c = buf.subarray(off, off + len + TAG);
    this.seal(c, c.subarray(0, len), ad, pn);
  }
  seal(c: Uint8Array, m: Uint8Array, ad: Uint8Array, pn: number): void {
    if (this.dead) throw new RangeError('packet AEAD seal: destroyed key');
    writeNonce(this.nonce, pn);
    sodiumAead.encrypt(c, m, ad, this.nonce, this.key);
  }
  openInPlace(buf: Uint8Array, ad: Uint8Array, pn: number): boolean { return this.open(buf.subarray(0, buf.length - TAG), buf, ad, pn); }
  open(m: Uint8Array, c: Uint8Array, ad: Uint8Array, pn: number): boolean {
    if (this.dead) return false;
    writeNonce(this.nonce, pn);
    return sodiumAead.decrypt(m, c, ad, this.nonce, this.key);
  }
  destroy(): void { this.dead = true; sodium.sodium_memzero(this.key); }
}

/** Deterministic bytes for the self-check. */
const pattern = (n: number, seed: number): Uint8Array => { const b = new Uint8Array(n); let x = seed; for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; } return b; };

/** One path of the addon against libsodium's public API (every call, with and without AD); false if anything differs. */
function selfCheck(addon: Addon, path: AddonPath): boolean {
  const key = pattern(32, 1);
  let enc: OpenSslAead | undefined, dec: OpenSslAead | undefined;
  try {
    enc = new OpenSslAead(addon, key, true, path); dec = new OpenSslAead(addon, key, false, path);
    const sizes = [[0, 0], [1, 1], [63, 2 ** 32 + 5], [64, 255], [65, 256], [191, 3], [192, 4], [193, 5], [257, 6],
      [1200, 70000], [1452, 2 ** 53 - 1], [2300, 7], [4103, 9], [65000, 1]] as const;
    for (const [i, [size, pn]] of sizes.entries()) {
      const ad = pattern(i % 3 === 1 ? 0 : 13 + i * 3, 2); // 0, 13..52 bytes: both sides of the direct path's 48-byte AD copy
      const m = pattern(size, size + 3), nonce = new Uint8Array(12), want = new Uint8Array(size + TAG);
      writeNonce(nonce, pn);
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(want, m, ad, null, nonce, key);
      const c = new Uint8Array(size + TAG);
      enc.seal(c, m, ad, pn);
      const buf = new Uint8Array(size + TAG + 5);
      buf.set(m, 5);
      enc.sealInPlace(buf, 5, size, ad, pn);
      if (!sodium.sodium_memcmp(c, want) || !sodium.sodium_memcmp(buf.subarray(5), want)) return false;
      const back = new Uint8Array(size);
      if (!dec.open(back, c, ad, pn) || !sodium.sodium_memcmp(back, m)) return false;
      const inPlace = buf.subarray(5);
      if (!dec.openInPlace(inPlace, ad, pn) || !sodium.sodium_memcmp(inPlace.subarray(0, size), m)) return false;
      const forged = want.slice();
      forged[(pn * 7) % forged.length] ^= 0x40;
      if (dec.openInPlace(forged, ad, pn) || forged.subarray(0, size).some((x) => x !== 0)) return false;
      if (dec.open(back, want, ad, pn + 1)) return false; // wrong nonce
    }
  } catch {
    return false;
  } finally {
    enc?.destroy(); dec?.destroy();
  }
  return true;
}

interface Loaded { addon?: Addon; path?: AddonPath; paths: AddonPath[]; why?: string; evpWhy?: string }

function loadAddon(): Loaded {
  const force = process.env.TINCAN_PACKET_AEAD;
  if (force === 'libsodium') return { paths: [], why: 'TINCAN_PACKET_AEAD=libsodium' };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(process.env.TINCAN_AEAD_ADDON || '../native/build/Release/tincan_aead.node') as Addon;
  } catch (e) {
    return { paths: [], why: `native addon not loaded (${(e as Error).message.split('\n')[0]}); build it with node src/session/native/build.js` };
  }
  // forced to EVP: the direct path is not even exercised (an escape hatch should it misbehave)
  const direct = addon.direct === true && force !== 'openssl-evp' && selfCheck(addon, 'direct');
  const evp = selfCheck(addon, 'evp');
  const paths: AddonPath[] = [...(direct ? ['direct' as const] : []), ...(evp ? ['evp' as const] : [])];
  if (paths.length === 0) return { paths, why: 'native addon failed its self-check against libsodium' };
  const evpWhy = force === 'openssl-evp' ? 'TINCAN_PACKET_AEAD=openssl-evp'
    : addon.direct !== true ? 'the addon has no direct path (node does not export ChaCha20_ctr32 / Poly1305_*, its OpenSSL is not 1.1.x/3.x, or the addon was built without it)'
      : !direct ? 'the direct path failed its self-check against libsodium' : undefined;
  const path: AddonPath = evp && evpWhy !== undefined ? 'evp' : paths[0];
  return { addon, path, paths, evpWhy: path === 'evp' ? evpWhy : undefined };
}

const loaded = loadAddon();
const addon = loaded.addon;

/** Which implementation packets use in this process: 'openssl' for either addon path. */
export const PACKET_AEAD_BACKEND: 'openssl' | 'libsodium' = addon ? 'openssl' : 'libsodium';

/** Which implementation packets use in this process, addon path included. */
export const PACKET_AEAD_IMPL: PacketAeadImpl = loaded.path ? `openssl-${loaded.path}` : 'libsodium';

/** Why the OpenSSL addon is not used (undefined when it is). */
export const PACKET_AEAD_FALLBACK_REASON: string | undefined = loaded.why;

/** Why the addon uses EVP rather than the direct path (undefined when direct, or when the addon is not used). */
export const PACKET_AEAD_EVP_REASON: string | undefined = loaded.evpWhy;

/** One key, one direction (`encrypt`: send keys). */
export function packetAead(key: Uint8Array, encrypt: boolean): KeyedPacketAead {
  return addon && loaded.path ? new OpenSslAead(addon, key, encrypt, loaded.path) : new SodiumAead(key);
}

/** The libsodium implementation regardless of the addon (tests, benchmarks). */
export function sodiumPacketAead(key: Uint8Array): KeyedPacketAead { return new SodiumAead(key); }

/**
 * The OpenSSL addon (tests, benchmarks): the path in use, or the one asked for;
 * undefined when the addon is not in use or that path is unavailable here.
 */
export function opensslPacketAead(key: Uint8Array, encrypt: boolean, path?: AddonPath): KeyedPacketAead | undefined {
  const p = path ?? loaded.path;
  return addon && p && loaded.paths.includes(p) ? new OpenSslAead(addon, key, encrypt, p) : undefined;
}

/**
 * Benchmarks only (same-run A/B of the addon paths through the whole session layer): the
 * addon path that packetAead() gives new keys from now on, one that passed its self-check;
 * returns the previous one. PACKET_AEAD_IMPL keeps reporting the load-time choice.
 */
export function selectPacketAeadPath(path: AddonPath): AddonPath | undefined {
  if (!loaded.paths.includes(path)) throw new RangeError(`packet AEAD: the ${path} path is not available here`);
  const prev = loaded.path;
  loaded.path = path;
  return prev;
}

/** The addon paths that passed their self-check in this process. */
export const PACKET_AEAD_ADDON_PATHS: readonly AddonPath[] = loaded.paths;

/** The raw addon when it is in use (tests: handles from elsewhere must be refused), else undefined. */
export const nativePacketAeadAddon: PacketAeadAddon | undefined = addon;
