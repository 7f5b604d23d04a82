// Stateless Retry tokens (docs/protocol/transport.md §Handshake step 2):
// expiry (8 bytes, ms, big-endian) || HMAC-SHA256(secret, "tincan retry" ||
// ipv4 || port || expiry || retry SCID)[0..16]. The server keeps no state per
// token; validation needs only the secret, the source address and the DCID.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Millis, UdpAddress } from '../wire/socket.ts';

const LABEL = new TextEncoder().encode('tincan retry');
export const RETRY_TOKEN_LEN = 24;

function mac(secret: Uint8Array, addr: UdpAddress, expiry: Uint8Array, cid: Uint8Array): Uint8Array {
  const ip = addr.address.split('.').map((x) => Number(x) & 0xff);
  const h = createHmac('sha256', secret);
  h.update(LABEL);
  h.update(Uint8Array.from([...ip, addr.port >> 8, addr.port & 0xff]));
  h.update(expiry);
  h.update(cid);
  return new Uint8Array(h.digest().subarray(0, 16));
}

function expiryBytes(at: Millis): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(at))));
  return b;
}

export function makeRetryToken(secret: Uint8Array, now: Millis, lifetimeMs: number, addr: UdpAddress, retryScid: Uint8Array): Uint8Array {
  const exp = expiryBytes(now + lifetimeMs);
  const out = new Uint8Array(RETRY_TOKEN_LEN);
  out.set(exp);
  out.set(mac(secret, addr, exp, retryScid), 8);
  return out;
}

export function checkRetryToken(secret: Uint8Array, now: Millis, token: Uint8Array, addr: UdpAddress, dcid: Uint8Array): boolean {
  if (token.length !== RETRY_TOKEN_LEN) return false;
  const exp = token.subarray(0, 8);
  const at = Number(new DataView(exp.buffer, exp.byteOffset, 8).getBigUint64(0));
  if (at < now) return false;
  return timingSafeEqual(mac(secret, addr, exp, dcid), token.subarray(8));
}
