// RelayForwarder: blind forwarding between the two ticket holders, and refusal of
// everything else (the issue's abuse list: no ticket, expired ticket, ticket for other
// devices, relaying to 127.0.0.1), limits, drop-oldest queue, expiry, hostile input.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { RelayForwarder, type RelayConfig, type RelayTransmit } from '../../src/overlay/relay.ts';
import { decodeRelayMessage, encodeRelayMessage, RelayErrorCode } from '../../src/overlay/relay-wire.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';

const T0 = 1_700_000_000_000;
const issuer = makeIssuer();
const A: UdpAddress = { address: '198.51.100.2', port: 40000 };
const B: UdpAddress = { address: '198.51.100.3', port: 40001 };
const C: UdpAddress = { address: '203.0.113.9', port: 5000 };
const ticketAB = issuer.issue('dev-a', 'dev-b', T0 + 60_000);

function relay(extra: Partial<RelayConfig> = {}) {
  let n = 0n;
  return new RelayForwarder({ verifier: standInVerifier(issuer.publicKey), newSessionId: () => 0x1000n + ++n, ...extra }, T0);
}
function drain(r: RelayForwarder): RelayTransmit[] {
  const out: RelayTransmit[] = [];
  for (let t = r.pollTransmit(); t; t = r.pollTransmit()) out.push(t);
  return out;
}
const bind = (deviceId: string, ticket: Uint8Array) => encodeRelayMessage({ type: 'bind', deviceId, ticket });
const data = (sessionId: bigint, text: string) => encodeRelayMessage({ type: 'data', sessionId, payload: new TextEncoder().encode(text) });
function errorCodeOf(t: RelayTransmit): number {
  const m = decodeRelayMessage(t.bytes);
  if (m.type !== 'error') throw new Error(`expected ERROR, got ${m.type}`);
  return m.code;
}
function bound(r: RelayForwarder): bigint {
  r.handleDatagram(T0, A, bind('dev-a', ticketAB));
  r.handleDatagram(T0, B, bind('dev-b', ticketAB));
  const out = drain(r);
  const m = decodeRelayMessage(out[0].bytes);
  if (m.type !== 'bind-ok') throw new Error('expected BIND-OK');
  return m.sessionId;
}

describe('RelayForwarder: forwarding', () => {
  it('binds both sides, tells the first when the second arrives, forwards DATA unchanged both ways', () => {
    const r = relay();
    r.handleDatagram(T0, A, bind('dev-a', ticketAB));
    const [okA] = drain(r);
    expect(okA.to).toEqual(A);
    expect(decodeRelayMessage(okA.bytes)).toEqual({ type: 'bind-ok', requestId: 0, sessionId: 0x1001n, peerBound: false, observed: A, lifetimeSec: 60 });
    r.handleDatagram(T0 + 10, B, bind('dev-b', ticketAB));
    const out = drain(r);
    expect(out.map((t) => t.to)).toEqual([B, A]);
    expect(out.map((t) => decodeRelayMessage(t.bytes))).toMatchObject([{ peerBound: true, observed: B }, { peerBound: true, observed: A }]);

    const d = data(0x1001n, 'ciphertext');
    r.handleDatagram(T0 + 20, A, d);
    const [fwd] = drain(r);
    expect(fwd.to).toEqual(B);
    expect(fwd.bytes).toBe(d); // blind: the very same bytes, no copy, no rewrite
    r.handleDatagram(T0 + 21, B, data(0x1001n, 'reply'));
    expect(drain(r).map((t) => t.to)).toEqual([A]);
    expect(r.counters()).toMatchObject({ sessionsActive: 1, bindsAccepted: 2, forwardedPackets: 2 });
  });

  it('drops DATA while the other side is not bound yet', () => {
    const r = relay();
    r.handleDatagram(T0, A, bind('dev-a', ticketAB));
    drain(r);
    r.handleDatagram(T0, A, data(0x1001n, 'early'));
    expect(drain(r)).toEqual([]);
    expect(r.counters().dropped.peerNotBound).toBe(1);
  });
});

