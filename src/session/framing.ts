// tincan's framing of Noise handshake messages inside the transport's CRYPTO
// stream (each message already carries the transport's 2-byte length prefix).
// Message 1 starts with one byte naming the pattern; later messages are the
// bare Noise message (the pattern is fixed by then). Payloads are empty in
// version 1 and ignored on receipt (room for later extensions).
import { SessionError } from './errors.ts';

export const KIND_XX = 0x01;
export const KIND_IK = 0x02;
export type HandshakeKind = 'XX' | 'IK';

/** The prologue both sides mix into h: ASCII "tincan/session/1". */
export const PROLOGUE = new TextEncoder().encode('tincan/session/1');

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
