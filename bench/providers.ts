// The crypto providers bench:transport measures side by side, by name.
// The session layer adds its Noise provider here; the transport bench runs each.
import { plaintextCrypto, type CryptoProvider } from '../src/transport/crypto.ts';

export const benchProviders: Record<string, () => { client: CryptoProvider; server: CryptoProvider; serverStatic?: Uint8Array }> = {
  plaintext: () => ({ client: plaintextCrypto, server: plaintextCrypto }),
};
