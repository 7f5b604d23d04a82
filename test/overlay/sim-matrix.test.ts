// NAT matrix in the simulator (src/sim) with the real Peer (startPeer): caller x callee
// over {public, EIM/EIF, EIM/ADF, EIM/APDF, APDM, UDP-blocked}, 36 pairs. Each peer
// classifies its NAT over real STUN (the directory's RFC 5780 StunServer + the supernode
// as second vantage point), picks the supernode, publishes presence; alice connect()s to
// bob through the directory's rendezvous; the ContactLink runs the relay ticket + BIND,
// ICE-style checks and the Noise IK handshake; a chat line crosses each way on a stream.
// UDP-blocked peers (their NAT drops all UDP) reach the supernode over a simulated TCP
// stream with the relay framing (sim-peer-harness.ts: what is stood in is listed there —
// the directory's HTTP/push transport and TCP itself).
// Asserts: every NAT classified right, 36/36 connect, the path is direct exactly where
// RFC 4787 allows a punch (predictDirect; never with a UDP-blocked side), relayed
// otherwise, on both ends. Prints the matrix and connect times in peer-to-peer RTTs.
import { describe, it, expect, afterAll } from 'vitest';
import type { Duplex } from 'node:stream';
import { Network, type NatOptions, type Host } from '../../src/sim/index.ts';
import { Driver } from '../../src/datagram/driver.ts';
import { StunServer } from '../../src/directory/stun-server.ts';
import { SupernodeCore } from '../../src/overlay/supernode.ts';
import { RelayStreamServer } from '../../src/overlay/relay-stream-mux.ts';
import { directoryTicketVerifier } from '../../src/overlay/ticket-verifier.ts';
import { startPeer } from '../../src/overlay/peer.ts';
import { predictDirect, type NatType } from '../../src/overlay/nat-types.ts';
import type { ContactSession, PeerNode } from '../../src/overlay/peer-api.ts';
import { seededRandom } from '../../src/transport/random.ts';
import { NAT_KINDS } from './nat-model.ts';
import { SimDirectory, SimLoop, pipeConnector, tempStateDirs, PUNCH_DELAY_MS } from './sim-peer-harness.ts';

const ACCESS_MS = 10; // one way, NAT/host to core
const LAN_MS = 1;
const CORE_MS = 5; // core to the directory / supernode hosts
const P2P_RTT_MS = 2 * (LAN_MS + ACCESS_MS + ACCESS_MS + LAN_MS);
const SUPERNODE = { address: '198.51.100.20', port: 3479 };
const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

