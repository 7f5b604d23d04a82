// The per-packet AEAD behind NoisePacketKeys: ChaCha20-Poly1305 IETF (RFC 8439)
// with one key and Noise's nonce encoding of the packet number (4 zero bytes ||
// pn as little-endian u64), the packet header as associated data. Two
// implementations of the same function, byte-identical output:
//   openssl   — src/session/native (tincan_aead.node) calling the OpenSSL that
//               Node links (AVX-512/AVX2 assembly; measured here 20 us vs 42 us
//               per 65,000-byte packet, 1.3 vs 1.75 us at 1,200 bytes), one
//               cached cipher context per key, nonce built in C from pn, no
//               per-call JS allocation;
//   libsodium — sodium-native (noise/sodium.ts `aead`), the fallback.
// The addon is used only if it loads and a self-check at load gives the same
// bytes as libsodium's public API for every size class (in place and not),
// opens them, and refuses forgeries (zeroing the output); otherwise, or with
// TINCAN_PACKET_AEAD=libsodium in the environment (same-run comparisons),
// libsodium. Sizes are checked by the caller (packet-keys.ts) and again in C.
// TINCAN_AEAD_ADDON=<path> loads another build of the addon (the ASan+UBSan
// build of test/session/packet-aead-asan.test.ts); the self-check still applies.
// `destroy()` frees the key schedule (OpenSSL cleanses it) or wipes the key
// copy (sodium_memzero); a destroyed instance throws on seal and refuses opens.
import { createRequire } from 'node:module';
import { aead as sodiumAead, sodium } from './sodium.ts';
import { writeNonce } from './primitives.ts';

export interface KeyedPacketAead {
  readonly backend: 'openssl' | 'libsodium';
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
/** The addon's raw exports (tincan_aead.c): -2 = bad arguments, a destroyed key or a handle not created by create(). */
export interface PacketAeadAddon {
  create(key: Uint8Array, encrypt: boolean): Handle;
  sealInPlace(h: Handle, buf: Uint8Array, off: number, len: number, ad: Uint8Array, pn: number): number;
  seal(h: Handle, c: Uint8Array, m: Uint8Array, ad: Uint8Array, pn: number): number;
  openInPlace(h: Handle, buf: Uint8Array, ad: Uint8Array, pn: number): number;
  open(h: Handle, m: Uint8Array, c: Uint8Array, ad: Uint8Array, pn: number): number;
  destroy(h: Handle): number;
}
type Addon = PacketAeadAddon;

const TAG = 16;

function fail(what: string, r: number): never {
  throw r === -2 ? new RangeError(`packet AEAD ${what}: bad arguments or destroyed key`) : new Error(`packet AEAD ${what}: OpenSSL error ${r}`);
}

class OpenSslAead implements KeyedPacketAead {
  readonly backend = 'openssl';
  private readonly h: Handle;
  constructor(private readonly addon: Addon, key: Uint8Array, encrypt: boolean) { this.h = addon.create(key, encrypt); }
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

/** Every path of the addon against libsodium's public API; false if anything differs. */
function selfCheck(addon: Addon): boolean {
  const key = pattern(32, 1), ad = pattern(13, 2);
  const enc = new OpenSslAead(addon, key, true), dec = new OpenSslAead(addon, key, false);
  try {
    for (const [size, pn] of [[0, 0], [1, 1], [63, 2 ** 32 + 5], [64, 255], [65, 256], [1200, 70000], [1452, 2 ** 53 - 1], [4103, 9], [65000, 1]] as const) {
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
    enc.destroy(); dec.destroy();
  }
  return true;
}

function loadAddon(): { addon?: Addon; why?: string } {
  if (process.env.TINCAN_PACKET_AEAD === 'libsodium') return { why: 'TINCAN_PACKET_AEAD=libsodium' };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(process.env.TINCAN_AEAD_ADDON || '../native/build/Release/tincan_aead.node') as Addon;
  } catch (e) {
    return { why: `native addon not loaded (${(e as Error).message.split('\n')[0]}); build it with node src/session/native/build.js` };
  }
  return selfCheck(addon) ? { addon } : { why: 'native addon failed its self-check against libsodium' };
}

const loaded = loadAddon();
const addon = loaded.addon;

/** Which implementation packets use in this process. */
export const PACKET_AEAD_BACKEND: 'openssl' | 'libsodium' = addon ? 'openssl' : 'libsodium';

/** Why the OpenSSL addon is not used (undefined when it is). */
export const PACKET_AEAD_FALLBACK_REASON: string | undefined = loaded.why;

/** One key, one direction (`encrypt`: send keys). */
export function packetAead(key: Uint8Array, encrypt: boolean): KeyedPacketAead {
  return addon ? new OpenSslAead(addon, key, encrypt) : new SodiumAead(key);
}

/** The libsodium implementation regardless of the addon (tests, benchmarks). */
export function sodiumPacketAead(key: Uint8Array): KeyedPacketAead { return new SodiumAead(key); }

/** The OpenSSL implementation, or undefined when the addon is not in use (tests, benchmarks). */
export function opensslPacketAead(key: Uint8Array, encrypt: boolean): KeyedPacketAead | undefined {
  return addon ? new OpenSslAead(addon, key, encrypt) : undefined;
}

/** The raw addon when it is in use (tests: handles from elsewhere must be refused), else undefined. */
export const nativePacketAeadAddon: PacketAeadAddon | undefined = addon;
