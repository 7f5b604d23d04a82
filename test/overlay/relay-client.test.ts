// RelayClient against the real RelayForwarder (pure, virtual time): binding, exact
// retransmission and refresh timers, DATA both ways, refusal, relay restart recovery.
import { describe, it, expect } from 'vitest';
import { RelayClient } from '../../src/overlay/relay-client.ts';
import { RelayForwarder } from '../../src/overlay/relay.ts';
import { RelayErrorCode } from '../../src/overlay/relay-wire.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';

const T0 = 1_700_000_000_000;
const issuer = makeIssuer();
const RELAY = { address: '198.51.100.20', port: 3479 };
const A = { address: '198.51.100.2', port: 40000 };
const B = { address: '198.51.100.3', port: 40001 };
const ticket = issuer.issue('dev-a', 'dev-b', T0 + 600_000);
let sid = 0n;
const newRelay = () => new RelayForwarder({ verifier: standInVerifier(issuer.publicKey), newSessionId: () => ++sid }, T0);

/** Deliver everything queued between clients and relay (zero latency) at `now`. */
function exchange(now: number, relay: RelayForwarder | undefined, clients: [UdpAddress, RelayClient][], inbox: Map<RelayClient, string[]>) {
  for (let round = 0; round < 10; round++) {
    let moved = false;
    for (const [addr, c] of clients) for (let t = c.pollTransmit(); t; t = c.pollTransmit()) { moved = true; relay?.handleDatagram(now, addr, t.bytes); }
    for (let t = relay?.pollTransmit(); t; t = relay!.pollTransmit()) {
      moved = true;
      const target = clients.find(([a]) => a.address === t!.to.address && a.port === t!.to.port)?.[1];
      const payload = target?.handleDatagram(now, t.bytes);
      if (target && payload) inbox.get(target)!.push(new TextDecoder().decode(payload));
    }
    if (!moved) return;
  }
}

