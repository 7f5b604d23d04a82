// Contact keys checked INSIDE the handshake (docs/protocol/overlay-keys.md): a contact
// device must prove, in the session handshake, the static key the directory gave for it
// (and that the peer pinned), or the session is refused before any key is handed to the
// transport — no application data ever flows on it.
// Contract:
//   keyCheckedCrypto(inner, expected, onMismatch) -> a CryptoProvider for one contact link:
//     client(): `inner.client` unchanged (IK to `expected`: the handshake itself proves it;
//       a fallback to another key fails in the session layer);
//     server(): every result that names the client's static key (IK: message 1, XX:
//       message 3) is compared with `expected`; a different key calls onMismatch(presented)
//       and throws, so the transport closes with CRYPTO_ERROR and the reason
//       `key-mismatch expected=<fingerprint> presented=<fingerprint>` — the caller learns
//       both fingerprints from that reason (keyMismatchFromReason).
//   KeyMismatchError: the typed PeerError both ends report (code 'key-changed' when the
//     contact's key is wrong, 'refused' when the contact refused ours), naming the contact,
//     its device and both fingerprints.
import { fingerprint } from '../session/index.ts';
import type { CryptoHandshake, CryptoProvider, HandshakeResult } from '../transport/crypto.ts';
import { PeerError } from './peer-api.ts';

export class KeyMismatchError extends PeerError {
  constructor(
    code: 'key-changed' | 'refused',
    /** The contact (username) the session was with. */
    readonly contact: string,
    readonly deviceId: string,
    /** Fingerprint of the key that should have been proven (directory / pin). */
    readonly expectedFingerprint: string,
    /** Fingerprint of the key the handshake actually proved. */
    readonly presentedFingerprint: string,
    message: string,
  ) {
    super(code, message);
    this.name = 'KeyMismatchError';
  }
}

const REASON = /key-mismatch expected=([A-Z2-7-]{1,64}) presented=([A-Z2-7-]{1,64})/;

/** The CONNECTION_CLOSE reason a refusing server sends (after the transport's "handshake failed: "). */
export function keyMismatchReason(expected: Uint8Array, presented: Uint8Array): string {
  return `key-mismatch expected=${fingerprint(expected)} presented=${fingerprint(presented)}`;
}

/** Both fingerprints from a close reason (or an error message quoting it), if it is a key-mismatch refusal. */
export function keyMismatchFromReason(text: string): { expected: string; presented: string } | undefined {
  const m = REASON.exec(text);
  return m ? { expected: m[1], presented: m[2] } : undefined;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

class CheckedServer implements CryptoHandshake {
  constructor(private readonly inner: CryptoHandshake, private readonly expected: Uint8Array, private readonly onMismatch: (presented: Uint8Array) => void) {}

  handlePayload(now: number, payload: Uint8Array, ctx?: Parameters<CryptoHandshake['handlePayload']>[2]): HandshakeResult {
    const r = this.inner.handlePayload(now, payload, ctx);
    if (r.peerStatic && !equal(r.peerStatic, this.expected)) {
      // The keys were derived but are never used: wipe them, refuse the handshake.
      r.keys?.send.destroy?.();
      if (r.keys && r.keys.recv !== r.keys.send) r.keys.recv.destroy?.();
      const presented = r.peerStatic.slice();
      this.onMismatch(presented);
      throw new Error(keyMismatchReason(this.expected, presented));
    }
    return r;
  }
}

export function keyCheckedCrypto(inner: CryptoProvider, expected: Uint8Array, onMismatch: (presented: Uint8Array) => void): CryptoProvider {
  if (expected.length !== 32) throw new RangeError(`keyCheckedCrypto: expected key must be 32 bytes, got ${expected.length}`);
  const want = expected.slice();
  return {
    client: (o) => inner.client(o),
    server: (o) => new CheckedServer(inner.server(o), want, onMismatch),
  };
}
