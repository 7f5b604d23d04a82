// Noise CipherState (rev 34 §5.1): a key k (or none) and a 64-bit nonce n.
// Without a key, encryption is the identity. A failed decryption leaves n
// unchanged and returns undefined; callers turn that into a typed error.
import { SessionError } from '../errors.ts';
import { decrypt, encrypt, KEYLEN, MAX_NONCE, rekey, wipe } from './primitives.ts';

export class CipherState {
  private k: Uint8Array | undefined;
  n = 0;

  constructor(key?: Uint8Array) { this.initializeKey(key); }

  initializeKey(key: Uint8Array | undefined): void {
    wipe(this.k);
    if (key && key.length !== KEYLEN) throw new SessionError('bad-key', `cipher key must be ${KEYLEN} bytes`);
    this.k = key ? Uint8Array.from(key) : undefined;
    this.n = 0;
  }

  hasKey(): boolean { return this.k !== undefined; }

  /** The raw key (for deriving packet keys after Split). */
  key(): Uint8Array | undefined { return this.k; }

  setNonce(n: number): void { this.n = n; }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (!this.k) return plaintext;
    if (this.n >= MAX_NONCE) throw new SessionError('nonce', 'cipher nonce exhausted');
    const out = encrypt(this.k, this.n, ad, plaintext);
    this.n++;
    return out;
  }

  /** undefined on authentication failure (n unchanged). */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
    if (!this.k) return ciphertext;
    if (this.n >= MAX_NONCE) throw new SessionError('nonce', 'cipher nonce exhausted');
    const out = decrypt(this.k, this.n, ad, ciphertext);
    if (out) this.n++;
    return out;
  }

  rekey(): void {
    if (!this.k) return;
    const next = rekey(this.k);
    wipe(this.k);
    this.k = next;
  }

  destroy(): void { wipe(this.k); this.k = undefined; }
}