describe('RelayClient', () => {
  it('binds both sides, reports peer-bound, carries DATA both ways', () => {
    const relay = newRelay();
    const a = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket }, T0);
    const inbox = new Map<RelayClient, string[]>();
    inbox.set(a, []);
    exchange(T0, relay, [[A, a]], inbox);
    expect(a.pollEvent()).toMatchObject({ type: 'bound', observed: A, peerBound: false });
    const b = new RelayClient({ relay: RELAY, deviceId: 'dev-b', ticket }, T0 + 5);
    inbox.set(b, []);
    exchange(T0 + 5, relay, [[A, a], [B, b]], inbox);
    expect(b.pollEvent()).toMatchObject({ type: 'bound', peerBound: true });
    expect(a.pollEvent()).toEqual({ type: 'peer-bound' });
    relay.handleDatagram(T0 + 6, A, a.wrap(new TextEncoder().encode('to b'))!);
    relay.handleDatagram(T0 + 6, B, b.wrap(new TextEncoder().encode('to a'))!);
    exchange(T0 + 6, relay, [[A, a], [B, b]], inbox);
    expect([inbox.get(a), inbox.get(b)]).toEqual([['to a'], ['to b']]);
  });

  it('retransmits BIND at 0, 250, 750, 1750, 3750 ms and fails at 7750 ms without a relay', () => {
    const c = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket }, 0);
    expect(c.wrap(new Uint8Array(1))).toBeUndefined();
    const sends: number[] = [];
    let now = 0;
    for (let i = 0; i < 20; i++) {
      while (c.pollTransmit()) sends.push(now);
      const t = c.pollTimeout();
      if (t === undefined) break;
      now = t;
      c.handleTimeout(now);
    }
    expect(sends).toEqual([0, 250, 750, 1750, 3750]);
    expect(now).toBe(7750);
    expect(c.state).toBe('failed');
    expect(c.pollEvent()).toEqual({ type: 'failed' });
  });

  it('refreshes every 15 s once bound', () => {
    const relay = newRelay();
    const c = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket }, T0);
    const inbox = new Map([[c, [] as string[]]]);
    exchange(T0, relay, [[A, c]], inbox);
    expect(c.pollTimeout()).toBe(T0 + 15_000);
    c.handleTimeout(T0 + 15_000);
    expect(c.pollTransmit()).toBeDefined();
    expect(c.pollTimeout()).toBe(T0 + 30_000);
  });

  it('an expired ticket is refused; a fresh ticket binds again', () => {
    const relay = newRelay();
    const old = issuer.issue('dev-a', 'dev-b', T0 - 1);
    const c = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket: old }, T0);
    const inbox = new Map([[c, [] as string[]]]);
    exchange(T0, relay, [[A, c]], inbox);
    expect(c.pollEvent()).toMatchObject({ type: 'refused', code: RelayErrorCode.TICKET_EXPIRED });
    expect(c.state).toBe('refused');
    c.updateTicket(T0 + 1, ticket);
    exchange(T0 + 1, relay, [[A, c]], inbox);
    expect(c.state).toBe('bound');
  });

  it('two clients on one socket and relay: each takes only the answers to its own BIND', () => {
    const relay = newRelay();
    const t2 = issuer.issue('dev-a', 'dev-c', T0 + 600_000);
    let rid = 100;
    const ab = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket, newRequestId: () => ++rid }, T0);
    const ac = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket: t2, newRequestId: () => ++rid }, T0);
    for (const c of [ab, ac]) for (let t = c.pollTransmit(); t; t = c.pollTransmit()) relay.handleDatagram(T0, A, t.bytes);
    for (let t = relay.pollTransmit(); t; t = relay.pollTransmit()) for (const c of [ab, ac]) c.handleDatagram(T0, t.bytes);
    expect([ab.state, ac.state]).toEqual(['bound', 'bound']);
    expect(ab.sessionId).not.toBe(ac.sessionId);
  });

  it('re-binds at once when the relay forgot the session (restart)', () => {
    let relay = newRelay();
    const a = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket }, T0);
    const inbox = new Map([[a, [] as string[]]]);
    exchange(T0, relay, [[A, a]], inbox);
    const first = a.sessionId;
    relay = newRelay(); // restarted: no sessions
    relay.handleDatagram(T0 + 10, A, a.wrap(new Uint8Array(32))!); // a transport-sized packet gets an ERROR back
    exchange(T0 + 10, relay, [[A, a]], inbox);
    expect(a.state).toBe('bound');
    expect(a.sessionId).not.toBe(first);
  });
  it('a device that moved (new source address) re-binds once the relay lets its side move: SIDE_TAKEN retried after 600 ms, doubling', () => {
    const relay = newRelay();
    const a = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket }, T0);
    const b = new RelayClient({ relay: RELAY, deviceId: 'dev-b', ticket }, T0);
    const inbox = new Map<RelayClient, string[]>([[a, []], [b, []]]);
    exchange(T0, relay, [[A, a], [B, b]], inbox);
    expect(a.state).toBe('bound');
    while (a.pollEvent());
    relay.handleDatagram(T0 + 800, A, a.wrap(new TextEncoder().encode('last word from the old network'))!);
    exchange(T0 + 800, relay, [[A, a], [B, b]], inbox);
    // a changes networks at T0 + 1000: its DATA now comes from A2; the relay does not know that address.
    const A2 = { address: '198.51.100.9', port: 50000 };
    relay.handleDatagram(T0 + 1000, A2, a.wrap(new TextEncoder().encode('from the new network'))!);
    exchange(T0 + 1000, relay, [[A2, a], [B, b]], inbox); // UNKNOWN_SESSION -> immediate re-BIND -> SIDE_TAKEN (A spoke 200 ms ago)
    expect(a.state).toBe('binding');
    expect(a.pollEvent()).toBeUndefined(); // not refused
    expect(a.pollTimeout()).toBe(T0 + 1600);
    a.handleTimeout(T0 + 1600);
    exchange(T0 + 1600, relay, [[A2, a], [B, b]], inbox); // A silent for 800 ms (< 1 s): SIDE_TAKEN again
    expect(a.state).toBe('binding');
    expect(a.pollTimeout()).toBe(T0 + 1600 + 1200);
    a.handleTimeout(T0 + 2800);
    exchange(T0 + 2800, relay, [[A2, a], [B, b]], inbox); // silent for 2 s: moved
    expect(a.state).toBe('bound');
    expect(a.pollEvent()).toMatchObject({ type: 'bound', observed: A2, peerBound: true });
    relay.handleDatagram(T0 + 2801, A2, a.wrap(new TextEncoder().encode('again'))!);
    exchange(T0 + 2801, relay, [[A2, a], [B, b]], inbox);
    expect(inbox.get(b)).toEqual(['last word from the old network', 'again']);
  });

  it('SIDE_TAKEN for good: refused after 8 retries (0.6, 1.2, 2.4, 4.8, then every 6 s)', () => {
    const relay = newRelay();
    const a = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket }, T0);
    const inbox = new Map<RelayClient, string[]>([[a, []]]);
    exchange(T0, relay, [[A, a]], inbox);
    // Someone else keeps dev-a's side busy from A (e.g. a stale twin still refreshing).
    const twin = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket }, T0);
    const A2 = { address: '198.51.100.9', port: 50000 };
    let now = T0;
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      exchange(now, relay, [[A2, twin]], new Map([[twin, []]]));
      if (twin.state !== 'binding') break;
      const next = twin.pollTimeout()!;
      waits.push(next - now);
      now = next;
      relay.handleDatagram(now - 1, A, a.wrap(new Uint8Array(1)) ?? new Uint8Array(0)); // A stays active
      twin.handleTimeout(now);
    }
    expect(waits).toEqual([600, 1200, 2400, 4800, 6000, 6000, 6000, 6000]);
    expect(twin.state).toBe('refused');
    expect(twin.pollEvent()).toMatchObject({ type: 'refused', code: RelayErrorCode.SIDE_TAKEN });
  });
});
