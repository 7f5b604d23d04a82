// RelayForwarder's per-device session quota (maxSessionsPerDevice) counts a session against a
// device only once that device has bound its side: sessions other devices created with it and
// half-bound (a contact's many devices, each with a ticket naming the victim) do not use up
// its quota; its own bound sessions do, and the quota comes back when one is removed.
import { describe, it, expect } from 'vitest';
import { RelayForwarder } from '../../src/overlay/relay.ts';
import { encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';
import { answers } from './relay-answers.ts';

const T0 = 1_700_000_000_000;
const issuer = makeIssuer();
const at = (i: number): UdpAddress => ({ address: `198.51.100.${10 + i}`, port: 5000 + i });
const VICTIM: UdpAddress = { address: '203.0.113.7', port: 4000 };

function relay(max: number) {
  let n = 0n;
  return new RelayForwarder({ verifier: standInVerifier(issuer.publicKey), newSessionId: () => 0x1000n + ++n, maxSessionsPerDevice: max, idleTimeoutMs: 10_000 }, T0);
}
const bind = (r: RelayForwarder, now: number, from: UdpAddress, dev: string, a: string, b: string) =>
  r.handleDatagram(now, from, encodeRelayMessage({ type: 'bind', deviceId: dev, ticket: issuer.issue(a, b, T0 + 600_000) }));

describe('RelayForwarder: per-device session quota counts bound sides', () => {
  it("a contact's half-bound sessions with the victim leave the victim's quota alone", () => {
    const r = relay(8);
    for (let i = 0; i < 8; i++) bind(r, T0 + i, at(i), `m${i}`, `m${i}`, 'victim');
    expect(answers(r)).toEqual(Array(8).fill('bind-ok'));
    bind(r, T0 + 100, at(20), 'carol', 'carol', 'victim');
    bind(r, T0 + 101, VICTIM, 'victim', 'carol', 'victim');
    expect(answers(r)).toEqual(['bind-ok', 'bind-ok', 'bind-ok']);
    expect(r.counters().refused.DEVICE_SESSION_LIMIT).toBeUndefined();
  });

  it('the sessions a device bound itself count: over the quota its BIND is refused, also in a session the other side created', () => {
    const r = relay(2);
    bind(r, T0, VICTIM, 'victim', 'victim', 'p1');
    bind(r, T0, VICTIM, 'victim', 'victim', 'p2');
    expect(answers(r)).toEqual(['bind-ok', 'bind-ok']);
    bind(r, T0, VICTIM, 'victim', 'victim', 'p3'); // a new session: over the quota
    expect(answers(r)).toEqual(['DEVICE_SESSION_LIMIT']);
    bind(r, T0 + 1, at(4), 'p4', 'p4', 'victim'); // p4 creates one with the victim: fine (its side only)
    expect(answers(r)).toEqual(['bind-ok']);
    bind(r, T0 + 2, VICTIM, 'victim', 'p4', 'victim'); // the victim binding its side there: over its quota
    expect(answers(r)).toEqual(['DEVICE_SESSION_LIMIT']);
    bind(r, T0 + 3, VICTIM, 'victim', 'victim', 'p1'); // a refresh of a side it holds: not a new one
    expect(answers(r)).toEqual(['bind-ok']);
  });

  it('a removed session gives the quota back (its bound sides only)', () => {
    const r = relay(1);
    bind(r, T0, VICTIM, 'victim', 'victim', 'p1');
    expect(answers(r)).toEqual(['bind-ok']);
    bind(r, T0 + 5_000, at(2), 'p2', 'p2', 'victim'); // half-bound by p2, kept alive below
    bind(r, T0 + 5_000, VICTIM, 'victim', 'p2', 'victim');
    expect(answers(r)).toEqual(['bind-ok', 'DEVICE_SESSION_LIMIT']);
    r.handleTimeout(T0 + 10_500); // (victim, p1) idle for 10 s: removed
    expect(r.counters().sessionsExpired).toBe(1);
    bind(r, T0 + 10_600, VICTIM, 'victim', 'p2', 'victim');
    expect(answers(r)).toEqual(['bind-ok', 'bind-ok']); // to the victim, and p2 told its peer is bound
  });
});
