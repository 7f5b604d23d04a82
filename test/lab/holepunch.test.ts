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
// Skipped, with the reason, without root/ip/iptables.
import { describe, it, expect } from 'vitest';
import { resolve, join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { Lab, labUnavailable, type LabProcess } from './netns.ts';

const why = labUnavailable();
if (why) console.log(`skipped: netns lab: ${why}`);

const ROOT = resolve(import.meta.dirname, '..', '..');
const programs = resolve(import.meta.dirname, 'programs');
const CLI = join(ROOT, 'src/cli/main.ts');
const DIRECTORY = 'http://198.51.100.10:7400';

interface PeerResult { ok: boolean; why?: string; nat: string; path: string; remote: string; rttMs: number; received: string; connectMs?: number; log: string[] }

async function waitForLine(p: LabProcess, pred: (o: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const l of p.lines) {
      try { const o = JSON.parse(l) as Record<string, unknown>; if (pred(o)) return o; } catch { /* not JSON */ }
    }
    if (p.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no matching line within ${timeoutMs} ms; got:\n${p.lines.join('\n')}`);
}

async function scenario(bNat: 'masquerade' | 'random-fully' | 'udp-blocked') {
  const randomFullyB = bNat === 'random-fully';
  const lab = new Lab();
  const data = mkdtempSync(join(tmpdir(), 'tincan-lab-'));
  try {
    lab.addInternet();
    const dirNs = lab.addPublicHost('dir', ['198.51.100.10', '198.51.100.11']);
    const snNs = lab.addPublicHost('sn', ['198.51.100.20']);
    const a = lab.addNatLan('a', { wanIp: '198.51.100.2', lanBase: '192.0.2.0' });
    const b = lab.addNatLan('b', { wanIp: '198.51.100.3', lanBase: '192.0.2.64', randomFully: randomFullyB, blockUdp: bNat === 'udp-blocked' });
    // The LANs really are private: the internet segment has no route to them.
    expect(() => execFileSync('ip', ['netns', 'exec', dirNs, 'ip', 'route', 'get', '192.0.2.2'], { stdio: 'pipe' })).toThrow();

    const dirP = lab.spawnNode(dirNs, CLI, ['directory', '--listen', '198.51.100.10', '--port', '7400', '--stun-port', '3478', '--stun-alternate-address', '198.51.100.11', '--data-dir', join(data, 'directory'),
      '--scrypt-n', '1024', '--no-log-requests', '--log-level', 'warn']);
    const accP = lab.spawnNode(dirNs, `${programs}/accounts.ts`, [DIRECTORY]); // waits for the directory to listen
    const accounts = await waitForLine(accP, (o) => o.event === 'accounts', 30_000).catch((e: Error) => { throw new Error(`${e.message}\ndirectory:\n${dirP.lines.join('\n')}`); });
    const tokens = accounts.tokens as { alice: string; bob: string };
    const snP = lab.spawnNode(snNs, CLI, ['supernode', '--directory', DIRECTORY, '--user', 'supernode', '--create-account', '--bind', '198.51.100.20', '--port', '3479', '--stats-interval', '1'],
      { TINCAN_SUPERNODE_PASSWORD: 'lab supernode password' });
    await waitForLine(snP, (o) => o.event === 'registered', 30_000);
    const peerEnv = (name: 'alice' | 'bob', connectTo?: string) => ({
      LAB_PEER: JSON.stringify({ directoryUrl: DIRECTORY, token: tokens[name], stateDir: join(data, name), port: 5000, connectTo }),
    });
    const pb = lab.spawnNode(b.host, `${programs}/peer.ts`, [], peerEnv('bob'));
    await waitForLine(pb, (o) => o.event === 'ready', 20_000);
    const pa = lab.spawnNode(a.host, `${programs}/peer.ts`, [], peerEnv('alice', 'bob'));
    const [ra, rb] = (await Promise.all([
      waitForLine(pa, (o) => o.event === 'result', 60_000), waitForLine(pb, (o) => o.event === 'result', 60_000),
    ])) as unknown as [PeerResult, PeerResult];
    // The supernode prints its counters every second: wait for one taken after the exchange.
    const seen = snP.lines.length;
    const line = bNat === 'masquerade' ? undefined
      : await waitForLine(snP, (o) => o.event === 'counters' && snP.lines.indexOf(JSON.stringify(o)) >= seen, 5000);
    const counters = (line?.counters as { relay: { forwardedPackets: number; bindsAccepted: number } } | undefined)?.relay;
    const tcp = line?.tcp as { accepted: number; framesIn: number; framesOut: number } | undefined;
    console.log(JSON.stringify({ scenario: `masquerade vs ${bNat}`, alice: ra, bob: rb, relay: counters, tcp }, null, 1));
    return { ra, rb, counters, tcp, namespaces: [...lab.createdNamespaces()] };
  } finally {
    await lab.cleanup();
    rmSync(data, { recursive: true, force: true });
  }
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
