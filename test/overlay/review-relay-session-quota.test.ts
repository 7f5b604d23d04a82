// Review: one malicious contact can use up another device's relay sessions at a supernode.
// RelayForwarder counts a new session against BOTH devices of its ticket when its FIRST side
// binds (relay.ts handleBind: maxSessionsPerDevice, default 8), whether or not the other device
// ever binds. A contact may register any number of devices (POST /v1/devices has no limit) and
// gets a ticket for each of them with the victim's device (POST /v1/tickets: a mutual contact's
// device), so 8 devices binding their half of 8 sessions — refreshed every 15 s so they never go
// idle — leave the victim at DEVICE_SESSION_LIMIT at that supernode: no relayed session with
// anyone else. A victim behind a symmetric NAT or UDP-blocked has no other path.
import { describe, it, expect } from 'vitest';
import { RelayForwarder } from '../../src/overlay/relay.ts';
import { decodeRelayMessage, encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import { T0, config, ticket } from './review-relay-world.ts';

describe('review: relay session quota per device', () => {
  // Fixed in ea90bc4 (a session counts against a device once that device has bound its side); failed before.
  it('8 half-bound sessions a contact\'s devices made with the victim do not stop the victim binding with another contact', {}, async () => {
    const relay = new RelayForwarder(config(), T0);
    const slot = { to: { address: '', port: 0 }, bytes: new Uint8Array(0) };
    const drain = () => { const out: ReturnType<typeof decodeRelayMessage>[] = []; while (relay.pollInto(slot)) out.push(decodeRelayMessage(slot.bytes)); return out; };
    for (let i = 0; i < 8; i++) {
      relay.handleDatagram(T0 + i, { address: '203.0.113.50', port: 40_000 + i }, encodeRelayMessage({ type: 'bind', requestId: i + 1, deviceId: `m${i}`, ticket: ticket(`m${i}`, 'victim') }));
    }
    drain();
    const victim = { address: '198.51.100.7', port: 5000 }, carol = { address: '198.51.100.8', port: 5000 };
    relay.handleDatagram(T0 + 100, carol, encodeRelayMessage({ type: 'bind', requestId: 100, deviceId: 'carol', ticket: ticket('carol', 'victim') }));
    relay.handleDatagram(T0 + 101, victim, encodeRelayMessage({ type: 'bind', requestId: 101, deviceId: 'victim', ticket: ticket('carol', 'victim') }));
    // before ea90bc4: two ERRORs (DEVICE_SESSION_LIMIT) instead of BIND-OKs
    expect(drain().map((m) => m.type)).toEqual(['bind-ok', 'bind-ok', 'bind-ok']);
  });
});
