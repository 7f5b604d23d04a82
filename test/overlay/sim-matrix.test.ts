// NAT matrix in the simulator (src/sim): the overlay's real sans-IO cores — NAT
// classification (over real STUN against the directory's RFC 5780 STUN server),
// ICE-style STUN connectivity checks, the relay forwarder, PeerLink carrying the real
// transport (a chat line each way on a stream) — run by the project's Driver
// over simulated UDP, through the simulator's RFC 4787 NAT boxes, for caller x callee
// over {public, EIM/EIF, EIM/ADF, EIM/APDF, APDM, UDP-blocked}: 36 pairs. Asserts each
// side's NAT is classified right, that every pair with UDP connects, and that the path
// is direct exactly where RFC 4787 allows a punch (predictDirect), relayed otherwise.
// Prints the matrix and connect times (from the coordinated start to the first
// selected path) in peer-to-peer RTTs. Only the rendezvous is the lab's JSON scaffolding
// (until the directory's rendezvous is integrated).
import { describe, it, expect } from 'vitest';
import { Network, type NatOptions } from '../../src/sim/index.ts';
import { Driver } from '../../src/datagram/driver.ts';
import { RelayForwarder } from '../../src/overlay/relay.ts';
import { predictDirect, type NatType } from '../../src/overlay/nat-types.ts';
import { LabPeer, type LabPeerResult } from '../lab/programs/peer-core.ts';
import { LabRendezvous } from '../lab/programs/rendezvous-core.ts';
import { StunServer } from '../../src/directory/stun-server.ts';
import { createRng } from '../../src/sim/index.ts';
import { NAT_KINDS } from './nat-model.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';

const issuer = makeIssuer();
const ACCESS_MS = 10; // one way, NAT/host to core
const LAN_MS = 1;
const P2P_RTT_MS = 2 * (LAN_MS + ACCESS_MS + ACCESS_MS + LAN_MS);