const behaviour = (k: NatType): Pick<NatOptions, 'mapping' | 'filtering'> => {
  if (k.udp === 'blocked') return { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' };
  const m = { EIM: 'endpoint-independent', ADM: 'address-dependent', APDM: 'address-and-port-dependent', none: 'endpoint-independent' } as const;
  const f = { EIF: 'endpoint-independent', ADF: 'address-dependent', APDF: 'address-and-port-dependent' } as const;
  return { mapping: m[k.mapping], filtering: f[k.filtering] };
};

const readLine = (s: Duplex) => new Promise<string>((res, rej) => {
  let buf = '';
  s.on('data', (c: Buffer) => { buf += c.toString('utf8'); const i = buf.indexOf('\n'); if (i >= 0) res(buf.slice(0, i)); });
  s.on('error', rej);
});

interface PairResult {
  nat: [string | undefined, string | undefined];
  paths: [string, string];
  lines: [string, string];
  /** From the coordinated start (rendezvous delay after the caller's answer) to connect() resolving. */
  connectMs: number;
  relayedPackets: number;
  /** Relay frames the supernode received over simulated TCP. */
  streamFrames: number;
}

async function runPair(kindA: string, kindB: string, seed: number, pairNo: number): Promise<PairResult> {
  const net = new Network({ seed, log: false });
  const loop = new SimLoop(net);
  const core = net.addRouter('core');
  const rv1 = net.addHost('rv1', '198.51.100.10');
  const rv2 = net.addHost('rv2', '198.51.100.11');
  const snHost = net.addHost('supernode', SUPERNODE.address);
  for (const h of [rv1, rv2, snHost]) net.connect(h, core, { latencyMs: CORE_MS });

  const side = (name: string, kind: string, pub: string, lan: string): Host => {
    const t = NAT_KINDS[kind];
    if (t.udp === 'open' && t.mapping === 'none') {
      const h = net.addHost(name, pub);
      net.connect(h, core, { latencyMs: ACCESS_MS + LAN_MS });
      return h;
    }
    const nat = net.addNat(`${name}-nat`, { externalAddress: pub, ...behaviour(t) });
    const h = net.addHost(name, lan);
    net.connect(h, nat.inside, { latencyMs: LAN_MS });
    net.connect(nat.outside, core, { latencyMs: ACCESS_MS, lossRate: t.udp === 'blocked' ? 1 : 0 });
    return h;
  };
  const ha = side('alice', kindA, '198.51.100.2', '192.0.2.2');
  const hb = side('bob', kindB, '198.51.100.3', '192.0.2.66');
  net.autoRoute();

  const stun = new StunServer({ primary: rv1.bindUdp(3478), altPort: rv1.bindUdp(3479), altIp: rv2.bindUdp(3478), altBoth: rv2.bindUdp(3479) });
  const dir = new SimDirectory(net.clock, [{ id: 'sn-1', address: SUPERNODE.address, port: SUPERNODE.port, capacity: 100, load: 0, lastHeartbeat: 0 }], seed);
  const oneWay = LAN_MS + ACCESS_MS + CORE_MS;
  dir.addUser('alice', oneWay);
  dir.addUser('bob', oneWay);
  const snSocket = new RelayStreamServer(snHost.bindUdp(SUPERNODE.port));
  let sid = BigInt(seed) << 32n;
  const sn = new SupernodeCore({ relay: { verifier: directoryTicketVerifier(dir.directoryPublicKey), newSessionId: () => ++sid } }, net.clock.now());
  new Driver(sn, snSocket, net.clock).wake();

  const logs: string[] = [];
  const start = (name: string, h: Host, pub: string) => startPeer({
    directory: dir.clientFor(name), directoryUrl: 'http://198.51.100.10:7400', stateDir: dirs.dir(`${pairNo}-${name}`),
    socket: h.bindUdp(5000), clock: net.clock, random: seededRandom(seed * 2 + (name === 'alice' ? 0 : 1)),
    relayStreams: pipeConnector(net.clock, snSocket, SUPERNODE, pub, oneWay), stun: { address: '198.51.100.10', port: 3478 },
    hostAddresses: [h.address], supernodeOptOut: true, deviceName: name,
    log: (l) => logs.push(`${net.clock.now().toFixed(0)} ${name}: ${l}`),
  });
  const label = `alice ${kindA} x bob ${kindB} (seed ${seed})`;
  let alice: PeerNode | undefined, bob: PeerNode | undefined;
  try {
    [alice, bob] = await loop.settle(Promise.all([start('alice', ha, '198.51.100.2'), start('bob', hb, '198.51.100.3')]), 10_000);
    const bobSession = new Promise<ContactSession>((res) => bob!.once('session', res));
    const bobLine = bobSession.then(async (s) => {
      const st = await new Promise<Duplex>((res) => s.once('stream', res));
      const line = await readLine(st);
      st.write('hello from bob\n');
      return line;
    });
    const calledAt = net.clock.now();
    const as = await loop.settle(alice.connect('bob'), 15_000).catch((e: Error) => { throw new Error(`${label}: ${e.message}\n${logs.join('\n')}`); });
    const connectedAt = net.clock.now();
    const st = await loop.settle(as.openStream(), 1_000);
    st.write('hello from alice\n');
    const [aLine, bLine] = await loop.settle(Promise.all([readLine(st), bobLine]), 5_000);
    const bs = await bobSession;
    const rv = dir.rendezvous[0];
    // The coordinated start on alice's clock: her answer arrives one way after the directory built it.
    const startAt = rv.at + oneWay + PUNCH_DELAY_MS;
    expect(calledAt, label).toBeLessThan(startAt);
    expect(stun.counters.internalErrors, label).toBe(0);
    return {
      nat: [alice.nat, bob.nat], paths: [as.path.kind, bs.path.kind], lines: [aLine, bLine],
      connectMs: connectedAt - startAt, relayedPackets: sn.counters().relay.forwardedPackets, streamFrames: snSocket.counters.framesIn,
    };
  } finally {
    const closing = Promise.all([alice?.close(), bob?.close()]);
    await loop.settle(closing, 1_000).catch(() => {});
  }
}

describe('simulator NAT matrix (36 pairs, the real Peer over simulated NATs and TCP)', () => {
  it('classifies every NAT, connects all 36 pairs, direct exactly where RFC 4787 allows', { timeout: 120_000 }, async () => {
    const names = Object.keys(NAT_KINDS);
    const rows: string[] = [];
    const connectRtts: number[] = [];
    let seed = 100;
    let pairNo = 0;
    for (const x of names) {
      const row: string[] = [];
      for (const y of names) {
        const label = `alice ${x} x bob ${y} (seed ${seed})`;
        const r = await runPair(x, y, seed++, pairNo++);
        const nat = (k: string) => (k === 'APDM' ? 'APDM/APDF' : k);
        expect(r.nat, label).toEqual([nat(x), nat(y)]);
        expect(r.lines, label).toEqual(['hello from bob', 'hello from alice']);
        const direct = x !== 'UDP-blocked' && y !== 'UDP-blocked' && predictDirect(NAT_KINDS[x], NAT_KINDS[y]);
        expect(r.paths, label).toEqual(direct ? ['direct', 'direct'] : ['relayed', 'relayed']);
        if (!direct) expect(r.relayedPackets, label).toBeGreaterThan(0);
        expect(r.streamFrames > 0, label).toBe(x === 'UDP-blocked' || y === 'UDP-blocked');
        connectRtts.push(r.connectMs / P2P_RTT_MS);
        row.push(r.paths[0]);
      }
      rows.push(`${x.padEnd(12)} ${row.map((p) => p.padEnd(9)).join('')}`);
    }
    connectRtts.sort((p, q) => p - q);
    const pct = (q: number) => connectRtts[Math.min(connectRtts.length - 1, Math.floor(q * connectRtts.length))].toFixed(1);
    console.log(`caller\\callee ${names.map((s) => s.slice(0, 8).padEnd(9)).join('')}\n${rows.join('\n')}\n` +
      `connect time (coordinated start -> connect() resolved: checks, nomination, Noise IK), in peer RTTs (${P2P_RTT_MS} ms): ` +
      `median ${pct(0.5)}, p95 ${pct(0.95)}, max ${connectRtts[connectRtts.length - 1].toFixed(1)} (n=${connectRtts.length})`);
  });
});
