// Shared world of the relay batch-path review tests (review-relay-run, review-relay-driver-throw):
// a string ticket verifier ('a|b|expiresAt'; 'THROW' makes verify() throw, as a verifier bug
// would), session ids, endpoints in the documentation ranges, a relay config with a small
// device rate limit and queue, two bound sessions (A<->B: sid(1), C<->D: sid(2)), DATA
// datagrams with a recognisable payload, and a run split into its segments.
import { type RelayConfig, type TicketVerifier } from '../../src/overlay/relay.ts';
import { encodeRelayMessage, DATA_HEADER_BYTES } from '../../src/overlay/relay-wire.ts';
import type { Millis, UdpAddress } from '../../src/wire/socket.ts';

export const T0 = 1_700_000_000_000;
export const verifier: TicketVerifier = {
  verify(ticket) {
    const s = new TextDecoder().decode(ticket);
    if (s === 'THROW') throw new Error('verifier bug');
    const parts = s.split('|');
    if (parts.length !== 3) return { ok: false, error: 'bad' };
    return { ok: true, claims: { deviceA: parts[0]!, deviceB: parts[1]!, expiresAt: Number(parts[2]) } };
  },
};
export const ticket = (a: string, b: string) => new TextEncoder().encode(`${a}|${b}|${T0 + 3_600_000}`);
export const sid = (n: number) => 0x10000000an + BigInt(n) * 0x100000001n;
export const A = { address: '198.51.100.2', port: 40000 }, B = { address: '198.51.100.3', port: 40001 };
export const C = { address: '203.0.113.9', port: 5000 }, D = { address: '203.0.113.10', port: 5001 };
export const X = { address: '192.0.2.77', port: 6000 }; // never binds

export function config(over: Partial<RelayConfig> = {}): RelayConfig {
  let n = 0;
  return { verifier, newSessionId: () => sid(++n), deviceBytesPerSec: 20_000, deviceBurstBytes: 3_000, maxQueuePackets: 64, ...over };
}

export interface Core {
  handleDatagram(now: Millis, from: UdpAddress, b: Uint8Array): void;
  handleRun(now: Millis, from: UdpAddress, buf: Uint8Array, off: number, len: number, seg: number): void;
  pollInto(slot: { to: UdpAddress; bytes: Uint8Array }): boolean;
  pollRunInto(slot: { to: UdpAddress; bytes: Uint8Array; segmentSize: number }): boolean;
  counters(): unknown;
}

/** Two bound sessions (A<->B: sid(1), C<->D: sid(2)); the BIND-OKs drained. */
export function bound(core: Core): Core {
  core.handleDatagram(T0, A, encodeRelayMessage({ type: 'bind', deviceId: 'a', ticket: ticket('a', 'b') }));
  core.handleDatagram(T0, B, encodeRelayMessage({ type: 'bind', deviceId: 'b', ticket: ticket('a', 'b') }));
  core.handleDatagram(T0, C, encodeRelayMessage({ type: 'bind', deviceId: 'c', ticket: ticket('c', 'd') }));
  core.handleDatagram(T0, D, encodeRelayMessage({ type: 'bind', deviceId: 'd', ticket: ticket('c', 'd') }));
  const slot = { to: A, bytes: new Uint8Array(0) };
  while (core.pollInto(slot));
  return core;
}

export const data = (s: bigint, len: number, tag: number) => {
  const b = new Uint8Array(len);
  b.set(encodeRelayMessage({ type: 'data', sessionId: s, payload: new Uint8Array(0) }).subarray(0, Math.min(len, DATA_HEADER_BYTES)));
  for (let i = DATA_HEADER_BYTES; i < len; i++) b[i] = (i * 13 + tag) & 0xff;
  return b;
};
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
export const out = (to: UdpAddress, b: Uint8Array) => `${to.address}:${to.port} ${hex(b)}`;

export function splitRun(buf: Uint8Array, seg: number): Uint8Array[] {
  if (!(seg >= 1) || seg >= buf.length || !Number.isInteger(seg)) return [buf];
  const r: Uint8Array[] = [];
  for (let p = 0; p < buf.length; p += seg) r.push(buf.subarray(p, Math.min(buf.length, p + seg)));
  return r;
}
