// Typed errors of the session layer. Everything a handshake or key file can
// reject throws a `SessionError` with a stable `code` and a message that says
// what was wrong (never key material).
export type SessionErrorCode =
  | 'truncated'        // a handshake message is shorter than its pattern needs
  | 'too-long'         // a handshake message or payload exceeds the Noise limit (65535 bytes)
  | 'decrypt'          // AEAD authentication failed (tampered message or wrong keys)
  | 'bad-key'          // a public key is malformed or of low order (all-zero DH result)
  | 'state'            // the call does not fit the handshake's state (e.g. write when it is our turn to read)
  | 'framing'          // unknown or missing tincan framing byte
  | 'pattern'          // an unknown Noise pattern / protocol name
  | 'nonce'            // a cipher's nonce space is exhausted
  | 'rejected'         // the application refused the peer's static key
  | 'connection-id'    // the server authenticated another connection ID than the one its packets carry (or none)
  | 'key-changed'      // after an IK -> XX fallback the responder proved a static key other than the expected one, and nobody approved it
  | 'identity';        // the identity file is missing pieces, has the wrong size or unsafe permissions

export class SessionError extends Error {
  constructor(readonly code: SessionErrorCode, message: string) {
    super(message);
    this.name = 'SessionError';
  }
}
