// The seam between the peer and the session layer: this device's long-term X25519
// identity (src/session: <stateDir>/device-key.json, 0600) and the transport
// CryptoProvider that authenticates sessions with it (Noise: IK when the client knows
// the server's static key, XX otherwise). The peer needs exactly two things from here:
//   - `identity.publicKey` (32 bytes): registered at the directory as the device key;
//   - `crypto`: client handshakes get `serverStatic` = the contact's directory key (IK),
//     server handshakes accept any client and report its static key (`peerStatic`), which
//     the peer then compares with the key the directory gave for that device.
import { mkdirSync } from 'node:fs';
import { loadOrCreateIdentity, noiseCrypto, fingerprint, type NoiseCryptoOptions } from '../session/index.ts';
import type { CryptoProvider } from '../transport/crypto.ts';

export interface PeerIdentity {
  /** X25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
  /** Human-comparable fingerprint of the public key. */
  readonly fingerprint: string;
  /** The CryptoProvider sessions of this device run with. */
  readonly crypto: CryptoProvider;
  /** The same identity with per-use options (a contact link's own acceptPeer check). */
  readonly cryptoWith: (opts: NoiseCryptoOptions) => CryptoProvider;
}

/** Loads (or creates) this device's identity in `stateDir`. */
export function loadPeerIdentity(stateDir: string): PeerIdentity {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const id = loadOrCreateIdentity(stateDir);
  return { publicKey: id.publicKey, fingerprint: fingerprint(id.publicKey), crypto: noiseCrypto(id), cryptoWith: (o) => noiseCrypto(id, o) };
}
