// Relay message codec (docs/protocol/relay.md): BIND, BIND-OK, DATA, ERROR.
// Pure functions. decodeRelayMessage treats its input as hostile: it throws only
// RelayDecodeError (naming the problem), never reads out of bounds, and bounds
// every length field. DATA payloads are views into the input (no copy).
import type { UdpAddress } from '../wire/socket.ts';

export const RELAY_MARKER = 0xc7;
export const RelayType = { BIND: 0x01, BIND_OK: 0x02, DATA: 0x03, ERROR: 0x04 } as const;
export const MAX_DEVICE_ID_BYTES = 64;
export const MAX_TICKET_BYTES = 1024;
export const MAX_REASON_BYTES = 255;
export const DATA_HEADER_BYTES = 10; // marker, type, session id (8)

export const RelayErrorCode = {
  MALFORMED: 1,
  NO_TICKET: 2,
  TICKET_INVALID: 3,
  TICKET_EXPIRED: 4,
  WRONG_DEVICE: 5,
  FORBIDDEN_ADDRESS: 6,
  DEVICE_SESSION_LIMIT: 7,
  TOTAL_SESSION_LIMIT: 8,
  SIDE_TAKEN: 9,
  UNKNOWN_SESSION: 10,
} as const;
export type RelayErrorCode = (typeof RelayErrorCode)[keyof typeof RelayErrorCode];

/**
 * requestId: chosen by the device for a BIND, echoed in BIND-OK (and as the ERROR's ref),
 * so that several sessions at one relay over one socket are told apart. An ERROR's ref is
 * the BIND's request id, or the session id of the DATA it answers.
 */
export type RelayMessage =
  | { readonly type: 'bind'; readonly requestId?: number; readonly deviceId: string; readonly ticket: Uint8Array }
  | { readonly type: 'bind-ok'; readonly requestId?: number; readonly sessionId: bigint; readonly peerBound: boolean; readonly observed: UdpAddress; readonly lifetimeSec: number }
  | { readonly type: 'data'; readonly sessionId: bigint; readonly payload: Uint8Array }
  | { readonly type: 'error'; readonly code: number; readonly ref?: bigint; readonly reason: string };

export const BIND_OK_BYTES = 25;
export const ERROR_HEADER_BYTES = 13;