describe('RelayForwarder: abuse is refused', () => {
  it('no ticket (the ERROR is never larger than the request)', () => {
    const r = relay();
    r.handleDatagram(T0, A, bind('device-alpha-1', new Uint8Array(0))); // 23-byte request
    r.handleDatagram(T0, A, bind('device-alpha', new Uint8Array(0))); // 21 bytes: no room for the reason
    r.handleDatagram(T0, A, bind('d', new Uint8Array(0))); // 10 bytes: smaller than any ERROR, no reply
    const out = drain(r);
    expect(out.map(errorCodeOf)).toEqual([RelayErrorCode.NO_TICKET, RelayErrorCode.NO_TICKET]);
    expect(out.map((t) => t.bytes.length)).toEqual([22, 13]);
    expect(r.counters().refused.NO_TICKET).toBe(3);
    expect(r.counters().sessionsActive).toBe(0);
  });
  it('expired ticket', () => {
    const r = relay();
    r.handleDatagram(T0, A, bind('dev-a', issuer.issue('dev-a', 'dev-b', T0 - 1)));
    expect(drain(r).map(errorCodeOf)).toEqual([RelayErrorCode.TICKET_EXPIRED]);
  });
  it('forged ticket (signed by another key) and garbage ticket', () => {
    const r = relay();
    r.handleDatagram(T0, A, bind('dev-a', makeIssuer().issue('dev-a', 'dev-b', T0 + 60_000)));
    r.handleDatagram(T0, A, bind('dev-a', Uint8Array.from([1, 2, 3])));
    expect(drain(r).map(errorCodeOf)).toEqual([RelayErrorCode.TICKET_INVALID, RelayErrorCode.TICKET_INVALID]);
  });
  it('ticket for other devices', () => {
    const r = relay();
    r.handleDatagram(T0, C, bind('dev-c', ticketAB));
    expect(drain(r).map(errorCodeOf)).toEqual([RelayErrorCode.WRONG_DEVICE]);
    expect(r.counters().sessionsActive).toBe(0);
  });
  it('relaying to 127.0.0.1 (or any private/special address): refused without any reply', () => {
    const r = relay();
    for (const address of ['127.0.0.1', '10.0.0.5', '192.168.1.1', '172.16.0.1', '100.64.0.1', '169.254.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1']) {
      r.handleDatagram(T0, { address, port: 4000 }, bind('dev-b', ticketAB));
    }
    r.handleDatagram(T0, { address: '198.51.100.3', port: 0 }, bind('dev-b', ticketAB));
    expect(drain(r)).toEqual([]);
    expect(r.counters()).toMatchObject({ sessionsActive: 0, refused: { FORBIDDEN_ADDRESS: 10 } });
    // A loopback peer can never become a target either: A bound alone has nobody to send to.
    r.handleDatagram(T0, A, bind('dev-a', ticketAB));
    drain(r);
    r.handleDatagram(T0, A, data(0x1001n, 'to loopback?'));
    expect(drain(r)).toEqual([]);
  });
  it('loopback peers are accepted only when the operator allows it (benchmarks)', () => {
    const r = relay({ allowLoopback: true });
    r.handleDatagram(T0, { address: '127.0.0.1', port: 4000 }, bind('dev-a', ticketAB));
    expect(decodeRelayMessage(drain(r)[0].bytes).type).toBe('bind-ok');
  });
  it('DATA from an address not bound to the session, or for an unknown session', () => {
    const r = relay();
    const sid = bound(r);
    r.handleDatagram(T0, C, data(sid, 'inject'));
    r.handleDatagram(T0, A, data(sid + 99n, 'wrong session'));
    const out = drain(r);
    expect(out.map((t) => [t.to, errorCodeOf(t), t.bytes.length])).toEqual([[C, RelayErrorCode.UNKNOWN_SESSION, 13], [A, RelayErrorCode.UNKNOWN_SESSION, 13]]);
    expect(out.map((t) => (decodeRelayMessage(t.bytes) as { ref: bigint }).ref)).toEqual([sid, sid + 99n]); // ref = the DATA's session
    expect(r.counters().forwardedPackets).toBe(0);
  });
  it('a stolen ticket cannot take over an active side; rebinding after 1 s of silence is allowed (NAT rebinding, a moved device)', () => {
    const r = relay();
    const sid = bound(r);
    r.handleDatagram(T0 + 999, C, bind('dev-a', ticketAB));
    expect(drain(r).map(errorCodeOf)).toEqual([RelayErrorCode.SIDE_TAKEN]);
    r.handleDatagram(T0 + 999, B, bind('dev-a', ticketAB)); // B's endpoint trying to be both sides
    expect(drain(r).map(errorCodeOf)).toEqual([RelayErrorCode.SIDE_TAKEN]);
    const A2 = { address: '198.51.100.2', port: 40099 };
    r.handleDatagram(T0 + 1000, A2, bind('dev-a', ticketAB));
    expect(decodeRelayMessage(drain(r)[0].bytes)).toMatchObject({ type: 'bind-ok', sessionId: sid });
    r.handleDatagram(T0 + 1001, B, data(sid, 'x'));
    expect(drain(r).map((t) => t.to)).toEqual([A2]);
    // The old default (5 s) is still configurable.
    const slow = relay({ rebindAfterIdleMs: 5000 });
    bound(slow);
    slow.handleDatagram(T0 + 4999, A2, bind('dev-a', ticketAB));
    expect(drain(slow).map(errorCodeOf)).toEqual([RelayErrorCode.SIDE_TAKEN]);
  });
  it('malformed datagrams and unexpected message types get no reply', () => {
    const r = relay();
    r.handleDatagram(T0, C, Uint8Array.from([0xc7, 0x01, 0xff]));
    r.handleDatagram(T0, C, encodeRelayMessage({ type: 'error', code: 1, reason: 'x' }));
    expect(drain(r)).toEqual([]);
    expect(r.counters()).toMatchObject({ refused: { MALFORMED: 1 }, dropped: { unexpectedType: 1 } });
  });
});

