// One socket, two contacts: alice (EIM/APDF NAT) talks to bob (EIM/APDF: direct) and to
// carol (APDM: relayed) at the same time, through one UDP socket shared by two PeerLinks
// via OverlayMux, with two relay sessions at the same relay from that one socket (told
// apart by BIND request ids and session ids). A transport stream to each contact must
// arrive byte-exact. Simulator, virtual time.
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { Network, createRng } from '../../src/sim/index.ts';
import { Driver } from '../../src/datagram/driver.ts';
import { Endpoint } from '../../src/transport/endpoint.ts';
import type { Connection } from '../../src/transport/connection.ts';
import { plaintextCrypto } from '../../src/transport/crypto.ts';
import { seededRandom } from '../../src/transport/random.ts';
import { RelayForwarder } from '../../src/overlay/relay.ts';
import { RelayClient } from '../../src/overlay/relay-client.ts';
import { CheckAgent } from '../../src/overlay/checks.ts';
import { candidate, type Candidate } from '../../src/overlay/candidates.ts';
import { PeerLink } from '../../src/overlay/peer-link.ts';
import { OverlayMux } from '../../src/overlay/overlay-mux.ts';
import { encodeCheckRequest } from '../../src/overlay/check-wire.ts';
import type { DatagramSocket } from '../../src/wire/socket.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';

const RELAY = { address: '198.51.100.20', port: 3479 };
const SIZE = 600_000;

describe('OverlayMux: two contacts over one socket', () => {
  it('streams to a direct contact and a relayed contact at once, byte-exact', () => {
    const net = new Network({ seed: 5, log: false });
    const rng = createRng(5);
    const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
    const core = net.addRouter('core');
    const relayHost = net.addHost('relay', RELAY.address);
    net.connect(relayHost, core, { latencyMs: 5 });
    const behind = (name: string, lan: string, pub: string, mapping: 'endpoint-independent' | 'address-and-port-dependent') => {
      const nat = net.addNat(`${name}-nat`, { externalAddress: pub, mapping, filtering: 'address-and-port-dependent' });
      const h = net.addHost(name, lan);
      net.connect(h, nat.inside, { latencyMs: 1 });
      net.connect(nat.outside, core, { latencyMs: 10, bandwidthBps: 20e6, queuePackets: 64 });
      return h;
    };
    const hosts = {
      alice: behind('alice', '192.0.2.2', '198.51.100.2', 'endpoint-independent'),
      bob: behind('bob', '192.0.2.66', '198.51.100.3', 'endpoint-independent'),
      carol: behind('carol', '192.0.2.130', '198.51.100.4', 'address-and-port-dependent'),
    };
    net.autoRoute();
    const issuer = makeIssuer();
    const relay = new RelayForwarder({ verifier: standInVerifier(issuer.publicKey), newSessionId: () => BigInt(1 + rng.int(1 << 30)) }, 0);
    new Driver(relay, relayHost.bindUdp(RELAY.port), net.clock).wake();

    const host = (n: keyof typeof hosts) => candidate('host', { address: hosts[n].address, port: 5000 });
    const srflx = { alice: candidate('srflx', { address: '198.51.100.2', port: 5000 }), bob: candidate('srflx', { address: '198.51.100.3', port: 5000 }), carol: candidate('srflx', { address: '198.51.100.4', port: 5000 }) };
    const relayCand = candidate('relay', RELAY);
    const creds = (me: string, peer: string) => ({ localUfrag: `${me}-u`, localPassword: `${me}-password-for-${peer}-0123`, remoteUfrag: `${peer}-u`, remotePassword: `${peer}-password-for-${me}-0123` });
    let rid = 0;
    const makeLink = (me: keyof typeof hosts, peer: keyof typeof hosts, socket: DatagramSocket, controlling: boolean) => {
      const [x, y] = me < peer ? [me, peer] : [peer, me];
      const agent = new CheckAgent({
        controlling, startAt: 300, localCandidates: [host(me), relayCand], remoteCandidates: [host(peer), srflx[peer], relayCand] as Candidate[],
        newTxId: () => Buffer.from(randomBytes(12)).toString('hex'),
      });
      const client = new RelayClient({ relay: RELAY, deviceId: me, ticket: issuer.issue(x, y, 600_000), newRequestId: () => ++rid }, net.clock.now());
      return new PeerLink({ socket, clock: net.clock, agent, creds: creds(me, peer), controlling, tieBreaker: controlling ? 9n : 1n, hostCandidate: host(me), relay: { client, address: RELAY, candidate: relayCand } });
    };

    // alice: one socket, one mux, two links
    const mux = new OverlayMux(hosts.alice.bindUdp(5000));
    const toBobSock = mux.socketFor();
    const toBob = makeLink('alice', 'bob', toBobSock, true);
    mux.attach(toBobSock, toBob);
    const toCarolSock = mux.socketFor();
    const toCarol = makeLink('alice', 'carol', toCarolSock, true);
    mux.attach(toCarolSock, toCarol);
    const bobLink = makeLink('bob', 'alice', hosts.bob.bindUdp(5000), false);
    const carolLink = makeLink('carol', 'alice', hosts.carol.bindUdp(5000), false);

    // transport: alice writes SIZE bytes to each; bob and carol hash what they read
    const results: Record<string, { got: number; hash: ReturnType<typeof createHash>; done: boolean }> = {};
    const isDone = (n: string) => results[n]?.done === true;
    const serve = (name: string, link: PeerLink, seed: number) => {
      const ep = new Endpoint({ crypto: plaintextCrypto, random: seededRandom(seed), server: true });
      const drv = new Driver(ep, link.transportSocket, net.clock);
      const r = { got: 0, hash: createHash('sha256'), done: false };
      results[name] = r;
      let conn: Connection | undefined;
      drv.afterInput = () => {
        for (let e = ep.pollEvent(); e; e = ep.pollEvent()) conn = e.connection;
        if (!conn) return;
        for (let e = conn.pollEvent(); e; e = conn.pollEvent()) { /* stream_opened */ }
        for (let d = conn.read(0); d !== undefined; d = conn.read(0)) {
          if (d === null) { r.done = true; break; }
          r.got += d.length;
          r.hash.update(d);
        }
      };
    };
    serve('bob', bobLink, 2);
    serve('carol', carolLink, 3);
    const sent: Record<string, string> = {};
    const send = (name: string, link: PeerLink, seed: number) => {
      const ep = new Endpoint({ crypto: plaintextCrypto, random: seededRandom(seed) });
      const drv = new Driver(ep, link.transportSocket, net.clock);
      const conn = ep.connect(net.clock.now(), link.virtualPeer);
      const id = conn.openStream()!;
      const h = createHash('sha256');
      let written = 0;
      drv.afterInput = () => {
        for (let e = conn.pollEvent(); e; e = conn.pollEvent()) { /* nothing to read */ }
        while (written < SIZE && !conn.writeBlocked(id)) {
          const n = Math.min(8192, SIZE - written);
          const c = Uint8Array.from({ length: n }, (_, i) => ((written + i) * (seed + 7)) & 0xff);
          h.update(c);
          conn.write(id, c);
          written += n;
          if (written === SIZE) { conn.finish(id); sent[name] = h.digest('hex'); }
        }
      };
      drv.wake();
    };
    net.at(800, () => { send('bob', toBob, 11); send('carol', toCarol, 12); });
    for (let t = 1000; t <= 20_000 && !(isDone('bob') && isDone('carol')); t += 1000) net.run(t);

    expect([results.bob.done, results.carol.done]).toEqual([true, true]);
    expect([results.bob.got, results.carol.got]).toEqual([SIZE, SIZE]);
    expect(results.bob.hash.digest('hex')).toBe(sent.bob);
    expect(results.carol.hash.digest('hex')).toBe(sent.carol);
    expect(toBob.selectedPair()?.relayed).toBe(false);
    expect(toCarol.selectedPair()?.relayed).toBe(true);
    expect(toBob.counters.transportOutRelayed).toBe(0);
    expect(toCarol.counters.transportOutRelayed).toBe(toCarol.counters.transportOut);
    for (const l of [toBob, toCarol, bobLink, carolLink]) expect(l.counters.invalidChecks).toBe(0);
    expect(relay.counters().sessionsActive).toBe(2); // alice-bob and alice-carol, both from alice's one socket
    expect(mux.unclaimed).toBe(0);
  });
});

