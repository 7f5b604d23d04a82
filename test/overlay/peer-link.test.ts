// The transport over the overlay, in the simulator: two peers behind RFC 4787 NATs, a
// supernode relay, ICE-style STUN checks (CheckAgent), and the real transport (Endpoint
// + Driver) running on PeerLink's virtual socket. The stream starts on the relay (the
// peers only know each other's LAN and relay candidates), then the server-reflexive
// candidates are trickled in, punching succeeds, and the path switches to direct in the
// middle of the transfer. Asserted: every byte arrives in order exactly once (SHA-256 on
// both ends), bytes flowed on both paths, and both sides ended on the direct pair.
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
import { CheckAgent, type CheckEvent } from '../../src/overlay/checks.ts';
import { candidate } from '../../src/overlay/candidates.ts';
import { PeerLink } from '../../src/overlay/peer-link.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';
import { sameAddress, type DatagramHandler, type DatagramSocket, type UdpAddress } from '../../src/wire/socket.ts';

const RELAY = { address: '198.51.100.20', port: 3479 };

/** A DatagramSocket wrapper that can cut traffic to/from one address (a failing direct path). */
class CuttableSocket implements DatagramSocket {
  cut?: UdpAddress;
  private handler: DatagramHandler = () => {};
  constructor(private readonly inner: DatagramSocket) { inner.onDatagram((f, b) => { if (!this.cut || !sameAddress(f, this.cut)) this.handler(f, b); }); }
  get local(): UdpAddress { return this.inner.local; }
  send(to: UdpAddress, bytes: Uint8Array): void { if (!this.cut || !sameAddress(to, this.cut)) this.inner.send(to, bytes); }
  onDatagram(h: DatagramHandler): void { this.handler = h; }
  close(): void { this.inner.close(); }
}

