// Public API of the session layer (the overlay builds on exactly this):
// device identities and fingerprints, and the Noise CryptoProvider that the
// transport runs its handshake and packet protection with. See
// docs/protocol/session.md for the wire format.
export { loadOrCreateIdentity, fingerprint, generateIdentity, generateKeyPair, identityFromKeyPair, IDENTITY_FILE, type DeviceIdentity } from './identity.ts';
export { noiseCrypto, newNoiseStats, type NoiseCryptoOptions, type NoiseCryptoProvider, type NoiseStats, type PeerInfo } from './noise-crypto.ts';
export { SessionError, type SessionErrorCode } from './errors.ts';
export { PROLOGUE, prologueFor, fallbackPrologue, KIND_XX, KIND_IK, KIND_XX_FALLBACK, FALLBACK, type HandshakeKind } from './framing.ts';
export type { KeyPair } from './noise/primitives.ts';
export type { PacketStats, KeyUpdateLimits, PacketAeadChoice } from './packet-keys.ts';
export { PACKET_AEAD_BACKEND } from './noise/packet-aead.ts';
