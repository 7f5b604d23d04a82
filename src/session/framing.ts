// tincan's framing of Noise handshake messages inside the transport's CRYPTO
// stream (each message already carries the transport's 2-byte length prefix).
// Message 1 starts with one byte naming the pattern; later messages are the
// bare Noise message (the pattern is fixed by then). Payloads are empty in
// version 1 and ignored on receipt (room for later extensions). The Noise
// prologue is the label PROLOGUE || len (1 byte) || client connection ID, so a
// handshake is bound to the connection it started on.
import { SessionError } from './errors.ts';

export const KIND_XX = 0x01;
export const KIND_IK = 0x02;
export type HandshakeKind = 'XX' | 'IK';

/** The label that starts the prologue both sides mix into h: ASCII "tincan/session/1". */
export const PROLOGUE = new TextEncoder().encode('tincan/session/1');

/** Longest connection ID the prologue can carry (the transport's limit is 20). */
export const MAX_PROLOGUE_CID = 255;

/**
 * The Noise prologue for one connection: PROLOGUE || len(clientCid) (1 byte) ||
 * clientCid, where clientCid is the client's source connection ID (transport
 * CryptoProvider hook). No clientCid means an empty one (len 0).
 */
export function prologueFor(clientCid: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (clientCid.length > MAX_PROLOGUE_CID) throw new SessionError('framing', `connection ID too long for the prologue (${clientCid.length} bytes)`);
  const out = new Uint8Array(PROLOGUE.length + 1 + clientCid.length);
  out.set(PROLOGUE);
  out[PROLOGUE.length] = clientCid.length;
  out.set(clientCid, PROLOGUE.length + 1);
  return out;
}

export function frameFirst(kind: HandshakeKind, noiseMessage: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + noiseMessage.length);
  out[0] = kind === 'XX' ? KIND_XX : KIND_IK;
  out.set(noiseMessage, 1);
  return out;
}

export function parseFirst(payload: Uint8Array): { kind: HandshakeKind; message: Uint8Array } {
  if (payload.length === 0) throw new SessionError('framing', 'empty first handshake message');
  const b = payload[0];
  if (b === KIND_XX) return { kind: 'XX', message: payload.subarray(1) };
  if (b === KIND_IK) return { kind: 'IK', message: payload.subarray(1) };
  throw new SessionError('framing', `unknown handshake kind 0x${b.toString(16).padStart(2, '0')} (expected 0x01 XX or 0x02 IK)`);
}