describe('OverlayMux: two links to the same device (a stale one and a new one)', () => {
  it('a check goes to the link whose rendezvous password it carries, not the first with the same ufrags', () => {
    const net = new Network({ seed: 6, log: false });
    const h = net.addHost('bob', '198.51.100.3');
    const mux = new OverlayMux(h.bindUdp(5000));
    const host = candidate('host', { address: '198.51.100.3', port: 5000 });
    const alice = candidate('host', { address: '198.51.100.2', port: 5000 });
    const requests: string[] = [];
    const link = (password: string, name: string) => {
      const agent = new CheckAgent({ controlling: false, startAt: 1e9, localCandidates: [host], remoteCandidates: [alice], newTxId: () => '0'.repeat(24) });
      const socket = mux.socketFor();
      const l = new PeerLink({
        socket, clock: net.clock, agent, controlling: false, tieBreaker: 1n, hostCandidate: host,
        creds: { localUfrag: 'bobb', localPassword: password, remoteUfrag: 'alic', remotePassword: `${password}-alice` },
        onEvent: (e) => { if (e.type === 'pair-succeeded' || e.type === 'path-selected') requests.push(name); },
      });
      mux.attach(socket, l);
      const orig = agent.handleRequest.bind(agent);
      agent.handleRequest = (...a) => { requests.push(name); orig(...a); };
      return l;
    };
    const stale = link('stale-password-0123456789', 'stale');
    link('fresh-password-0123456789', 'fresh');
    const check = encodeCheckRequest({ localUfrag: 'alic', localPassword: 'x', remoteUfrag: 'bobb', remotePassword: 'fresh-password-0123456789' },
      { txId: 'a'.repeat(24), priority: 1, controlling: true, tieBreaker: 2n, nominate: false });
    mux.deliver({ address: '198.51.100.2', port: 5000 }, check);
    expect(requests).toEqual(['fresh']);
    expect(stale.counters.invalidChecks).toBe(0);
  });
});
