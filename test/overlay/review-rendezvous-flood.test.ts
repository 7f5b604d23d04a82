// Review: a contact can make our peer send traffic to addresses of ITS choice, as often as it
// likes. Every rendezvous it creates (POST /v1/rendezvous: no rate limit at the directory) makes
// our Peer build a ContactLink (peer.ts onRendezvous: a new link replaces the contact's previous
// one, or, when we refuse the contact, a refusing link is ADDED to an unbounded set for 15 s):
// a relay BIND to the supernode the rendezvous names and connectivity checks to every candidate
// the contact published (up to 16 per presence, any public or private address), each checked up
// to 4 times. One small HTTPS request by the contact = dozens of our datagrams at its targets:
// a reflection amplifier built from other users' peers, and a CPU/memory drain on ours.
// Simulated (real Peer, virtual time): bob declines alice (PeerOptions.accept returns false: an
// app's block list, "do not disturb"); alice publishes 16 candidates on addresses she wants hit,
// then creates 100 rendezvous with bob in one second; we count the datagrams bob's host sends.
// Measured before a fix: 69 datagrams for one rendezvous, 6,900 for 100 (every refusing link lives
// its 15 s and checks all 16 targets). Not refusing, a new link replaces the previous one: 168
// for 100 (no amplification) — the refusing path is the one to bound (one per contact device,
// the newest replacing the older, as for accepted links), plus a rate limit on rendezvous.
import { describe, it, expect, afterAll } from 'vitest';
import { NAT_KINDS } from './nat-model.ts';
import { simWorld, tempStateDirs } from './sim-peer-harness.ts';
import type { Host } from '../../src/sim/index.ts';

const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

describe('review: a contact flooding us with rendezvous', () => {
  // Fixed in 8051090 (one refusing link per contact device + a rendezvous budget per contact device).
  it('bob declining alice: 100 rendezvous in one second cost bob at most 5x the datagrams of one', { timeout: 60_000 }, async () => {
    const refuse = true;
    const seed = 31;
    const w = simWorld(NAT_KINDS['EIM/EIF'], NAT_KINDS['EIM/EIF'], seed, (n) => dirs.dir(`review-rv-flood-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob', { accept: () => !refuse })]);
    try {
      const mallory = w.dir.clientFor('alice');
      const targets = Array.from({ length: 16 }, (_, i) => ({ kind: 'host' as const, address: `203.0.113.${100 + i}`, port: 9 }));
      await w.loop.settle(mallory.setPresence({ deviceId: alice.deviceId, status: 'online', candidates: targets }), 1_000);
      await w.loop.until(() => false, 500);
      const bobHost = w.net.get('bob') as Host;
      const sentDuring = async (calls: number, windowMs: number) => {
        const before = bobHost.packetsSent, t0 = w.net.clock.now();
        for (let i = 0; i < calls; i++) {
          void mallory.rendezvous(alice.deviceId, 'bob').catch(() => {});
          await w.loop.until(() => false, Math.floor(1_000 / calls));
        }
        await w.loop.until(() => false, Math.max(0, t0 + windowMs - w.net.clock.now()));
        return bobHost.packetsSent - before;
      };
      const one = await sentDuring(1, 3_000);
      await w.loop.until(() => false, 17_000); // that link times out (15 s)
      const hundred = await sentDuring(100, 3_000);
      console.log(`rendezvous flood: bob sent ${one} datagrams for 1 rendezvous, ${hundred} for 100 (within 3 s each)`);
      expect(one).toBeGreaterThan(10);
      expect(hundred).toBeLessThanOrEqual(5 * one);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });
});