export class RelayDecodeError extends Error {
  override readonly name = 'RelayDecodeError';
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function ipv4ToBytes(address: string): Uint8Array {
  const parts = address.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${address}`);
  return Uint8Array.from(parts.map((p) => {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new RangeError(`not an IPv4 address: ${address}`);
    return n;
  }));
}

export function encodeRelayMessage(m: RelayMessage): Uint8Array {
  switch (m.type) {
    case 'bind': {
      const id = utf8.encode(m.deviceId);
      if (id.length < 1 || id.length > MAX_DEVICE_ID_BYTES) throw new RangeError(`device id must be 1..${MAX_DEVICE_ID_BYTES} bytes`);
      if (m.ticket.length > MAX_TICKET_BYTES) throw new RangeError(`ticket must be at most ${MAX_TICKET_BYTES} bytes`);
      const out = new Uint8Array(2 + 4 + 1 + id.length + 2 + m.ticket.length);
      const v = new DataView(out.buffer);
      out[0] = RELAY_MARKER; out[1] = RelayType.BIND;
      v.setUint32(2, (m.requestId ?? 0) >>> 0);
      out[6] = id.length;
      out.set(id, 7);
      v.setUint16(7 + id.length, m.ticket.length);
      out.set(m.ticket, 9 + id.length);
      return out;
    }
    case 'bind-ok': {
      const out = new Uint8Array(BIND_OK_BYTES);
      const v = new DataView(out.buffer);
      out[0] = RELAY_MARKER; out[1] = RelayType.BIND_OK;
      v.setUint32(2, (m.requestId ?? 0) >>> 0);
      v.setBigUint64(6, m.sessionId);
      out[14] = m.peerBound ? 1 : 0;
      out.set(ipv4ToBytes(m.observed.address), 15);
      v.setUint16(19, m.observed.port);
      v.setUint32(21, Math.max(0, Math.min(0xffffffff, Math.floor(m.lifetimeSec))));
      return out;
    }
    case 'data': {
      const out = new Uint8Array(DATA_HEADER_BYTES + m.payload.length);
      out[0] = RELAY_MARKER; out[1] = RelayType.DATA;
      new DataView(out.buffer).setBigUint64(2, m.sessionId);
      out.set(m.payload, DATA_HEADER_BYTES);
      return out;
    }
    case 'error': {
      let reason = utf8.encode(m.reason);
      if (reason.length > MAX_REASON_BYTES) reason = utf8.encode(m.reason.slice(0, 60));
      const out = new Uint8Array(ERROR_HEADER_BYTES + reason.length);
      const v = new DataView(out.buffer);
      out[0] = RELAY_MARKER; out[1] = RelayType.ERROR;
      v.setUint16(2, m.code);
      v.setBigUint64(4, BigInt.asUintN(64, m.ref ?? 0n));
      out[12] = reason.length;
      out.set(reason, ERROR_HEADER_BYTES);
      return out;
    }
  }
}

/** Session id of a DATA datagram without decoding the rest (the forwarder's fast path), or undefined. */
export function peekDataSessionId(bytes: Uint8Array): bigint | undefined {
  if (bytes.length < DATA_HEADER_BYTES || bytes[0] !== RELAY_MARKER || bytes[1] !== RelayType.DATA) return undefined;
  const hi = ((bytes[2] << 24) | (bytes[3] << 16) | (bytes[4] << 8) | bytes[5]) >>> 0;
  const lo = ((bytes[6] << 24) | (bytes[7] << 16) | (bytes[8] << 8) | bytes[9]) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function decodeRelayMessage(bytes: Uint8Array): RelayMessage {
  const need = (n: number, what: string) => {
    if (bytes.length < n) throw new RelayDecodeError(`relay ${what}: truncated (${bytes.length} bytes, need ${n})`);
  };
  need(2, 'header');
  if (bytes[0] !== RELAY_MARKER) throw new RelayDecodeError(`relay header: bad marker 0x${bytes[0].toString(16).padStart(2, '0')}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes[1]) {
    case RelayType.BIND: {
      need(7, 'BIND');
      const idLen = bytes[6];
      if (idLen < 1 || idLen > MAX_DEVICE_ID_BYTES) throw new RelayDecodeError(`relay BIND: device id length ${idLen} not in 1..${MAX_DEVICE_ID_BYTES}`);
      need(7 + idLen + 2, 'BIND');
      let deviceId: string;
      try { deviceId = fromUtf8.decode(bytes.subarray(7, 7 + idLen)); } catch { throw new RelayDecodeError('relay BIND: device id is not UTF-8'); }
      const tLen = v.getUint16(7 + idLen);
      if (tLen > MAX_TICKET_BYTES) throw new RelayDecodeError(`relay BIND: ticket length ${tLen} over ${MAX_TICKET_BYTES}`);
      if (bytes.length !== 9 + idLen + tLen) throw new RelayDecodeError(`relay BIND: length ${bytes.length} != ${9 + idLen + tLen}`);
      return { type: 'bind', requestId: v.getUint32(2), deviceId, ticket: bytes.subarray(9 + idLen) };
    }
    case RelayType.BIND_OK: {
      if (bytes.length !== BIND_OK_BYTES) throw new RelayDecodeError(`relay BIND-OK: length ${bytes.length} != ${BIND_OK_BYTES}`);
      if (bytes[14] & 0xfe) throw new RelayDecodeError(`relay BIND-OK: reserved flag bits set (0x${bytes[14].toString(16)})`);
      return {
        type: 'bind-ok', requestId: v.getUint32(2), sessionId: v.getBigUint64(6), peerBound: (bytes[14] & 1) === 1,
        observed: { address: `${bytes[15]}.${bytes[16]}.${bytes[17]}.${bytes[18]}`, port: v.getUint16(19) }, lifetimeSec: v.getUint32(21),
      };
    }
    case RelayType.DATA:
      need(DATA_HEADER_BYTES, 'DATA');
      return { type: 'data', sessionId: v.getBigUint64(2), payload: bytes.subarray(DATA_HEADER_BYTES) };
    case RelayType.ERROR: {
      need(ERROR_HEADER_BYTES, 'ERROR');
      const len = bytes[12];
      if (bytes.length !== ERROR_HEADER_BYTES + len) throw new RelayDecodeError(`relay ERROR: length ${bytes.length} != ${ERROR_HEADER_BYTES + len}`);
      let reason: string;
      try { reason = fromUtf8.decode(bytes.subarray(ERROR_HEADER_BYTES)); } catch { throw new RelayDecodeError('relay ERROR: reason is not UTF-8'); }
      return { type: 'error', code: v.getUint16(2), ref: v.getBigUint64(4), reason };
    }
    default:
      throw new RelayDecodeError(`relay header: unknown type 0x${bytes[1].toString(16).padStart(2, '0')}`);
  }
}