describe('RelayForwarder: limits, queue, expiry', () => {
  it('limits sessions per device and in total', () => {
    const r = relay({ maxSessionsPerDevice: 2, maxSessions: 3 });
    const codes: string[] = [];
    const peers = ['dev-b', 'dev-c', 'dev-d'];
    for (const p of peers) {
      r.handleDatagram(T0, A, bind('dev-a', issuer.issue('dev-a', p, T0 + 60_000)));
      codes.push(decodeRelayMessage(drain(r)[0].bytes).type === 'bind-ok' ? 'ok' : 'refused');
    }
    expect(codes).toEqual(['ok', 'ok', 'refused']);
    expect(r.counters().refused.DEVICE_SESSION_LIMIT).toBe(1);
    r.handleDatagram(T0, C, bind('dev-x', issuer.issue('dev-x', 'dev-y', T0 + 60_000)));
    drain(r);
    r.handleDatagram(T0, C, bind('dev-z', issuer.issue('dev-z', 'dev-w', T0 + 60_000)));
    expect(drain(r).map(errorCodeOf)).toEqual([RelayErrorCode.TOTAL_SESSION_LIMIT]);
  });

  it('rate-limits bytes per sending device with a token bucket (excess dropped)', () => {
    const r = relay({ deviceBytesPerSec: 10_000, deviceBurstBytes: 2000 });
    const sid = bound(r);
    const d = encodeRelayMessage({ type: 'data', sessionId: sid, payload: new Uint8Array(490) }); // 500 bytes
    for (let i = 0; i < 10; i++) r.handleDatagram(T0, A, d);
    expect(drain(r)).toHaveLength(4);
    for (let i = 0; i < 10; i++) r.handleDatagram(T0 + 100, A, d); // +1000 bytes of tokens
    expect(drain(r)).toHaveLength(2);
    // B has its own bucket
    for (let i = 0; i < 3; i++) r.handleDatagram(T0 + 100, B, encodeRelayMessage({ type: 'data', sessionId: sid, payload: new Uint8Array(490) }));
    expect(drain(r)).toHaveLength(3);
    expect(r.counters().dropped.rateLimited).toBe(14);
  });

  it('bounded queue drops the oldest datagram when full', () => {
    const r = relay({ maxQueuePackets: 4 });
    const sid = bound(r);
    for (let i = 0; i < 6; i++) r.handleDatagram(T0, A, data(sid, `m${i}`));
    const out = drain(r).map((t) => new TextDecoder().decode((decodeRelayMessage(t.bytes) as { payload: Uint8Array }).payload));
    expect(out).toEqual(['m2', 'm3', 'm4', 'm5']);
    expect(r.counters().dropped.queueOverflow).toBe(2);
  });

  it('ends sessions at ticket expiry (sweep every second) and after 60 s idle', () => {
    const r = relay();
    const sid = bound(r);
    expect(r.pollTimeout()).toBe(T0 + 1000);
    for (let t = T0 + 1000; t <= T0 + 60_000; t += 1000) r.handleTimeout(t); // idle 60 s == ticket expiry here
    expect(r.counters()).toMatchObject({ sessionsActive: 0, sessionsExpired: 1 });
    r.handleDatagram(T0 + 60_001, A, data(sid, 'late'));
    expect(drain(r).map(errorCodeOf)).toEqual([RelayErrorCode.UNKNOWN_SESSION]);

    const r2 = relay({ idleTimeoutMs: 3000 });
    bound(r2);
    for (let t = T0 + 1000; t <= T0 + 3000; t += 1000) r2.handleTimeout(t);
    expect(r2.counters().sessionsExpired).toBe(1);
  });

  it('forward fast path: sessions interleaved go to their own peers, pollInto reuses the caller slot, a removed session is forgotten', () => {
    const r = relay();
    const sAB = bound(r);
    const ticketCD = issuer.issue('dev-c', 'dev-d', T0 + 60_000);
    const D: UdpAddress = { address: '198.51.100.7', port: 40007 };
    r.handleDatagram(T0, C, bind('dev-c', ticketCD));
    r.handleDatagram(T0, D, bind('dev-d', ticketCD));
    const sCD = (decodeRelayMessage(drain(r)[0].bytes) as { sessionId: bigint }).sessionId;
    expect(sCD).not.toBe(sAB);
    const slot = { to: A, bytes: new Uint8Array(0) };
    const got: string[] = [];
    // Interleaved, with equal-but-not-identical sender objects: the one-entry session cache must never misroute.
    const sends: [UdpAddress, bigint, string][] = [[A, sAB, 'a1'], [{ ...C }, sCD, 'c1'], [{ ...B }, sAB, 'b1'], [D, sCD, 'd1'], [C, sAB, 'wrong side'], [A, sCD, 'wrong session']];
    for (const [from, sid, text] of sends) {
      r.handleDatagram(T0 + 1, from, data(sid, text));
      while (r.pollInto(slot)) {
        const m = decodeRelayMessage(slot.bytes);
        got.push(m.type === 'data' ? `${new TextDecoder().decode(m.payload)}->${slot.to.port}` : `${m.type}->${slot.to.port}`);
      }
    }
    expect(got).toEqual([`a1->${B.port}`, `c1->${D.port}`, `b1->${A.port}`, `d1->${C.port}`, `error->${C.port}`, `error->${A.port}`]);
    expect(r.pollInto(slot)).toBe(false);
    // Expire everything; the cached last session must not keep forwarding.
    for (let t = T0 + 1000; t <= T0 + 61_000; t += 1000) r.handleTimeout(t);
    r.handleDatagram(T0 + 61_001, C, data(sCD, 'late'));
    expect(drain(r).map(errorCodeOf)).toEqual([RelayErrorCode.UNKNOWN_SESSION]);
  });

  it('hostile input from public addresses: never throws, replies only to the sender, forwards only between bound sides', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(A, B, C), fc.uint8Array({ maxLength: 40 }), fc.boolean()), { maxLength: 40 }), (msgs) => {
      const r = relay();
      const sid = bound(r);
      for (const [from, junk, asData] of msgs) {
        const bytes = asData ? encodeRelayMessage({ type: 'data', sessionId: sid, payload: junk }) : Uint8Array.from([0xc7, ...junk]);
        r.handleDatagram(T0, from, bytes);
        for (const t of drain(r)) {
          const m = decodeRelayMessage(t.bytes);
          if (m.type === 'data') expect([A, B]).toContainEqual(t.to);
          else expect(t.to).toEqual(from);
          if (m.type === 'error') expect(t.bytes.length).toBeLessThanOrEqual(bytes.length); // no amplification
        }
      }
    }), { numRuns: 300 });
  });
});
