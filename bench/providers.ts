// The crypto providers bench:transport measures side by side, by name.
// The session layer adds its Noise provider here; the transport bench runs each.
//   plaintext — identity keys (no protection): the transport's ceiling
//   noise     — Noise IK (client knows the server key) + ChaCha20-Poly1305 packets
//   noise-xx  — Noise XX (first contact: 3 messages), same packet protection
import { plaintextCrypto, type CryptoProvider } from '../src/transport/crypto.ts';
import { generateIdentity, noiseCrypto } from '../src/session/index.ts';

export const benchProviders: Record<string, () => { client: CryptoProvider; server: CryptoProvider; serverStatic?: Uint8Array }> = {
  plaintext: () => ({ client: plaintextCrypto, server: plaintextCrypto }),
  noise: () => {
    const client = generateIdentity(), server = generateIdentity();
    return { client: noiseCrypto(client), server: noiseCrypto(server), serverStatic: server.publicKey };
  },
  'noise-xx': () => {
    const client = generateIdentity(), server = generateIdentity();
    return { client: noiseCrypto(client), server: noiseCrypto(server) };
  },
};