const behaviour = (k: NatType): Pick<NatOptions, 'mapping' | 'filtering'> => {
  if (k.udp === 'blocked') return { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' };
  const m = { EIM: 'endpoint-independent', ADM: 'address-dependent', APDM: 'address-and-port-dependent', none: 'endpoint-independent' } as const;
  const f = { EIF: 'endpoint-independent', ADF: 'address-dependent', APDF: 'address-and-port-dependent' } as const;
  return { mapping: m[k.mapping], filtering: f[k.filtering] };
};

function runPair(kindA: string, kindB: string, seed: number): { a: LabPeerResult; b: LabPeerResult; relayed: number; startAt: number } {
  const net = new Network({ seed, log: false });
  const core = net.addRouter('core');
  const rv1 = net.addHost('rv1', '198.51.100.10');
  const rv2 = net.addHost('rv2', '198.51.100.11');
  const relayHost = net.addHost('relay', '198.51.100.20');
  for (const h of [rv1, rv2, relayHost]) net.connect(h, core, { latencyMs: 5 });

  const side = (name: string, kind: string, pub: string, lan: string) => {
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

  // The directory's real RFC 5780 STUN server on A1:P1, A1:P2, A2:P1, A2:P2; the lab rendezvous on A1:4000.
  const stun = new StunServer({ primary: rv1.bindUdp(3478), altPort: rv1.bindUdp(3479), altIp: rv2.bindUdp(3478), altBoth: rv2.bindUdp(3479) });
  const rv = new LabRendezvous((a, b, exp) => issuer.issue(a, b, exp));
  const rvSock = rv1.bindUdp(4000);
  let startAt = NaN;
  rvSock.onDatagram((from, bytes) => {
    for (const t of rv.handleDatagram(net.clock.now(), from, bytes)) rvSock.send(t.to, t.bytes);
    if (Number.isNaN(startAt) && rv.events.length) startAt = Number(rv.events[0].split(' at ')[1]);
  });
  let n = 0n;
  const relay = new RelayForwarder({ verifier: standInVerifier(issuer.publicKey), newSessionId: () => ++n }, net.clock.now());
  new Driver(relay, relayHost.bindUdp(3479), net.clock).wake();

  const rng = createRng(seed);
  const peer = (name: string, want: string, h: typeof ha) => {
    const ref: { drv?: Driver } = {};
    const p = new LabPeer({
      name, want, host: { address: h.address, port: 5000 }, primary: { address: '198.51.100.10', port: 3478 },
      primaryAlt: { address: '198.51.100.10', port: 3479 }, secondary: { address: '198.51.100.11', port: 3479 },
      relay: { address: '198.51.100.20', port: 3479 }, rendezvous: { address: '198.51.100.10', port: 4000 },
      randomBytes: (k) => Uint8Array.from({ length: k }, () => rng.int(256)), clock: net.clock, wake: () => ref.drv?.wake(),
    }, net.clock.now());
    ref.drv = new Driver(p, h.bindUdp(5000), net.clock);
    ref.drv.wake();
    return p;
  };
  const pa = peer('alice', 'bob', ha);
  const pb = peer('bob', 'alice', hb);
  net.run(15_000);
  expect(stun.counters.internalErrors).toBe(0);
  return { a: pa.result()!, b: pb.result()!, relayed: relay.counters().forwardedPackets, startAt };
}

describe('simulator NAT matrix (36 pairs, real overlay cores over simulated NATs)', () => {
  it('classifies every NAT, connects every pair that has UDP, direct exactly where RFC 4787 allows', () => {
    const names = Object.keys(NAT_KINDS);
    const rows: string[] = [];
    const connectRtts: number[] = [];
    let seed = 100;
    for (const x of names) {
      const row: string[] = [];
      for (const y of names) {
        const label = `alice ${x} x bob ${y} (seed ${seed})`;
        const { a, b, relayed, startAt } = runPair(x, y, seed++);
        expect(a, label).toBeDefined();
        expect(b, label).toBeDefined();
        const blocked = x === 'UDP-blocked' || y === 'UDP-blocked';
        const expectedNat = (k: string) => (k === 'APDM' ? 'APDM/APDF' : k);
        if (x !== 'UDP-blocked') expect(a.nat, label).toBe(expectedNat(x));
        if (y !== 'UDP-blocked') expect(b.nat, label).toBe(expectedNat(y));
        if (blocked) {
          // No UDP at all: a TCP/TLS relay fallback (not built) would be needed.
          expect([a.ok, b.ok], label).toEqual([false, false]);
          row.push('none');
          continue;
        }
        expect([a.ok, b.ok, a.received, b.received], `${label}\n${a.log.join('\n')}\n---\n${b.log.join('\n')}`).toEqual([true, true, 'hello from bob', 'hello from alice']);
        expect([a.invalidChecks, b.invalidChecks], label).toEqual([0, 0]); // every STUN check authenticated
        const direct = predictDirect(NAT_KINDS[x], NAT_KINDS[y]);
        expect([a.path, b.path], label).toEqual(direct ? ['direct', 'direct'] : ['relayed', 'relayed']);
        if (!direct) expect(relayed, label).toBeGreaterThan(0);
        connectRtts.push((a.connectMs! - startAt) / P2P_RTT_MS);
        row.push(a.path);
      }
      rows.push(`${x.padEnd(12)} ${row.map((r) => r.padEnd(8)).join('')}`);
    }
    connectRtts.sort((p, q) => p - q);
    const pct = (q: number) => connectRtts[Math.min(connectRtts.length - 1, Math.floor(q * connectRtts.length))].toFixed(1);
    console.log(`alice\\bob    ${names.map((s) => s.slice(0, 7).padEnd(8)).join('')}\n${rows.join('\n')}\n` +
      `connect time from the coordinated start, in peer RTTs (${P2P_RTT_MS} ms): median ${pct(0.5)}, p95 ${pct(0.95)} (n=${connectRtts.length})\n` +
      'none = UDP-blocked: the simulator carries only UDP; such peers reach the supernode over TCP (relay-tcp.ts), ' +
      'tested on loopback (peer-e2e.test.ts) and through a real UDP-dropping router (test/lab/holepunch.test.ts)');
  });
});
