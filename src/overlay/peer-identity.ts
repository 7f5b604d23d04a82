// The seam between the peer and the session layer: this device's long-term X25519
// identity (kept in the peer's state directory) and the transport CryptoProvider that
// authenticates sessions with it. The peer needs exactly two things from here:
//   - `identity.publicKey` (32 bytes): registered at the directory as the device key;
//   - `crypto`: client handshakes get `serverStatic` = the contact's directory key (IK),
//     server handshakes accept any client and report its static key (`peerStatic`), which
//     the peer then compares with the key the directory gave for that device.
// Until the session layer (src/session) lands, a stand-in keeps an X25519 key pair in
// `<stateDir>/identity-standin.json` and uses the transport's plaintextCrypto (which
// reports no peerStatic: keys are then only checked against the pins, not proven).
import { generateKeyPairSync, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { CryptoProvider } from '../transport/crypto.ts';
import { plaintextCrypto } from '../transport/crypto.ts';

export interface PeerIdentity {
  /** X25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
  /** The CryptoProvider sessions of this device run with. */
  readonly crypto: CryptoProvider;
  /** True when the provider authenticates (Noise); false for the plaintext stand-in. */
  readonly authenticated: boolean;
}

const STANDIN_FILE = 'identity-standin.json';

/** Loads (or creates, mode 0600) this device's identity in `stateDir`. */
export async function loadPeerIdentity(stateDir: string): Promise<PeerIdentity> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, STANDIN_FILE);
  let pkcs8: string;
  try {
    pkcs8 = (JSON.parse(await readFile(path, 'utf8')) as { x25519Pkcs8: string }).x25519Pkcs8;
    if (typeof pkcs8 !== 'string') throw new Error(`${path}: no x25519Pkcs8`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const { privateKey } = generateKeyPairSync('x25519');
    pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ x25519Pkcs8: pkcs8 })}\n`, { mode: 0o600 });
    await rename(tmp, path);
  }
  const priv = createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ type: 'spki', format: 'der' });
  return { publicKey: new Uint8Array(spki.subarray(spki.length - 32)), crypto: plaintextCrypto, authenticated: false };
}
