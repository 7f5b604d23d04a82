// SupernodeCore: relay, gossip and STUN Binding on one port, told apart by the first byte.
import { describe, it, expect } from 'vitest';
import { SupernodeCore, withReusedTransmit } from '../../src/overlay/supernode.ts';
import { decodeRelayMessage, encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import { decodeGossipMessage, encodeGossipMessage } from '../../src/overlay/gossip-wire.ts';
import { decodeStun, encodeStun, STUN_METHOD_BINDING } from '../../src/wire/stun.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';

const T0 = 1_700_000_000_000;
const issuer = makeIssuer();
const peer = { address: '198.51.100.2', port: 40000 };
const tx = Uint8Array.from({ length: 12 }, (_, i) => i);
const core = (gossip = true) => new SupernodeCore({
  relay: { verifier: standInVerifier(issuer.publicKey), newSessionId: () => 5n },
  gossip: gossip ? { self: { id: 'sn0', address: { address: '198.51.100.20', port: 3479 } }, random: () => 0.5, shuffleIntervalMs: 1000 } : undefined,
}, T0);
const drain = (c: SupernodeCore) => { const out = []; for (let t = c.pollTransmit(); t; t = c.pollTransmit()) out.push(t); return out; };

describe('SupernodeCore', () => {
  it('answers a plain STUN Binding with the mapped address (second vantage point)', () => {
    const c = core();
    c.handleDatagram(T0, peer, encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: tx }, { fingerprint: true }));
    const [t] = drain(c);
    const m = decodeStun(t.bytes);
    expect([t.to, m.class, m.xorMappedAddress]).toEqual([peer, 'success', { family: 4, address: peer.address, port: peer.port }]);
    expect(Buffer.from(m.transactionId)).toEqual(Buffer.from(tx));
  });

  it('does not serve CHANGE-REQUEST, private sources, or garbage', () => {
    const c = core();
    c.handleDatagram(T0, peer, encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: tx, attributes: [{ type: 'change-request', changeIp: true, changePort: true }] }));
    c.handleDatagram(T0, { address: '10.0.0.1', port: 1 }, encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: tx }));
    c.handleDatagram(T0, peer, Uint8Array.of(0x80, 1, 2));
    expect(drain(c)).toEqual([]);
    expect(c.counters().dropped).toBe(3);
  });

  it('withReusedTransmit: the Driver endpoint hands out one reused object with relay and STUN output alike', () => {
    const c = core(false);
    const ep = withReusedTransmit(c);
    c.handleDatagram(T0, peer, encodeRelayMessage({ type: 'bind', requestId: 3, deviceId: 'a', ticket: issuer.issue('a', 'b', T0 + 60_000) }));
    ep.handleDatagram(T0, peer, encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: tx }, { fingerprint: true }));
    const first = ep.pollTransmit()!;
    expect(decodeRelayMessage(first.bytes).type).toBe('bind-ok');
    const second = ep.pollTransmit()!;
    expect(second).toBe(first); // same object, refilled
    expect(decodeStun(second.bytes).class).toBe('success');
    expect(ep.pollTransmit()).toBeUndefined();
    expect(ep.pollTimeout()).toBe(c.pollTimeout());
  });

  it('relays and gossips on the same port', () => {
    const c = core();
    c.handleDatagram(T0, peer, encodeRelayMessage({ type: 'bind', requestId: 3, deviceId: 'a', ticket: issuer.issue('a', 'b', T0 + 60_000) }));
    expect(decodeRelayMessage(drain(c)[0].bytes)).toMatchObject({ type: 'bind-ok', requestId: 3, sessionId: 5n });
    const other = { address: '203.0.113.7', port: 3479 };
    c.handleDatagram(T0, other, encodeGossipMessage({ type: 'shuffle-request', nonce: 9, entries: [{ id: 'sn7', address: other, age: 0 }] }));
    const [reply] = drain(c);
    expect(reply.to).toEqual(other);
    expect(decodeGossipMessage(reply.bytes)).toMatchObject({ type: 'shuffle-reply', nonce: 9 });
    expect(c.gossip!.view().map((e) => e.id)).toEqual(['sn7']);
    c.handleTimeout(c.pollTimeout()!);
    expect(decodeGossipMessage(drain(c)[0].bytes)).toMatchObject({ type: 'shuffle-request', entries: [{ id: 'sn0' }] });
  });

  it('without gossip configured, gossip is dropped', () => {
    const c = core(false);
    c.handleDatagram(T0, peer, encodeGossipMessage({ type: 'shuffle-reply', nonce: 1, entries: [] }));
    expect(drain(c)).toEqual([]);
    expect(c.counters().dropped).toBe(1);
  });
});
