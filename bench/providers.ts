// The crypto providers bench:transport measures side by side, by name.
// The session layer adds its Noise provider here; the transport bench runs each.
//   plaintext — identity keys (no protection): the transport's ceiling
//   noise     — Noise IK (client knows the server key) + ChaCha20-Poly1305 packets
//   noise-xx  — Noise XX (first contact: 3 messages), same packet protection
//   noise-libsodium — as noise, packets sealed/opened by libsodium instead of the OpenSSL
//               addon (same bytes on the wire; same-run before/after ratios of the packet AEAD).
//               Not in the default list: --providers plaintext,noise,noise-libsodium
//   noise-null-aead — diagnostic only (never secure): noise with every packet AEAD call
//               replaced by a no-op (tags left as they are): the session layer's JS cost per
//               packet without the cipher. Not in the default list.
// Identities are derived from `seed` (default 0): the bench runs sender and receiver
// in separate processes, and IK needs both to agree on the server's static key.
// Equal seeds give equal identities. (Ephemeral keys still come from libsodium's CSPRNG.)
import { plaintextCrypto, type CryptoProvider } from '../src/transport/crypto.ts';
import { generateIdentity, noiseCrypto } from '../src/session/index.ts';
import { seededRandom } from '../src/transport/random.ts';
import type { CryptoHandshake, HandshakeResult } from '../src/transport/crypto.ts';

/** A no-op stand-in for NoisePacketKeys' private AEAD (diagnostics: noise-null-aead). */
const NULL_AEAD = { backend: 'openssl', sealInPlace() {}, seal() {}, openInPlace: () => true, open: () => true, destroy() {} };
function nullAead(p: CryptoProvider): CryptoProvider {
  const wrap = (h: CryptoHandshake): CryptoHandshake => ({
    ...(h.start ? { start: h.start.bind(h) } : {}),
    handlePayload(now, m, ctx): HandshakeResult {
      const r = h.handlePayload(now, m, ctx);
      if (r.keys) for (const k of [r.keys.send, r.keys.recv]) (k as unknown as { aead: unknown }).aead = NULL_AEAD;
      return r;
    },
  });
  return { client: (o) => wrap(p.client(o)), server: (o) => wrap(p.server(o)) };
}

const benchIdentity = (seed: number) => {
  const r = seededRandom(seed);
  return generateIdentity((out) => r.fill(out));
};

/** Providers run when --providers is not given (the others on request). */
export const DEFAULT_PROVIDERS = ['plaintext', 'noise', 'noise-xx'];

export const benchProviders: Record<string, (seed?: number) => { client: CryptoProvider; server: CryptoProvider; serverStatic?: Uint8Array }> = {
  plaintext: () => ({ client: plaintextCrypto, server: plaintextCrypto }),
  noise: (seed = 0) => {
    const client = benchIdentity(2 * seed + 1), server = benchIdentity(2 * seed + 2);
    return { client: noiseCrypto(client), server: noiseCrypto(server), serverStatic: server.publicKey };
  },
  'noise-libsodium': (seed = 0) => {
    const client = benchIdentity(2 * seed + 1), server = benchIdentity(2 * seed + 2);
    return { client: noiseCrypto(client, { packetAead: 'libsodium' }), server: noiseCrypto(server, { packetAead: 'libsodium' }), serverStatic: server.publicKey };
  },
  'noise-null-aead': (seed = 0) => {
    const client = benchIdentity(2 * seed + 1), server = benchIdentity(2 * seed + 2);
    return { client: nullAead(noiseCrypto(client)), server: nullAead(noiseCrypto(server)), serverStatic: server.publicKey };
  },
  'noise-xx': (seed = 0) => {
    const client = benchIdentity(2 * seed + 1), server = benchIdentity(2 * seed + 2);
    return { client: noiseCrypto(client), server: noiseCrypto(server) };
  },
};
