// A test CryptoProvider: the plaintext handshake, but 1-RTT packets carry a
// CRC-32 of header and payload (integrity against accidents, not secrecy or
// forgery), so corrupted or mutated datagrams are rejected the way AEAD keys
// would reject them. Keeps transport tests independent of the session layer.
import { plaintextCrypto, type CryptoHandshake, type CryptoProvider, type HandshakeResult, type PacketKeys } from '../../src/transport/crypto.ts';
import { crc32 } from '../../src/transport/wire/crc32.ts';

/**
 * CRC-32 of header || payload. (Not crc(header) ^ crc(payload): CRC is affine, so
 * equal-length header and payload with the same flips at the same offsets would cancel.)
 */
function crcOf(header: Uint8Array, body: Uint8Array): number {
  const all = new Uint8Array(header.length + body.length);
  all.set(header); all.set(body, header.length);
  return crc32(all);
}

/** 1-RTT packets carry a CRC-32 of header and payload: integrity (not secrecy), so corruption is detected. */
const crcKeys: PacketKeys = {
  overhead: 4,
  seal(_pn, header, plaintext) {
    const out = new Uint8Array(plaintext.length + 4);
    out.set(plaintext);
    const c = crcOf(header, plaintext);
    out[plaintext.length] = c >>> 24; out[plaintext.length + 1] = (c >>> 16) & 0xff; out[plaintext.length + 2] = (c >>> 8) & 0xff; out[plaintext.length + 3] = c & 0xff;
    return out;
  },
  open(_pn, header, sealed) {
    if (sealed.length < 4) return undefined;
    const body = sealed.subarray(0, sealed.length - 4);
    const n = sealed.length - 4;
    const want = ((sealed[n] << 24) | (sealed[n + 1] << 16) | (sealed[n + 2] << 8) | sealed[n + 3]) >>> 0;
    return crcOf(header, body) === want ? body : undefined;
  },
  next: () => crcKeys,
};

function withCrcKeys(h: CryptoHandshake): CryptoHandshake {
  const fix = (r: HandshakeResult): HandshakeResult => (r.keys ? { ...r, keys: { send: crcKeys, recv: crcKeys } } : r);
  return { start: h.start?.bind(h), handlePayload: (now, p) => fix(h.handlePayload(now, p)) };
}

/** The plaintext handshake, with CRC-32-checked 1-RTT packets. */
export const checksumCrypto: CryptoProvider = {
  client: (o) => withCrcKeys(plaintextCrypto.client(o)),
  server: () => withCrcKeys(plaintextCrypto.server()),
};
