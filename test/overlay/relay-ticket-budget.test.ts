// RelayForwarder's ticket-check budget (relay.ts checkTicket): a ticket verified OK is
// remembered (refresh BINDs verify nothing), every other BIND spends a token of its source's
// /24 and of the relay's total; over budget the BIND is dropped silently (no ERROR to a
// possibly spoofed source), counted as dropped.ticketBudget, and bound sessions keep
// forwarding. Verifications are counted, not timed (deterministic).
import { describe, it, expect } from 'vitest';
import { RelayForwarder, type RelayConfig, type RelayTransmit, type TicketVerifier } from '../../src/overlay/relay.ts';
import { decodeRelayMessage, encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';

const T0 = 1_700_000_000_000;
const issuer = makeIssuer();
const A: UdpAddress = { address: '198.51.100.2', port: 40000 };
const B: UdpAddress = { address: '198.51.100.3', port: 40001 };
const ticketAB = issuer.issue('dev-a', 'dev-b', T0 + 60_000);
const bind = (deviceId: string, ticket: Uint8Array) => encodeRelayMessage({ type: 'bind', deviceId, ticket });
const data = (sessionId: bigint, n: number) => encodeRelayMessage({ type: 'data', sessionId, payload: new Uint8Array(n) });

function relay(extra: Partial<RelayConfig> = {}): { r: RelayForwarder; verifications: () => number } {
  let calls = 0, n = 0n;
  const inner = standInVerifier(issuer.publicKey);
  const counting: TicketVerifier = { verify: (t, now) => { calls++; return inner.verify(t, now); } };
  const r = new RelayForwarder({ verifier: counting, newSessionId: () => 0x1000n + ++n, ...extra }, T0);
  return { r, verifications: () => calls };
}
function drain(r: RelayForwarder): RelayTransmit[] {
  const out: RelayTransmit[] = [];
  for (let t = r.pollTransmit(); t; t = r.pollTransmit()) out.push(t);
  return out;
}
const junkBase = issuer.issue('dev-x', 'dev-y', T0 + 60_000);
/** A ticket with a broken signature, different bytes for each i (no cache can hold it). */
const junkTicket = (i: number) => { const t = junkBase.slice(); t[t.length - 1] ^= 1 + (i % 255); t[t.length - 2] ^= (i >> 8) & 0xff; t[t.length - 3] ^= (i >> 16) & 0xff; return t; };

describe('RelayForwarder: ticket-check budget', () => {
  it('verifies a ticket once: refresh BINDs of both sides come from the cache', () => {
    const { r, verifications } = relay();
    r.handleDatagram(T0, A, bind('dev-a', ticketAB));
    r.handleDatagram(T0, B, bind('dev-b', ticketAB));
    for (let i = 1; i <= 20; i++) {
      r.handleDatagram(T0 + i * 15_000 / 10, A, bind('dev-a', ticketAB));
      r.handleDatagram(T0 + i * 15_000 / 10, B, bind('dev-b', ticketAB));
    }
    expect(verifications()).toBe(1);
    const c = r.counters();
    expect(c.bindsAccepted).toBe(42);
    expect(c.ticketCacheHits).toBe(41);
    expect(drain(r).every((t) => decodeRelayMessage(t.bytes).type === 'bind-ok')).toBe(true);
  });

  it('a cached ticket past its expiry is refused as expired (not verified again) and forgotten at the sweep', () => {
    const short = issuer.issue('dev-a', 'dev-b', T0 + 5_000);
    const { r, verifications } = relay();
    r.handleDatagram(T0, A, bind('dev-a', short));
    drain(r);
    r.handleDatagram(T0 + 5_000, A, bind('dev-a', short));
    const [err] = drain(r);
    expect(decodeRelayMessage(err!.bytes)).toMatchObject({ type: 'error' });
    expect(r.counters().refused.TICKET_EXPIRED).toBe(1);
    expect(verifications()).toBe(1);
    r.handleTimeout(T0 + 6_000); // the sweep forgets it: the next BIND verifies (and the verifier says expired)
    r.handleDatagram(T0 + 6_001, A, bind('dev-a', short));
    expect(verifications()).toBe(2);
    expect(r.counters().refused.TICKET_EXPIRED).toBe(2);
  });

  it('junk BINDs from one /24: at most its budget is verified, the rest dropped without an ERROR; bound sessions keep forwarding', () => {
    const { r, verifications } = relay({ ticketChecksPerPrefixPerSec: 50, ticketChecksPerSec: 1000, deviceBytesPerSec: 1e9, deviceBurstBytes: 1e9 });
    r.handleDatagram(T0, A, bind('dev-a', ticketAB));
    r.handleDatagram(T0, B, bind('dev-b', ticketAB));
    const sid = (decodeRelayMessage(drain(r)[0]!.bytes) as { sessionId: bigint }).sessionId;
    const before = verifications();
    let errors = 0, forwarded = 0;
    for (let i = 0; i < 5_000; i++) {
      const now = T0 + Math.floor(i / 5); // 5,000 within one second
      r.handleDatagram(now, { address: `203.0.113.${1 + (i % 250)}`, port: 1024 + i }, bind('dev-x', junkTicket(i)));
      if (i % 50 === 0) r.handleDatagram(now, A, data(sid, 1000));
      for (const t of drain(r)) if (t.to === B) forwarded++; else if (decodeRelayMessage(t.bytes).type === 'error') errors++;
    }
    const spent = verifications() - before;
    expect(spent).toBeLessThanOrEqual(50 + 50 + 1); // the burst plus one second's refill
    expect(spent).toBeGreaterThanOrEqual(50);
    expect(errors).toBe(spent); // only verified junk is answered (TICKET_INVALID)
    expect(r.counters().dropped.ticketBudget).toBe(5_000 - spent);
    expect(forwarded).toBe(100);
  });

  it('junk BINDs sprayed over many /24s: the total budget holds; a legit new BIND gets through once the budget refilled', () => {
    const { r, verifications } = relay({ ticketChecksPerSec: 200, ticketChecksPerPrefixPerSec: 100 });
    for (let i = 0; i < 20_000; i++) {
      r.handleDatagram(T0 + Math.floor(i / 20), { address: `198.51.${i % 256}.${1 + ((i >> 8) % 250)}`, port: 2000 }, bind('dev-x', junkTicket(i)));
    }
    drain(r);
    expect(verifications()).toBeLessThanOrEqual(200 + 200 + 1);
    // during the flood a new device's BIND may be dropped; after it (the budget refilled) it binds
    r.handleDatagram(T0 + 2_000, A, bind('dev-a', ticketAB));
    expect(drain(r).map((t) => decodeRelayMessage(t.bytes).type)).toEqual(['bind-ok']);
  });

  it('the cache is bounded: the oldest ticket is forgotten first', () => {
    const { r, verifications } = relay({ ticketCacheSize: 2 });
    const tickets = [0, 1, 2].map((i) => issuer.issue(`dev-${i}`, `dev-${i}b`, T0 + 60_000));
    tickets.forEach((t, i) => r.handleDatagram(T0, { address: `198.51.100.${10 + i}`, port: 3000 }, bind(`dev-${i}`, t)));
    expect(verifications()).toBe(3);
    r.handleDatagram(T0 + 1, { address: '198.51.100.12', port: 3000 }, bind('dev-2', tickets[2]!)); // cached
    expect(verifications()).toBe(3);
    r.handleDatagram(T0 + 1, { address: '198.51.100.10', port: 3000 }, bind('dev-0', tickets[0]!)); // forgotten: verified again
    expect(verifications()).toBe(4);
  });
});
