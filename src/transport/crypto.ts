// The crypto hook between the transport and the session layer (Noise).
// Contract: the transport carries opaque handshake payloads in CRYPTO frames of
// its long-header (handshake) packets and protects every 1-RTT (short-header)
// packet with the `PacketKeys` the handshake returns. Everything here is
// sans-IO: `now` is an argument, nothing blocks, nothing touches sockets.
//
// Flow (client C, server S):
//   C: start(now) -> m1                          sent in the Initial packet
//   S: handlePayload(m1) -> { send: m2, keys? }  IK: keys here (0.5-RTT data ok); XX: no keys yet
//   C: handlePayload(m2) -> { send?: m3, keys, peerStatic }
//      C sends m3 (Handshake packet) and, in the same flight, 1-RTT packets
//      with application data: application data after exactly 1 RTT.
//   S: handlePayload(m3) -> { keys, peerStatic }  (XX only)
// A 1-RTT packet that arrives before the server has keys is dropped and
// recovered by normal loss recovery, so both 2- and 3-message handshakes work.
// `handlePayload` may throw (any Error) to abort: the transport closes the
// connection with a CRYPTO_ERROR and the error's message as the reason.
//
// Key update: a short header carries a key-phase bit. When `PacketKeys.next`
// exists, the transport may flip the phase and switch both directions to
// `keys.next()`, keeping the previous receive keys for a while so that
// in-flight packets still open; streams are not interrupted.
import type { Millis } from '../wire/socket.ts';

export interface PacketKeys {
  /** Bytes `seal` adds to the plaintext (AEAD tag, checksum, ...). */
  readonly overhead: number;
  /** Protect one packet. `header` is the packet's header bytes (authenticated, not encrypted); `pn` the full packet number. */
  seal(pn: number, header: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Optional hot path, same protection as `seal` but without allocating:
   * writes `plaintext.length + overhead` bytes into `out` at `outOffset` and
   * returns that count. `plaintext` may be exactly
   * `out.subarray(outOffset, outOffset + plaintext.length)` (sealed in place),
   * otherwise it must not overlap the bytes written; `header` may lie in `out`
   * too, outside the bytes written. Throws RangeError when `out` is too small. The transport
   * uses it when present and falls back to `seal` otherwise.
   */
  sealInto?(pn: number, header: Uint8Array, plaintext: Uint8Array, out: Uint8Array, outOffset: number): number;
  /** Unprotect one packet; `undefined` when authentication fails (the packet is then silently dropped). */
  open(pn: number, header: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
  /**
   * Optional receive hot path: as `open`, but decrypts inside `sealed` and returns a
   * view of it (no allocation). It overwrites `sealed` (plaintext on success, anything
   * on failure), so the transport uses it only when the endpoint owns received
   * datagrams (`TransportConfig.ownsReceivedDatagrams`), one attempt per packet.
   */
  openInPlace?(pn: number, header: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
  /**
   * Optional, preferred over `openInPlace` under the same conditions: the same
   * in-place open, but it returns the plaintext's length (the plaintext is
   * `sealed`'s first that many bytes) instead of a view, or -1 when the packet is
   * refused (no view object per packet).
   */
  openInPlaceLength?(pn: number, header: Uint8Array, sealed: Uint8Array): number;
  /** Optional: wipe this generation's key material (called once the connection is closed). */
  destroy?(): void;
  /** Optional key update: the next generation of keys for the same direction. */
  next?(): PacketKeys;
  /**
   * Optional (send keys): a key update is due (packet count or age limit
   * reached). The connection asks before each 1-RTT packet and then calls
   * `updateKeys()`, which waits while a previous update is unconfirmed.
   */
  shouldUpdate?(now: Millis): boolean;
}

export interface HandshakeResult {
  /** The next handshake payload to send to the peer, if any. */
  send?: Uint8Array;
  /** Set once, when this side can protect 1-RTT packets. */
  keys?: { send: PacketKeys; recv: PacketKeys };
  /** The peer's authenticated static public key, when known. */
  peerStatic?: Uint8Array;
}

/** One per connection side; sans-IO. */
export interface CryptoHandshake {
  /** Client only: the payload for the first (Initial) packet. */
  start?(now: Millis): Uint8Array;
  /**
   * A complete handshake payload from the peer (the transport reassembles CRYPTO frames,
   * one message per `handlePayload` call). On the client, `ctx.serverCid` is the server's
   * connection ID as adopted from the server's first packet (compare it with what the
   * server authenticated, if the provider binds it).
   */
  handlePayload(now: Millis, payload: Uint8Array, ctx?: HandshakeContext): HandshakeResult;
}

/**
 * What the transport tells a provider about the connection a handshake runs on.
 * `clientCid` is the client's source connection ID: the client chooses it
 * before its first Initial and keeps it for the whole connection; the server
 * reads it from the SCID of the Initial that creates the connection. Unlike
 * the client's first DCID it survives a Retry (which changes the DCID the
 * client sends to, and after which the server no longer knows the original),
 * and unlike the server's ID it is known before the client's first message.
 * A provider may bind the handshake to it (noiseCrypto mixes it into the Noise
 * prologue); providers that ignore it keep working.
 */
export interface HandshakeContext {
  clientCid?: Uint8Array;
  /**
   * The server's connection ID (the SCID of its packets; QUIC's
   * initial_source_connection_id): given to `server()` when the server creates the
   * connection, and to the client's `handlePayload` once it has adopted it.
   */
  serverCid?: Uint8Array;
}

export interface CryptoProvider {
  client(opts: { serverStatic?: Uint8Array } & HandshakeContext): CryptoHandshake;
  server(opts?: HandshakeContext): CryptoHandshake;
}

/** Largest handshake message the transport accepts from a peer (bytes). */
export const MAX_HANDSHAKE_MESSAGE = 16 * 1024;

const identityKeys: PacketKeys = {
  overhead: 0,
  seal: (_pn, _header, plaintext) => plaintext,
  open: (_pn, _header, sealed) => sealed,
  next: () => identityKeys,
};

/**
 * No protection at all: identity keys, no checksum. For tests and the
 * plaintext benchmark. Two messages: client "tc-hello", server "tc-hello-ack".
 */
export const plaintextCrypto: CryptoProvider = {
  client: () => {
    let done = false;
    return {
      start: () => new TextEncoder().encode('tc-hello'),
      handlePayload: () => {
        if (done) return {};
        done = true;
        return { keys: { send: identityKeys, recv: identityKeys } };
      },
    };
  },
  server: () => {
    let done = false;
    return {
      handlePayload: () => {
        if (done) return {};
        done = true;
        return { send: new TextEncoder().encode('tc-hello-ack'), keys: { send: identityKeys, recv: identityKeys } };
      },
    };
  },
};
