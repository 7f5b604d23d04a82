// The peer's public surface: what `tincan up` and the apps (chat, later calls and
// files) build on. Types only — src/overlay/peer.ts implements `PeerNode`.
// Contract:
//   - `connect(username)` resolves with an authenticated, end-to-end encrypted
//     `ContactSession` to one device of a mutual contact (direct or relayed path,
//     chosen and switched underneath; streams survive path switches), or rejects
//     with a `PeerError` whose `code` says why.
//   - Incoming sessions from contacts arrive as the 'session' event.
//   - At most one live session per contact device: a second `connect` to the same
//     contact returns the existing session.
//   - A contact whose device key differs from the pinned one is refused with
//     code 'key-changed' and reported through the 'key-changed' event, never
//     silently accepted. That contact's connect() learns it at once, as code 'refused'.
//     A device that proves another key in the handshake than the directory's is refused
//     inside the handshake (before any session or data): KeyMismatchError (key-check.ts,
//     a PeerError naming the contact and both fingerprints; docs/protocol/overlay-keys.md).
import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';

export type PathKind = 'direct' | 'relayed';

export type PeerErrorCode =
  | 'directory-unreachable' // HTTP to the directory failed (network, 5xx)
  | 'bad-credentials'       // wrong username/password or expired token
  | 'unknown-user'          // no such account
  | 'not-a-contact'         // not a mutual contact
  | 'contact-offline'       // no online device for that contact
  | 'key-changed'           // the contact's device key does not match the pin
  | 'connect-failed'        // every path (direct and relay) failed
  | 'refused'               // the contact's device refused the session (it pinned another key for us, or is not accepting)
  | 'closed';               // the peer was closed

export class PeerError extends Error {
  constructor(readonly code: PeerErrorCode, message: string) {
    super(message);
    this.name = 'PeerError';
  }
}

export interface PathInfo {
  readonly kind: PathKind;
  /** Smoothed RTT of the selected path in milliseconds, when measured. */
  readonly rttMs: number | undefined;
  /** The remote address:port the transport currently sends to (the relay's when relayed). */
  readonly remote: string;
}

export interface ContactSession extends EventEmitter<{
  /** The contact opened a stream. */
  stream: [Duplex];
  /** The selected path changed (relay -> direct, direct -> relay, ...). */
  path: [PathInfo];
  /** The session ended; `err` says why when it was not a clean close. */
  close: [Error | undefined];
}> {
  readonly username: string;
  /** The contact's device id (hex), as the directory names it. */
  readonly deviceId: string;
  /** The contact device's static public key, authenticated by the handshake and pinned. */
  readonly remoteStatic: Uint8Array;
  readonly path: PathInfo;
  readonly closed: boolean;
  /** Open a bidirectional reliable stream to the contact. */
  openStream(): Promise<Duplex>;
  close(reason?: string): void;
}

export interface ContactStatus {
  readonly username: string;
  readonly presence: 'online' | 'away' | 'offline';
  /** Present when a session to the contact is open. */
  readonly path?: PathInfo;
  /** The contact's published NAT type (formatNatType), when known. */
  readonly nat?: string;
}

export interface PeerNode extends EventEmitter<{
  session: [ContactSession];
  'key-changed': [{ username: string; deviceId: string }];
  /** Presence of a contact changed (pushed by the directory). */
  presence: [ContactStatus];
}> {
  readonly username: string;
  readonly deviceId: string;
  /** This device's NAT classification (formatNatType), once known. */
  readonly nat: string | undefined;
  connect(username: string): Promise<ContactSession>;
  sessions(): ContactSession[];
  status(): Promise<ContactStatus[]>;
  close(): Promise<void>;
}
