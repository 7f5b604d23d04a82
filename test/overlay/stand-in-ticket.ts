// A stand-in relay ticket for tests and the lab until the directory's ticket codec
// (src/wire/ticket.ts) lands: u8 len + device A, u8 len + device B, u64 expiresAt
// (Unix ms), then a 64-byte Ed25519 signature over everything before it, by a
// "directory" key. Implements the overlay's TicketVerifier interface.
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { TicketVerdict, TicketVerifier } from '../../src/overlay/relay.ts';

export interface StandInIssuer {
  readonly publicKey: KeyObject;
  issue(deviceA: string, deviceB: string, expiresAt: number): Uint8Array;
}

export function makeIssuer(): StandInIssuer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey,
    issue: (deviceA, deviceB, expiresAt) => issueWith(privateKey, deviceA, deviceB, expiresAt),
  };
}

export function standInVerifier(publicKey: KeyObject): TicketVerifier {
  return {
    verify(ticket, now): TicketVerdict {
      const t = Buffer.from(ticket.buffer, ticket.byteOffset, ticket.byteLength);
      if (t.length < 2 + 8 + 64) return { ok: false, error: 'ticket too short' };
      const la = t[0];
      if (1 + la + 1 > t.length) return { ok: false, error: 'ticket truncated' };
      const lb = t[1 + la];
      const bodyLen = 2 + la + lb + 8;
      if (t.length !== bodyLen + 64) return { ok: false, error: 'ticket length mismatch' };
      const body = t.subarray(0, bodyLen);
      if (!verify(null, body, publicKey, t.subarray(bodyLen))) return { ok: false, error: 'bad signature' };
      const expiresAt = Number(t.readBigUInt64BE(2 + la + lb));
      if (expiresAt <= now) return { ok: false, expired: true, error: 'expired' };
      return { ok: true, claims: { deviceA: t.toString('utf8', 1, 1 + la), deviceB: t.toString('utf8', 2 + la, 2 + la + lb), expiresAt } };
    },
  };
}

/** Issue with a given Ed25519 private key (the lab's rendezvous gets the key as PEM). */
export function issueWith(privateKey: KeyObject, deviceA: string, deviceB: string, expiresAt: number): Uint8Array {
  const a = Buffer.from(deviceA, 'utf8');
  const b = Buffer.from(deviceB, 'utf8');
  const body = Buffer.alloc(2 + a.length + b.length + 8);
  body[0] = a.length; a.copy(body, 1);
  body[1 + a.length] = b.length; b.copy(body, 2 + a.length);
  body.writeBigUInt64BE(BigInt(expiresAt), 2 + a.length + b.length);
  return new Uint8Array(Buffer.concat([body, sign(null, body, privateKey)]));
}
