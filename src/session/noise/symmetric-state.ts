// Noise SymmetricState (rev 34 §5.2): chaining key ck, handshake hash h and a
// CipherState. MixKey / MixHash / EncryptAndHash / DecryptAndHash / Split.
// (MixKeyAndHash is for PSK patterns, which tincan does not use.)
import { SessionError } from '../errors.ts';
import { CipherState } from './cipher-state.ts';
import { hash, HASHLEN, hkdf, wipe } from './primitives.ts';

export class SymmetricState {
  private ck: Uint8Array;
  private h: Uint8Array;
  readonly cipher = new CipherState();

  constructor(protocolName: string) {
    const name = new TextEncoder().encode(protocolName);
    if (name.length <= HASHLEN) { this.h = new Uint8Array(HASHLEN); this.h.set(name); }
    else this.h = hash(name);
    this.ck = this.h.slice();
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = hkdf(this.ck, ikm, 2);
    wipe(this.ck);
    this.ck = ck;
    this.cipher.initializeKey(tempK); // HASHLEN = 32 = key size: no truncation
    wipe(tempK);
  }

  mixHash(data: Uint8Array): void { this.h = hash(this.h, data); }

  handshakeHash(): Uint8Array { return this.h.slice(); }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ct = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(ct);
    return ct;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const pt = this.cipher.decryptWithAd(this.h, ciphertext);
    if (!pt) throw new SessionError('decrypt', 'handshake message failed authentication (tampered, or encrypted to another key)');
    this.mixHash(ciphertext);
    return pt;
  }

  /** Two CipherStates: [initiator -> responder, responder -> initiator]. Wipes ck. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.ck, new Uint8Array(0), 2);
    const out: [CipherState, CipherState] = [new CipherState(k1), new CipherState(k2)];
    wipe(k1); wipe(k2); wipe(this.ck);
    this.cipher.destroy();
    return out;
  }
}
