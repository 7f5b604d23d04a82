// Review: the peer's relay BIND request ids are a per-process counter (relay-client.ts
// nextRequestId: 1, 2, 3, ...; contact-link.ts passes no newRequestId). RelayClient takes an
// ERROR whose `ref` equals its current request id — unauthenticated, checked only against the
// supernode's source address, which every contact knows — as a refusal ('refused'; for
// TICKET_EXPIRED also a directory request for a new ticket). Anyone able to send UDP with the
// supernode's address as source to a peer's published address can therefore spray ERRORs with
// ref 1..1000 and knock the relay binding of the peer's sessions (with third parties too) into
// 'refused' at will; a relayed-only session loses its only path each time. With 32 random bits
// per BIND the guess is hopeless. Simulated (real Peers, virtual time): the request ids of the
// BINDs the supernode receives.
import { describe, it, expect, afterAll } from 'vitest';
import { NAT_KINDS } from './nat-model.ts';
import { simWorld, tempStateDirs } from './sim-peer-harness.ts';
import { decodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import type { Millis, UdpAddress } from '../../src/wire/socket.ts';

const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

describe('review: relay BIND request ids', () => {
  // Fixed: contact-link passes randomRequestIds(random) (notes/requests/overlay-relay.md); failed before.
  it('the BINDs of a call carry request ids no one can guess (not a small counter)', { timeout: 30_000 }, async () => {
    const seed = 41;
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['APDM'], seed, (n) => dirs.dir(`review-reqid-${n}`));
    const ids: number[] = [];
    const relay = w.supernode.relay;
    const orig = relay.handleDatagram.bind(relay);
    relay.handleDatagram = (now: Millis, from: UdpAddress, bytes: Uint8Array) => {
      if (bytes[1] === 0x01) { try { const m = decodeRelayMessage(bytes); if (m.type === 'bind') ids.push(m.requestId ?? 0); } catch { /* not ours to judge */ } }
      orig(now, from, bytes);
    };
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      const s = await w.loop.settle(alice.connect('bob'), 15_000);
      expect(s.closed).toBe(false);
      expect(ids.length).toBeGreaterThanOrEqual(2);
      // before the fix: [1, 2, ...] — every id below 2^16
      expect(ids.filter((id) => id >= 2 ** 16).length, `request ids: ${ids.join(', ')}`).toBe(ids.length);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });
});
