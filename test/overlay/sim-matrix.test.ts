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
import { predictDirect } from '../../src/overlay/nat-types.ts';
import type { ContactSession, PeerNode } from '../../src/overlay/peer-api.ts';
import { NAT_KINDS } from './nat-model.ts';
import { simWorld, tempStateDirs, PUNCH_DELAY_MS, P2P_RTT_MS, ONE_WAY_TO_SERVERS_MS } from './sim-peer-harness.ts';

const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

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
  const w = simWorld(NAT_KINDS[kindA], NAT_KINDS[kindB], seed, (name) => dirs.dir(`${pairNo}-${name}`));
  const { net, loop, dir, logs } = w;
  const label = `alice ${kindA} x bob ${kindB} (seed ${seed})`;
  let alice: PeerNode | undefined, bob: PeerNode | undefined;
  try {
    [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
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
    const startAt = rv.at + ONE_WAY_TO_SERVERS_MS + PUNCH_DELAY_MS;
    expect(calledAt, label).toBeLessThan(startAt);
    expect(w.stun.counters.internalErrors, label).toBe(0);
    return {
      nat: [alice.nat, bob.nat], paths: [as.path.kind, bs.path.kind], lines: [aLine, bLine],
      connectMs: connectedAt - startAt, relayedPackets: w.supernode.counters().relay.forwardedPackets, streamFrames: w.supernodeSocket.counters.framesIn,
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
        row.push(`${r.paths[0]} ${(r.connectMs / P2P_RTT_MS).toFixed(1)}`);
      }
      rows.push(`${x.padEnd(12)} ${row.map((p) => p.padEnd(13)).join('')}`);
    }
    connectRtts.sort((p, q) => p - q);
    const pct = (q: number) => connectRtts[Math.min(connectRtts.length - 1, Math.floor(q * connectRtts.length))].toFixed(1);
    console.log(`cells: path, connect time in peer RTTs\ncaller\\callee ${names.map((s) => s.padEnd(13)).join('')}\n${rows.join('\n')}\n` +
      `connect time (coordinated start -> connect() resolved: checks, nomination, Noise IK), in peer RTTs (${P2P_RTT_MS} ms): ` +
      `median ${pct(0.5)}, p95 ${pct(0.95)}, max ${connectRtts[connectRtts.length - 1].toFixed(1)} (n=${connectRtts.length})`);
  });
});
