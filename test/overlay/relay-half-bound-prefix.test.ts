// RelayForwarder caps the half-bound sessions (one side bound, the other never yet) created
// from one source /24 (maxHalfBoundPerPrefix, default 64): one network — an account with
// thousands of free devices behind one address (notes/requests/overlay-relay.md, session
// quota, "related") — cannot fill the relay's 10,000 sessions with sessions nobody completes.
// A session stops counting once its second side binds, and when it is removed. One source
// address (IP) creates at most 16 of them (maxHalfBoundPerAddress): one abusive host behind a
// carrier-grade NAT /24 uses up only part of its /24's share. A session still half-bound 30 s
// after its creation (halfBoundTimeoutMs) is swept, so calls that never complete give their
// slots back sooner than the 60 s idle timeout.
import { describe, it, expect } from 'vitest';
import { RelayForwarder } from '../../src/overlay/relay.ts';
import { encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';
import { answers } from './relay-answers.ts';

const T0 = 1_700_000_000_000;
const issuer = makeIssuer();
const tickets = new Map<string, Uint8Array>();
const ticket = (a: string, b: string) => {
  const k = `${a}|${b}`;
  let t = tickets.get(k);
  if (t === undefined) tickets.set(k, (t = issuer.issue(a, b, T0 + 600_000)));
  return t;
};

function relay(extra: { maxHalfBoundPerPrefix?: number; maxHalfBoundPerAddress?: number; idleTimeoutMs?: number } = {}) {
  let n = 0n;
  return new RelayForwarder({ verifier: standInVerifier(issuer.publicKey), newSessionId: () => 0x1000n + ++n, idleTimeoutMs: 10_000, ticketChecksPerSec: 1e6, ticketChecksPerPrefixPerSec: 1e6, ...extra }, T0);
}
const bind = (r: RelayForwarder, now: number, from: UdpAddress, dev: string, a: string, b: string) =>
  r.handleDatagram(now, from, encodeRelayMessage({ type: 'bind', requestId: 7, deviceId: dev, ticket: ticket(a, b) }));
const inNet = (net: string, i: number): UdpAddress => ({ address: `${net}.${1 + (i % 250)}`, port: 2000 + i });

describe('relay: half-bound sessions per source /24', () => {
  it('one /24 creates at most 64 half-bound sessions (default); another /24 still can; the refusal is TOTAL_SESSION_LIMIT, counted', () => {
    const r = relay();
    for (let i = 0; i < 64; i++) bind(r, T0 + i, inNet('203.0.113', i), `x${i}`, `x${i}`, `y${i}`);
    expect(answers(r)).toEqual(new Array(64).fill('bind-ok'));
    bind(r, T0 + 100, inNet('203.0.113', 64), 'x64', 'x64', 'y64');
    expect(answers(r)).toEqual(['TOTAL_SESSION_LIMIT']);
    bind(r, T0 + 101, inNet('198.51.100', 0), 'x64', 'x64', 'y64');
    expect(answers(r)).toEqual(['bind-ok']);
    const c = r.counters();
    expect(c.halfBoundPrefixLimited).toBe(1);
    expect(c.sessionsActive).toBe(65);
    // refreshes of existing half-bound sessions are not affected
    bind(r, T0 + 200, inNet('203.0.113', 3), 'x3', 'x3', 'y3');
    expect(answers(r)).toEqual(['bind-ok']);
  });

  it('one account with hundreds of own devices behind one address creates at most 16 half-bound sessions (not the relay\'s 10,000); 4 addresses of one /24 at most 64', () => {
    const r = relay();
    const from: UdpAddress = { address: '203.0.113.9', port: 40_000 };
    let ok = 0;
    for (let i = 0; i < 300; i++) {
      bind(r, T0 + i, { ...from, port: from.port + i }, `own${i}`, `own${i}`, `own${i + 1}x`);
      ok += answers(r).filter((a) => a === 'bind-ok').length;
    }
    expect(ok).toBe(16);
    expect(r.counters().sessionsActive).toBe(16);
    expect(r.counters().halfBoundAddressLimited).toBe(300 - 16);
    for (let h = 10; h < 20; h++) {
      for (let i = 0; i < 100; i++) bind(r, T0 + 3_000 + i, { address: `203.0.113.${h}`, port: 1000 + i }, `h${h}d${i}`, `h${h}d${i}`, `h${h}e${i}`);
    }
    expect(answers(r).filter((a) => a === 'bind-ok').length).toBe(64 - 16);
    expect(r.counters().sessionsActive).toBe(64);
  });

  it('a host at its 16 leaves the rest of its /24 the remaining 48', () => {
    const r = relay();
    for (let i = 0; i < 20; i++) bind(r, T0, { address: '203.0.113.66', port: 3000 + i }, `m${i}`, `m${i}`, `v${i}`);
    expect(answers(r).filter((a) => a === 'bind-ok').length).toBe(16);
    bind(r, T0 + 1, { address: '203.0.113.67', port: 3000 }, 'carol', 'carol', 'dave');
    expect(answers(r)).toEqual(['bind-ok']);
  });

  it('a session still half-bound 30 s after its creation is swept even while its side refreshes; a refresh then creates it again; a complete one stays', () => {
    const r = relay({ idleTimeoutMs: 60_000 });
    const a = inNet('203.0.113', 1), b = inNet('198.51.100', 2);
    bind(r, T0, a, 'lonely', 'lonely', 'away');
    bind(r, T0, a, 'pair1', 'pair1', 'pair2');
    bind(r, T0 + 1_000, b, 'pair2', 'pair1', 'pair2');
    answers(r);
    for (let t = T0 + 5_000; t < T0 + 30_000; t += 5_000) {
      bind(r, t, a, 'lonely', 'lonely', 'away');
      r.handleTimeout(t);
    }
    answers(r);
    expect(r.counters().sessionsActive).toBe(2);
    r.handleTimeout(T0 + 30_500);
    expect(r.counters().sessionsActive).toBe(1); // (pair1, pair2) stays
    expect(r.counters().sessionsExpired).toBe(1);
    bind(r, T0 + 31_000, a, 'lonely', 'lonely', 'away');
    expect(answers(r)).toEqual(['bind-ok']);
    expect(r.counters().sessionsActive).toBe(2);
    expect(r.counters().sessionsCreated).toBe(3);
  });

  it('a session stops counting when its second side binds, and when it is removed', () => {
    const r = relay({ maxHalfBoundPerPrefix: 2 });
    bind(r, T0, inNet('203.0.113', 0), 'a0', 'a0', 'b0');
    bind(r, T0, inNet('203.0.113', 1), 'a1', 'a1', 'b1');
    bind(r, T0, inNet('203.0.113', 2), 'a2', 'a2', 'b2');
    expect(answers(r)).toEqual(['bind-ok', 'bind-ok', 'TOTAL_SESSION_LIMIT']);
    // b0 binds its side (from anywhere, even the same /24): (a0, b0) is complete
    bind(r, T0 + 10, inNet('203.0.113', 100), 'b0', 'a0', 'b0');
    expect(answers(r)).toEqual(['bind-ok', 'bind-ok']);
    bind(r, T0 + 20, inNet('203.0.113', 2), 'a2', 'a2', 'b2');
    expect(answers(r)).toEqual(['bind-ok']);
    bind(r, T0 + 30, inNet('203.0.113', 3), 'a3', 'a3', 'b3');
    expect(answers(r)).toEqual(['TOTAL_SESSION_LIMIT']);
    // (a1, b1) and (a2, b2) go idle and are swept; (a0, b0) is kept alive
    bind(r, T0 + 9_000, inNet('203.0.113', 0), 'a0', 'a0', 'b0');
    bind(r, T0 + 9_000, inNet('203.0.113', 100), 'b0', 'a0', 'b0');
    r.handleTimeout(T0 + 10_500);
    answers(r);
    expect(r.counters().sessionsActive).toBe(1);
    bind(r, T0 + 10_600, inNet('203.0.113', 3), 'a3', 'a3', 'b3');
    bind(r, T0 + 10_600, inNet('203.0.113', 4), 'a4', 'a4', 'b4');
    bind(r, T0 + 10_600, inNet('203.0.113', 5), 'a5', 'a5', 'b5');
    expect(answers(r)).toEqual(['bind-ok', 'bind-ok', 'TOTAL_SESSION_LIMIT']);
  });
});
