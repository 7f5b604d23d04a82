// tincan's framing of Noise handshake messages inside the transport's CRYPTO
// stream (each message already carries the transport's 2-byte length prefix),
// and the extensions carried in the (encrypted, authenticated) payloads.
// Message 1 starts with one byte naming the pattern; later messages are the
// bare Noise message (the pattern is fixed by then). IK -> XX fallback: a
// responder that cannot decrypt an IK message 1 (the initiator used a stale
// static key) answers with the single byte FALLBACK; the initiator then
// starts XX with first byte KIND_XX_FALLBACK and the fallback prologue, which
// binds the XX handshake to the failed IK message (see fallbackPrologue). Payloads are empty in
// version 1 and ignored on receipt (room for later extensions). The Noise
// prologue is the label PROLOGUE || len (1 byte) || client connection ID, so a
// handshake is bound to the connection it started on.
import { SessionError } from './errors.ts';
import { hash } from './noise/primitives.ts';

export const KIND_XX = 0x01;
export const KIND_IK = 0x02;
export const KIND_XX_FALLBACK = 0x03;
export type HandshakeKind = 'XX' | 'IK';
/** What message 1 starts: a pattern, or XX after a refused IK message 1. */
export type FirstKind = HandshakeKind | 'XX-fallback';

/** The responder's whole answer to an IK message 1 it cannot decrypt: "start again with XX". */
export const FALLBACK = Uint8Array.of(KIND_XX_FALLBACK);
export const isFallbackRequest = (m: Uint8Array): boolean => m.length === 1 && m[0] === KIND_XX_FALLBACK;

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

/**
 * The prologue of an XX handshake that replaces a refused IK one:
 * prologue || KIND_XX_FALLBACK || BLAKE2s(framed IK message 1). Both sides
 * use the IK message 1 exactly as the responder received it, so a fallback
 * request the responder never sent (forged) or an altered message 1 makes
 * the XX handshake fail instead of silently replacing IK.
 */
export function fallbackPrologue(prologue: Uint8Array, ikMessage1: Uint8Array): Uint8Array {
  const h = hash(ikMessage1);
  const out = new Uint8Array(prologue.length + 1 + h.length);
  out.set(prologue);
  out[prologue.length] = KIND_XX_FALLBACK;
  out.set(h, prologue.length + 1);
  return out;
}

const KIND_BYTE: Record<FirstKind, number> = { XX: KIND_XX, IK: KIND_IK, 'XX-fallback': KIND_XX_FALLBACK };

export function frameFirst(kind: FirstKind, noiseMessage: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + noiseMessage.length);
  out[0] = KIND_BYTE[kind];
  out.set(noiseMessage, 1);
  return out;
}

export function parseFirst(payload: Uint8Array): { kind: FirstKind; message: Uint8Array } {
  if (payload.length === 0) throw new SessionError('framing', 'empty first handshake message');
  const b = payload[0];
  if (b === KIND_XX) return { kind: 'XX', message: payload.subarray(1) };
  if (b === KIND_IK) return { kind: 'IK', message: payload.subarray(1) };
  if (b === KIND_XX_FALLBACK) return { kind: 'XX-fallback', message: payload.subarray(1) };
  throw new SessionError('framing', `unknown handshake kind 0x${b.toString(16).padStart(2, '0')} (expected 0x01 XX, 0x02 IK or 0x03 XX fallback)`);
}

/** Payload extension: the server's connection ID (the SCID of its packets), in message 2. */
export const EXT_SERVER_CID = 0x01;

/** Encode payload extensions: type (1 byte) || len (1 byte) || value, in the given order. */
export function encodeExtensions(exts: [type: number, value: Uint8Array][]): Uint8Array {
  let n = 0;
  for (const [, v] of exts) {
    if (v.length > 255) throw new SessionError('framing', `payload extension value of ${v.length} bytes (max 255)`);
    n += 2 + v.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const [t, v] of exts) { out[o++] = t; out[o++] = v.length; out.set(v, o); o += v.length; }
  return out;
}

/**
 * Decode payload extensions (unknown types are kept and ignored by callers;
 * a repeated type or a truncated entry is a framing error).
 */
export function decodeExtensions(payload: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (let o = 0; o < payload.length;) {
    if (payload.length - o < 2) throw new SessionError('framing', 'truncated payload extension header');
    const t = payload[o], len = payload[o + 1];
    if (payload.length - o - 2 < len) throw new SessionError('framing', `payload extension 0x${t.toString(16)} truncated: needs ${len} bytes`);
    if (out.has(t)) throw new SessionError('framing', `payload extension 0x${t.toString(16)} repeated`);
    out.set(t, payload.slice(o + 2, o + 2 + len));
    o += 2 + len;
  }
  return out;
}
