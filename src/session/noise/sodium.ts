// The few libsodium calls the session layer uses, typed (sodium-native's
// @types lack the ChaCha20-Poly1305 IETF functions). Throws as sodium-native
// does: decrypt throws on authentication failure, scalarmult on a low-order point.
// `aead` is the per-packet hot path: sodium-native's native binding called
// directly (its JS wrapper re-checks every size with assert() and turns a
// failed authentication into a thrown Error: ~6 us per forged packet instead of
// ~0.8 us). Sizes are then the caller's duty: packet-keys.ts checks them before
// every call (output = input +/- 16 bytes, 12-byte nonce, 32-byte key); the
// native side's own asserts may be compiled out. Used only if a self-check at
// load gives byte-identical results to the public API (sodium-native is
// pinned; any other layout falls back to the wrapper).
import sodiumNative from 'sodium-native';
import { createRequire } from 'node:module';

interface Sodium {
  crypto_scalarmult_base(publicKey: Uint8Array, secretKey: Uint8Array): void;
  crypto_scalarmult(shared: Uint8Array, secretKey: Uint8Array, publicKey: Uint8Array): void;
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  randombytes_buf(out: Uint8Array): void;
  sodium_memzero(buf: Uint8Array): void;
  sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean;
}

export const sodium = sodiumNative as unknown as Sodium;

/** ChaCha20-Poly1305 IETF for packets; callers guarantee c.length === m.length + 16, 12-byte nonce, 32-byte key. */
export interface PacketAead {
  /** Seal m into c (c may be m's buffer range: in place). */
  encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array, npub: Uint8Array, k: Uint8Array): void;
  /** Open c into m (m may be c's prefix: in place); false when authentication fails (m is then zeroed). */
  decrypt(m: Uint8Array, c: Uint8Array, ad: Uint8Array, npub: Uint8Array, k: Uint8Array): boolean;
  readonly kind: 'binding' | 'wrapper';
}

interface RawBinding {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | undefined, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, c: Uint8Array, ad: Uint8Array | undefined, npub: Uint8Array, k: Uint8Array): number;
}

const wrapperAead: PacketAead = {
  kind: 'wrapper',
  encrypt: (c, m, ad, npub, k) => { sodium.crypto_aead_chacha20poly1305_ietf_encrypt(c, m, ad, null, npub, k); },
  decrypt: (m, c, ad, npub, k) => {
    try { sodium.crypto_aead_chacha20poly1305_ietf_decrypt(m, null, c, ad, npub, k); return true; } catch { return false; }
  },
};

function bindingAead(): PacketAead | undefined {
  let raw: RawBinding;
  try { raw = createRequire(import.meta.url)('sodium-native/binding.js') as RawBinding; } catch { return undefined; }
  if (typeof raw?.crypto_aead_chacha20poly1305_ietf_encrypt !== 'function' || typeof raw.crypto_aead_chacha20poly1305_ietf_decrypt !== 'function') return undefined;
  const aead: PacketAead = {
    kind: 'binding',
    encrypt: (c, m, ad, npub, k) => { raw.crypto_aead_chacha20poly1305_ietf_encrypt(c, m, ad, npub, k); },
    decrypt: (m, c, ad, npub, k) => raw.crypto_aead_chacha20poly1305_ietf_decrypt(m, c, ad, npub, k) >= 0,
  };
  // self-check against the public API: same ciphertext, round trip, forgery refused
  try {
    const k = Uint8Array.from({ length: 32 }, (_, i) => i), n = Uint8Array.from({ length: 12 }, (_, i) => 100 + i);
    const ad = Uint8Array.of(1, 2, 3), m = Uint8Array.from({ length: 100 }, (_, i) => i * 7);
    const a = new Uint8Array(116), b = new Uint8Array(116), back = new Uint8Array(100);
    aead.encrypt(a, m, ad, n, k);
    wrapperAead.encrypt(b, m, ad, n, k);
    if (!sodium.sodium_memcmp(a, b) || !aead.decrypt(back, a, ad, n, k) || !sodium.sodium_memcmp(back, m)) return undefined;
    a[5] ^= 1;
    if (aead.decrypt(back, a, ad, n, k)) return undefined;
  } catch { return undefined; }
  return aead;
}

export const aead: PacketAead = bindingAead() ?? wrapperAead;
