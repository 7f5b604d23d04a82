// The Noise "25519_ChaChaPoly_BLAKE2s" cipher suite (Noise rev 34 §4, §5.1, §12):
// DH = X25519 (libsodium via sodium-native), AEAD = ChaCha20-Poly1305 IETF with
// the nonce 4 zero bytes || little-endian u64 n, HASH = BLAKE2s (@noble/hashes),
// HMAC and HKDF exactly as §4.3 defines them (BLOCKLEN 64, HASHLEN 32).
// BLAKE2s runs in node:crypto (OpenSSL's "blake2s256", ~2x faster) when the
// runtime has it, else in @noble/hashes; both are checked against each other.
// Pure functions; the only state is the optional DH counter passed in.
import { sodium } from './sodium.ts';
import { createHash, getHashes } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2s';
import { SessionError } from '../errors.ts';

export const DHLEN = 32;
export const HASHLEN = 32;
export const BLOCKLEN = 64;
export const KEYLEN = 32;
export const TAGLEN = 16;
/** Largest nonce a CipherState may use for messages (2^64-1 is reserved for REKEY; we stop at 2^53). */
export const MAX_NONCE = Number.MAX_SAFE_INTEGER;

/** Counts Diffie-Hellman operations (the DoS tests show an unverified flood causes none). */
export interface DhCounter { dh: number }

export interface KeyPair { publicKey: Uint8Array; secretKey: Uint8Array }

/** X25519 public key of a 32-byte secret (clamping is part of X25519). */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== DHLEN) throw new SessionError('bad-key', `secret key must be ${DHLEN} bytes, got ${secretKey.length}`);
  const pk = Buffer.alloc(DHLEN);
  sodium.crypto_scalarmult_base(pk, secretKey);
  return new Uint8Array(pk.buffer, pk.byteOffset, DHLEN);
}

/** GENERATE_KEYPAIR from 32 bytes of the given source. */
export function keyPairFrom(secret32: Uint8Array): KeyPair {
  const secretKey = Uint8Array.from(secret32);
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

/** DH(key_pair, public_key). Rejects low-order points (an all-zero shared secret). */
export function dh(secretKey: Uint8Array, publicKey: Uint8Array, counter?: DhCounter): Uint8Array {
  if (publicKey.length !== DHLEN) throw new SessionError('bad-key', `public key must be ${DHLEN} bytes, got ${publicKey.length}`);
  if (counter) counter.dh++;
  const out = Buffer.alloc(DHLEN);
  try {
    sodium.crypto_scalarmult(out, secretKey, publicKey);
  } catch {
    throw new SessionError('bad-key', 'peer public key is of low order (all-zero DH result)');
  }
  return new Uint8Array(out.buffer, out.byteOffset, DHLEN);
}

/** Write the ChaChaPoly nonce for counter n (< 2^53) into a 12-byte buffer. */
export function writeNonce(nonce: Uint8Array, n: number): void {
  nonce[0] = nonce[1] = nonce[2] = nonce[3] = 0;
  let lo = n % 0x1_0000_0000;
  let hi = Math.floor(n / 0x1_0000_0000);
  for (let i = 4; i < 8; i++) { nonce[i] = lo & 0xff; lo >>>= 8; }
  for (let i = 8; i < 12; i++) { nonce[i] = hi & 0xff; hi >>>= 8; }
}

/** ENCRYPT(k, n, ad, plaintext): ciphertext || 16-byte tag. */
export function encrypt(k: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const nonce = Buffer.alloc(12);
  writeNonce(nonce, n);
  return encryptWithNonce(k, nonce, ad, plaintext);
}

export function encryptWithNonce(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(plaintext.length + TAGLEN);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, k);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** DECRYPT(k, n, ad, ciphertext): the plaintext, or undefined when authentication fails. */
export function decrypt(k: Uint8Array, n: number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  const nonce = Buffer.alloc(12);
  writeNonce(nonce, n);
  return decryptWithNonce(k, nonce, ad, ciphertext);
}

export function decryptWithNonce(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  if (ciphertext.length < TAGLEN) return undefined;
  const out = Buffer.allocUnsafe(ciphertext.length - TAGLEN);
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, ciphertext, ad, nonce, k);
  } catch {
    return undefined;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** REKEY(k) = ENCRYPT(k, 2^64-1, zerolen, zeros[32])[0..32] (§4.2). */
export function rekey(k: Uint8Array): Uint8Array {
  const nonce = Buffer.alloc(12, 0xff);
  nonce.fill(0, 0, 4);
  return encryptWithNonce(k, nonce, new Uint8Array(0), new Uint8Array(KEYLEN)).slice(0, KEYLEN);
}

/** BLAKE2s-256 of the concatenated parts, with @noble/hashes. */
export function hashNoble(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create({});
  for (const p of parts) h.update(p);
  return h.digest();
}

/** BLAKE2s-256 of the concatenated parts, with node:crypto (OpenSSL). */
export function hashOpenSsl(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

export const HASH_BACKEND: 'node:crypto' | '@noble/hashes' = getHashes().includes('blake2s256') ? 'node:crypto' : '@noble/hashes';

/** HASH(a || b || ...) with BLAKE2s-256. */
export const hash: (...parts: Uint8Array[]) => Uint8Array = HASH_BACKEND === 'node:crypto' ? hashOpenSsl : hashNoble;

const IPAD = new Uint8Array(BLOCKLEN).fill(0x36);
const OPAD = new Uint8Array(BLOCKLEN).fill(0x5c);

/** HMAC-HASH(key, data) per RFC 2104 with BLOCKLEN 64. */
export function hmac(key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const k = new Uint8Array(BLOCKLEN);
  k.set(key.length > BLOCKLEN ? hash(key) : key);
  const ik = new Uint8Array(BLOCKLEN), ok = new Uint8Array(BLOCKLEN);
  for (let i = 0; i < BLOCKLEN; i++) { ik[i] = k[i] ^ IPAD[i]; ok[i] = k[i] ^ OPAD[i]; }
  return hash(ok, hash(ik, ...data));
}

/** HKDF(chaining_key, input_key_material, num_outputs) (§4.3): 2 or 3 outputs of HASHLEN bytes. */
export function hkdf(chainingKey: Uint8Array, ikm: Uint8Array, numOutputs: 2 | 3): Uint8Array[] {
  const tempKey = hmac(chainingKey, ikm);
  const out1 = hmac(tempKey, Uint8Array.of(1));
  const out2 = hmac(tempKey, out1, Uint8Array.of(2));
  if (numOutputs === 2) return [out1, out2];
  return [out1, out2, hmac(tempKey, out2, Uint8Array.of(3))];
}

/** Wipe secret bytes we own (sodium_memzero: not optimized away). */
export function wipe(b: Uint8Array | undefined): void {
  if (b && b.length > 0) sodium.sodium_memzero(b);
}
