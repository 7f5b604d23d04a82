// Real-kernel lab: two LAN hosts behind two iptables NATs; on the public segment the
// real directory process (`tincan directory`: SQLite, HTTP + push, RFC 5780 STUN on two
// addresses) and a real supernode process (`tincan supernode --directory`: registered,
// relay + STUN). Two real
// Peers (src/overlay/peer.ts, Noise sessions) log in with tokens, classify their NATs
// (directory STUN + the supernode as second vantage point), publish presence, and alice
// connects to bob through the directory's rendezvous; a chat line crosses each way on a
// ContactSession stream:
//  - both NATs MASQUERADE (port-preserving: EIM, conntrack filtering: APDF): punched, direct;
//  - bob's NAT MASQUERADE --random-fully (APDM): direct is impossible (RFC 4787), the
//    lines go through the supernode, whose counters show the forwarded packets;
//  - bob's network forwards no UDP at all: he classifies himself UDP-blocked, reaches the
//    supernode over TCP, and the lines go through it (alice on UDP, bob on TCP).
// The world (namespaces, directory, supernode, accounts) is world.ts. Skipped, with the reason, without root/ip/iptables.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { labUnavailable } from './netns.ts';
import { PROGRAMS, waitForLine, withLabWorld } from './world.ts';

const why = labUnavailable();
if (why) console.log(`skipped: netns lab: ${why}`);

interface PeerResult { ok: boolean; why?: string; nat: string; path: string; remote: string; rttMs: number; received: string; connectMs?: number; log: string[] }

function scenario(bNat: 'masquerade' | 'random-fully' | 'udp-blocked') {
  const bobNat = { randomFully: bNat === 'random-fully', blockUdp: bNat === 'udp-blocked' };
  return withLabWorld({ tmpPrefix: 'tincan-lab-', bobNat, supernodeArgs: ['--stats-interval', '1'] }, async ({ lab, dirNs, a, b, supernode: snP, peerEnv }) => {
    // The LANs really are private: the internet segment has no route to them.
    expect(() => execFileSync('ip', ['netns', 'exec', dirNs, 'ip', 'route', 'get', '192.0.2.2'], { stdio: 'pipe' })).toThrow();
    const pb = lab.spawnNode(b.host, `${PROGRAMS}/peer.ts`, [], peerEnv('bob'));
    await waitForLine(pb, (o) => o.event === 'ready', 20_000, 'bob ready');
    const pa = lab.spawnNode(a.host, `${PROGRAMS}/peer.ts`, [], peerEnv('alice', { connectTo: 'bob' }));
    const [ra, rb] = (await Promise.all([
      waitForLine(pa, (o) => o.event === 'result', 60_000, 'alice result'), waitForLine(pb, (o) => o.event === 'result', 60_000, 'bob result'),
    ])) as unknown as [PeerResult, PeerResult];
    // The supernode prints its counters every second: wait for one taken after the exchange.
    const seen = snP.lines.length;
    const line = bNat === 'masquerade' ? undefined
      : await waitForLine(snP, (o) => o.event === 'counters' && snP.lines.indexOf(JSON.stringify(o)) >= seen, 5000, 'supernode counters');
    const counters = (line?.counters as { relay: { forwardedPackets: number; bindsAccepted: number } } | undefined)?.relay;
    const tcp = line?.tcp as { accepted: number; framesIn: number; framesOut: number } | undefined;
    console.log(JSON.stringify({ scenario: `masquerade vs ${bNat}`, alice: ra, bob: rb, relay: counters, tcp }, null, 1));
    return { ra, rb, counters, tcp, namespaces: [...lab.createdNamespaces()] };
  });
}

describe.skipIf(why !== undefined)('netns lab: real directory, supernode and Peers through real iptables NATs', () => {
  it('both NATs MASQUERADE (EIM/APDF): classified, punched through the directory rendezvous, chat lines delivered directly', async () => {
    const { ra, rb, namespaces } = await scenario('masquerade');
    expect([ra.ok, rb.ok]).toEqual([true, true]);
    expect([ra.nat, rb.nat]).toEqual(['EIM/APDF', 'EIM/APDF']);
    // RFC 5780 tests all ran (alternate address and port, second vantage point): no guesses.
    for (const r of [ra, rb]) expect(r.log.find((l) => l.includes(' nat '))).toMatch(/ nat EIM\/APDF; mapped /);
    expect([ra.path, rb.path]).toEqual(['direct', 'direct']);
    expect(ra.remote).toBe('198.51.100.3:5000'); // bob's NAT mapping (srflx), punched
    expect(rb.remote).toBe('198.51.100.2:5000');
    expect([ra.received, rb.received]).toEqual(['hello from bob', 'hello from alice']);
    // cleanup really removed every namespace
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const ns of namespaces) expect(left).not.toContain(ns);
  }, 120_000);

  it('one NAT --random-fully (APDM): direct fails as RFC 4787 predicts, the chat lines go through the supernode', async () => {
    const { ra, rb, counters } = await scenario('random-fully');
    expect([ra.ok, rb.ok]).toEqual([true, true]);
    expect(ra.nat).toBe('EIM/APDF');
    expect(rb.nat).toBe('APDM/APDF');
    expect(rb.log.find((l) => l.includes(' nat '))).toMatch(/ nat APDM\/APDF; mapped /); // certain, not assumed
    expect([ra.path, rb.path]).toEqual(['relayed', 'relayed']);
    expect([ra.remote, rb.remote]).toEqual(['198.51.100.20:3479', '198.51.100.20:3479']);
    expect([ra.received, rb.received]).toEqual(['hello from bob', 'hello from alice']);
    expect(counters?.bindsAccepted).toBeGreaterThanOrEqual(2);
    expect(counters?.forwardedPackets).toBeGreaterThanOrEqual(8); // checks + Noise handshake + stream
  }, 120_000);

  it('bob\'s network blocks UDP: he reaches the supernode over TCP, the chat lines go through it', async () => {
    const { ra, rb, counters, tcp } = await scenario('udp-blocked');
    expect([ra.ok, rb.ok]).toEqual([true, true]);
    expect(ra.nat).toBe('EIM/APDF');
    expect(rb.nat).toBe('UDP-blocked');
    expect([ra.path, rb.path]).toEqual(['relayed', 'relayed']);
    expect([ra.received, rb.received]).toEqual(['hello from bob', 'hello from alice']);
    expect(tcp?.accepted).toBe(1);
    expect(tcp?.framesIn).toBeGreaterThanOrEqual(4); // bob's BIND, checks, handshake, stream
    expect(tcp?.framesOut).toBeGreaterThanOrEqual(4);
    expect(counters?.forwardedPackets).toBeGreaterThanOrEqual(8);
  }, 120_000);
});
