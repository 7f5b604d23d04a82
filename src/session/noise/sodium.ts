// The few libsodium calls the session layer uses, typed (sodium-native's
// @types lack the ChaCha20-Poly1305 IETF functions). Throws as sodium-native
// does: decrypt throws on authentication failure, scalarmult on a low-order point.
import sodiumNative from 'sodium-native';

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
