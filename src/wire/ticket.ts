// Relay ticket codec: a short-lived permission, signed by the directory's
// Ed25519 key, for a supernode to relay between two named devices. Pure and
// sans-IO: `now` is an argument; verification needs only the directory's
// public key, so a supernode checks tickets offline.
//
// Layout (113 bytes, integers big-endian), documented in docs/protocol/directory.md:
//   0  u8      version (1)
//   1  u64     issuedAt, Unix milliseconds
//   9  u64     expiresAt, Unix milliseconds
//  17  16 B    deviceA id
//  33  16 B    deviceB id
//  49  64 B    Ed25519 signature over CONTEXT || bytes[0..49)
// where CONTEXT is the 22 ASCII bytes "tincan relay ticket v1".
// The pair is unordered: a ticket for (A, B) allows relaying A<->B both ways.
// decodeTicket/verifyTicket throw only TicketError, whose `code` names the problem.
import sodium from 'sodium-native';

export const TICKET_VERSION = 1;
export const TICKET_BODY_BYTES = 49;
export const TICKET_BYTES = 113;
export const DEVICE_ID_BYTES = 16;
const CONTEXT = new TextEncoder().encode('tincan relay ticket v1');
const OFF_VERSION = 0, OFF_ISSUED = 1, OFF_EXPIRES = 9, OFF_A = 17, OFF_B = 33, OFF_SIG = 49;

export interface RelayTicket {
  issuedAt: number;
  expiresAt: number;
  deviceA: Uint8Array;
  deviceB: Uint8Array;
}

export type TicketErrorCode = 'length' | 'version' | 'signature' | 'expired' | 'not-yet-valid' | 'devices';

export class TicketError extends Error {
  constructor(readonly code: TicketErrorCode, message: string) { super(`relay ticket: ${message}`); this.name = 'TicketError'; }
}

function u64(x: number, what: string): bigint {
  if (!Number.isSafeInteger(x) || x < 0) throw new TicketError('length', `${what} must be a non-negative safe integer`);
  return BigInt(x);
}

/** The 49 signed bytes of a ticket. */
export function encodeTicketBody(t: RelayTicket): Uint8Array {
  if (t.deviceA.length !== DEVICE_ID_BYTES || t.deviceB.length !== DEVICE_ID_BYTES) throw new TicketError('devices', 'device ids must be 16 bytes');
  const out = new Uint8Array(TICKET_BODY_BYTES);
  const v = new DataView(out.buffer);
  v.setUint8(OFF_VERSION, TICKET_VERSION);
  v.setBigUint64(OFF_ISSUED, u64(t.issuedAt, 'issuedAt'));
  v.setBigUint64(OFF_EXPIRES, u64(t.expiresAt, 'expiresAt'));
  out.set(t.deviceA, OFF_A);
  out.set(t.deviceB, OFF_B);
  return out;
}

function signedMessage(body: Uint8Array): Buffer {
  return Buffer.concat([CONTEXT, body]);
}

/** Encodes and signs with a 64-byte Ed25519 secret key (libsodium layout). */
export function signTicket(t: RelayTicket, secretKey: Uint8Array): Uint8Array {
  const body = encodeTicketBody(t);
  const sig = Buffer.alloc(sodium.crypto_sign_BYTES);
  sodium.crypto_sign_detached(sig, signedMessage(body), Buffer.from(secretKey.buffer, secretKey.byteOffset, secretKey.byteLength));
  const out = new Uint8Array(TICKET_BYTES);
  out.set(body, 0);
  out.set(sig, OFF_SIG);
  return out;
}

/** Parses the fields without checking the signature. */
export function decodeTicket(bytes: Uint8Array): RelayTicket & { signature: Uint8Array } {
  if (bytes.length !== TICKET_BYTES) throw new TicketError('length', `expected ${TICKET_BYTES} bytes, got ${bytes.length}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = v.getUint8(OFF_VERSION);
  if (version !== TICKET_VERSION) throw new TicketError('version', `unsupported version ${version}`);
  const issued = v.getBigUint64(OFF_ISSUED), expires = v.getBigUint64(OFF_EXPIRES);
  if (issued > BigInt(Number.MAX_SAFE_INTEGER) || expires > BigInt(Number.MAX_SAFE_INTEGER)) throw new TicketError('length', 'timestamp out of range');
  return {
    issuedAt: Number(issued), expiresAt: Number(expires),
    deviceA: bytes.slice(OFF_A, OFF_A + DEVICE_ID_BYTES), deviceB: bytes.slice(OFF_B, OFF_B + DEVICE_ID_BYTES),
    signature: bytes.slice(OFF_SIG, TICKET_BYTES),
  };
}

/**
 * Checks signature and validity window (issuedAt - skewMs <= now < expiresAt).
 * Returns the ticket or throws TicketError.
 */
export function verifyTicket(bytes: Uint8Array, publicKey: Uint8Array, now: number, skewMs = 30_000): RelayTicket {
  const t = decodeTicket(bytes);
  if (publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES) throw new TicketError('signature', 'public key must be 32 bytes');
  const ok = sodium.crypto_sign_verify_detached(Buffer.from(t.signature), signedMessage(bytes.subarray(0, TICKET_BODY_BYTES)), Buffer.from(publicKey));
  if (!ok) throw new TicketError('signature', 'bad signature');
  if (now >= t.expiresAt) throw new TicketError('expired', `expired at ${t.expiresAt}`);
  if (now + skewMs < t.issuedAt) throw new TicketError('not-yet-valid', `issued in the future (${t.issuedAt})`);
  return { issuedAt: t.issuedAt, expiresAt: t.expiresAt, deviceA: t.deviceA, deviceB: t.deviceB };
}

/** True if the ticket names exactly this unordered pair of devices. */
export function ticketAllows(t: RelayTicket, a: Uint8Array, b: Uint8Array): boolean {
  const eq = (x: Uint8Array, y: Uint8Array) => x.length === y.length && x.every((v, i) => v === y[i]);
  return (eq(t.deviceA, a) && eq(t.deviceB, b)) || (eq(t.deviceA, b) && eq(t.deviceB, a));
}