function run(TOTAL: number, cutDirectAt?: number) {
  {
    const seed = 11;
    const net = new Network({ seed, log: false });
    const rng = createRng(seed);
    const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
    const core = net.addRouter('core');
    const relayHost = net.addHost('relay', RELAY.address);
    net.connect(relayHost, core, { latencyMs: 5, bandwidthBps: 100e6 });
    const access = { latencyMs: 10, bandwidthBps: 10e6, queuePackets: 64 };
    const natA = net.addNat('nat-a', { externalAddress: '198.51.100.2', mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' });
    const natB = net.addNat('nat-b', { externalAddress: '198.51.100.3', mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' });
    const hostA = net.addHost('alice', '192.0.2.2');
    const hostB = net.addHost('bob', '192.0.2.66');
    net.connect(hostA, natA.inside, { latencyMs: 1 });
    net.connect(hostB, natB.inside, { latencyMs: 1 });
    net.connect(natA.outside, core, access);
    net.connect(natB.outside, core, access);
    net.autoRoute();

    const issuer = makeIssuer();
    const relay = new RelayForwarder({ verifier: standInVerifier(issuer.publicKey), newSessionId: () => 77n, deviceBytesPerSec: 1e9, deviceBurstBytes: 1e7 }, net.clock.now());
    new Driver(relay, relayHost.bindUdp(RELAY.port), net.clock).wake();
    const ticket = issuer.issue('alice', 'bob', 600_000);

    // Candidates: srflx addresses are what EIM + port preservation will give (STUN is tested elsewhere).
    const cand = {
      a: { host: candidate('host', { address: '192.0.2.2', port: 5000 }), srflx: candidate('srflx', { address: '198.51.100.2', port: 5000 }) },
      b: { host: candidate('host', { address: '192.0.2.66', port: 5000 }), srflx: candidate('srflx', { address: '198.51.100.3', port: 5000 }) },
    };
    const relayCand = candidate('relay', RELAY);
    const credsA = { localUfrag: 'alic', localPassword: 'alice-password-0123456789', remoteUfrag: 'bobb', remotePassword: 'bob-password-0123456789ab' };
    const credsB = { localUfrag: 'bobb', localPassword: 'bob-password-0123456789ab', remoteUfrag: 'alic', remotePassword: 'alice-password-0123456789' };
    const events: { side: string; at: number; e: CheckEvent }[] = [];
    const sockets: Record<string, CuttableSocket> = {};
    const link = (side: 'a' | 'b', host: typeof hostA, controlling: boolean) => {
      const other = side === 'a' ? cand.b : cand.a;
      const agent = new CheckAgent({
        controlling, startAt: 200, localCandidates: [cand[side].host, relayCand], remoteCandidates: [other.host, relayCand],
        newTxId: () => Buffer.from(randomBytes(12)).toString('hex'),
      });
      const client = new RelayClient({ relay: RELAY, deviceId: side === 'a' ? 'alice' : 'bob', ticket }, net.clock.now());
      const socket = new CuttableSocket(host.bindUdp(5000));
      sockets[side] = socket;
      return new PeerLink({
        socket, clock: net.clock, agent, creds: side === 'a' ? credsA : credsB, controlling, tieBreaker: controlling ? 2n : 1n,
        hostCandidate: cand[side].host, relay: { client, address: RELAY, candidate: relayCand },
        onEvent: (e) => events.push({ side, at: net.clock.now(), e }),
      });
    };
    const linkA = link('a', hostA, true);
    const linkB = link('b', hostB, false);

    // The transport: alice connects to bob's virtual address and writes one stream.
    const epA = new Endpoint({ crypto: plaintextCrypto, random: seededRandom(1) });
    const epB = new Endpoint({ crypto: plaintextCrypto, random: seededRandom(2), server: true });
    const drvA = new Driver(epA, linkA.transportSocket, net.clock);
    const drvB = new Driver(epB, linkB.transportSocket, net.clock);
    let conn: Connection | undefined;
    let streamId: number | undefined;
    let written = 0;
    const sentHash = createHash('sha256');
    const gotHash = createHash('sha256');
    let received = 0;
    let done = false;
    let serverConn: Connection | undefined;
    const chunk = (off: number, n: number) => Uint8Array.from({ length: n }, (_, i) => ((off + i) * 2654435761) >>> 24);
    drvA.afterInput = () => {
      if (!conn || streamId === undefined) return;
      for (let e = conn.pollEvent(); e; e = conn.pollEvent()) { /* client reads nothing */ }
      while (written < TOTAL && !conn.writeBlocked(streamId)) {
        const n = Math.min(16_384, TOTAL - written);
        const c = chunk(written, n);
        sentHash.update(c);
        conn.write(streamId, c);
        written += n;
        if (written === TOTAL) conn.finish(streamId);
      }
    };
    const receivedAt: { at: number; bytes: number }[] = [];
    drvB.afterInput = () => {
      for (let e = epB.pollEvent(); e; e = epB.pollEvent()) serverConn = e.connection;
      if (!serverConn) return;
      for (let e = serverConn.pollEvent(); e; e = serverConn.pollEvent()) { /* stream_opened etc. */ }
      for (let d = serverConn.read(0); d !== undefined; d = serverConn.read(0)) {
        if (d === null) { done = true; break; }
        received += d.length;
        gotHash.update(d);
      }
      receivedAt.push({ at: net.clock.now(), bytes: received });
    };
    net.at(600, () => {
      conn = epA.connect(net.clock.now(), linkA.virtualPeer);
      streamId = conn.openStream()!;
      drvA.wake();
    });
    // The server-reflexive candidates arrive later (trickled from the directory).
    net.at(1500, () => {
      linkA.addRemoteCandidate(cand.b.srflx);
      linkB.addRemoteCandidate(cand.a.srflx);
    });
    if (cutDirectAt !== undefined) {
      net.at(cutDirectAt, () => {
        sockets.a.cut = cand.b.srflx.address; // alice can no longer reach bob directly, nor hear him
        sockets.b.cut = cand.a.srflx.address;
      });
    }
    for (let t = 1000; t <= 30_000 && !done; t += 1000) net.run(t);
    return { done, received, sentDigest: sentHash.digest('hex'), gotDigest: gotHash.digest('hex'), events, receivedAt, linkA, linkB, relay };
  }
}

describe('transport over PeerLink (simulator)', () => {
  it('delivers a 4 MB stream byte-exact across a relayed -> direct path switch', () => {
    const TOTAL = 4_000_000;
    const { done, received, sentDigest, gotDigest, events, receivedAt, linkA, linkB, relay } = run(TOTAL);

    const switchA = events.find((x) => x.side === 'a' && x.e.type === 'path-switched');
    const log = events.map((x) => `${x.at} ${x.side} ${x.e.type}${'pair' in x.e ? ` ${CheckAgent.describe(x.e.pair)}` : ''}${x.e.type === 'path-switched' ? ` ${CheckAgent.describe(x.e.to)} (${x.e.reason})` : ''}`).join('\n');
    expect(done, log).toBe(true);
    expect(received).toBe(TOTAL);
    expect(gotDigest).toBe(sentDigest);
    expect(events.find((x) => x.side === 'a' && x.e.type === 'path-selected')?.e).toMatchObject({ pair: { relayed: true } });
    expect(switchA?.e, log).toMatchObject({ type: 'path-switched', reason: 'direct', to: { relayed: false } });
    expect(events.some((x) => x.side === 'b' && x.e.type === 'path-switched' && x.e.reason === 'nominated' && !x.e.to.relayed), log).toBe(true);
    const before = receivedAt.filter((r) => r.at <= switchA!.at).pop()?.bytes ?? 0;
    expect(before, 'bytes over the relay before the switch').toBeGreaterThan(100_000);
    expect(TOTAL - before, 'bytes over the direct path after the switch').toBeGreaterThan(100_000);
    expect(relay.counters().forwardedPackets).toBeGreaterThan(100);
    expect(linkA.counters.transportOutRelayed).toBeLessThan(linkA.counters.transportOut);
    expect([linkA.counters.invalidChecks, linkB.counters.invalidChecks]).toEqual([0, 0]);
    console.log(`${log}\nswitch at ${switchA!.at} ms with ${before} of ${TOTAL} bytes delivered; finished at ${receivedAt.at(-1)!.at} ms; ` +
      `alice sent ${linkA.counters.transportOut} transport datagrams, ${linkA.counters.transportOutRelayed} via the relay`);
  });

  it('fails over to the relay when the direct path dies mid-stream (3 missed probes), still byte-exact', () => {
    const TOTAL = 8_000_000;
    const { done, received, sentDigest, gotDigest, events, receivedAt, linkA } = run(TOTAL, 3500);
    const toDirect = events.find((x) => x.side === 'a' && x.e.type === 'path-switched' && x.e.reason === 'direct');
    const toRelay = events.find((x) => x.side === 'a' && x.e.type === 'path-switched' && x.e.reason === 'dead');
    const log = events.map((x) => `${Math.round(x.at)} ${x.side} ${x.e.type}${x.e.type === 'path-switched' ? ` ${CheckAgent.describe(x.e.to)} (${x.e.reason})` : ''}`).join('\n');
    expect(toDirect, log).toBeDefined();
    expect(toDirect!.at).toBeLessThan(3500);
    expect(toRelay?.e, log).toMatchObject({ to: { relayed: true } });
    expect(toRelay!.at).toBeGreaterThan(3500);
    expect(toRelay!.at).toBeLessThan(3500 + 4000); // 3 probes at 1 s intervals, 500 ms timeout
    // bob's direct pair died too (his probes), then he follows alice's nomination of the relay pair
    expect(events.some((x) => x.side === 'b' && x.at > 3500 && ((x.e.type === 'path-selected' && x.e.pair.relayed) || (x.e.type === 'path-switched' && x.e.to.relayed))), log).toBe(true);
    expect(done, log).toBe(true);
    expect(received).toBe(TOTAL);
    expect(gotDigest).toBe(sentDigest);
    const atCut = receivedAt.filter((r) => r.at <= 3500).pop()!.bytes;
    expect(TOTAL - atCut, 'bytes delivered after the failover').toBeGreaterThan(1_000_000);
    expect(linkA.counters.transportOutRelayed).toBeGreaterThan(0);
    console.log(`${log}\ndirect path cut at 3500 ms with ${atCut} bytes delivered; relay took over at ${Math.round(toRelay!.at)} ms; finished at ${Math.round(receivedAt.at(-1)!.at)} ms`);
  });
});
