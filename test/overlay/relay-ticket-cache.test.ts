// RelayForwarder's cache of tickets verified OK: least recently used forgotten first (a
// ticket a bound device keeps refreshing with stays), and by default it holds 2 x maxSessions
// tickets, so the refresh BINDs of a full relay — each side may hold its own ticket — all hit
// the cache and spend none of the ticket-check budget. Verifications are counted (deterministic).
import { describe, it, expect } from 'vitest';
import { RelayForwarder, type RelayConfig, type TicketVerifier } from '../../src/overlay/relay.ts';
import { encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';

const T0 = 1_700_000_000_000;
const issuer = makeIssuer();
const bind = (deviceId: string, ticket: Uint8Array) => encodeRelayMessage({ type: 'bind', deviceId, ticket });
const at = (i: number): UdpAddress => ({ address: `198.51.${100 + (i % 2)}.${1 + (i % 250)}`, port: 3000 + i });

function relay(extra: Partial<RelayConfig> = {}): { r: RelayForwarder; verifications: () => number } {
  let calls = 0, n = 0n;
  const inner = standInVerifier(issuer.publicKey);
  const counting: TicketVerifier = { verify: (t, now) => { calls++; return inner.verify(t, now); } };
  const r = new RelayForwarder({ verifier: counting, newSessionId: () => 0x1000n + ++n, ticketChecksPerSec: 1e6, ticketChecksPerPrefixPerSec: 1e6, maxHalfBoundPerAddress: 1e6, maxHalfBoundPerPrefix: 1e6, ...extra }, T0);
  return { r, verifications: () => calls };
}

describe('relay: cache of verified tickets', () => {
  it('a cache hit makes the ticket most recently used: the untouched one is forgotten first', () => {
    const { r, verifications } = relay({ ticketCacheSize: 2 });
    const t = [0, 1, 2].map((i) => issuer.issue(`d${i}`, `e${i}`, T0 + 60_000));
    r.handleDatagram(T0, at(0), bind('d0', t[0]!));
    r.handleDatagram(T0, at(1), bind('d1', t[1]!));
    r.handleDatagram(T0 + 1, at(0), bind('d0', t[0]!)); // hit: t0 now most recent
    r.handleDatagram(T0 + 2, at(2), bind('d2', t[2]!)); // evicts t1, not t0
    expect(verifications()).toBe(3);
    r.handleDatagram(T0 + 3, at(0), bind('d0', t[0]!));
    expect(verifications()).toBe(3);
    r.handleDatagram(T0 + 4, at(1), bind('d1', t[1]!));
    expect(verifications()).toBe(4);
  });

  it('by default it holds 2 x maxSessions: every side of a full relay, each with its own ticket, refreshes without a verification', () => {
    const sessions = 60;
    const { r, verifications } = relay({ maxSessions: sessions });
    const tickets: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < sessions; i++) tickets.push([issuer.issue(`a${i}`, `b${i}`, T0 + 60_000), issuer.issue(`a${i}`, `b${i}`, T0 + 61_000)]);
    tickets.forEach(([ta, tb], i) => { r.handleDatagram(T0, at(2 * i), bind(`a${i}`, ta)); r.handleDatagram(T0, at(2 * i + 1), bind(`b${i}`, tb)); });
    expect(r.counters().sessionsActive).toBe(sessions);
    expect(verifications()).toBe(2 * sessions);
    for (let round = 1; round <= 3; round++) {
      tickets.forEach(([ta, tb], i) => { r.handleDatagram(T0 + round * 15_000, at(2 * i), bind(`a${i}`, ta)); r.handleDatagram(T0 + round * 15_000, at(2 * i + 1), bind(`b${i}`, tb)); });
    }
    expect(verifications()).toBe(2 * sessions);
    expect(r.counters().ticketCacheHits).toBe(3 * 2 * sessions);
  });
});
