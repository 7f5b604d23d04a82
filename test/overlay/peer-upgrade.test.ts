// The real Peer on loopback (directory with STUN, a supernode, two startPeer peers): the
// direct path between alice and carol is blocked at first, so the session starts on the
// relay; then the block lifts, the CheckAgent's re-checks of the failed direct pairs find
// it, both sessions report 'path' -> direct, and the stream that was open all along keeps
// delivering bytes in order and byte-exact (echoed back) across the switch.
// The block is test-only plumbing: carol's injected socket (PeerOptions.socket) drops the
// datagrams to and from alice's port; the overlay code runs unchanged.
import { describe, it, expect, beforeAll, afterAll, onTestFailed } from 'vitest';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { startPeer, type PeerOptions } from '../../src/overlay/peer.ts';
import { bindUdp } from '../../src/datagram/udp.ts';
import type { DatagramSocket } from '../../src/wire/socket.ts';
import type { ContactSession, PathInfo, PeerNode } from '../../src/overlay/peer-api.ts';
import { until, blockableUdp } from './peer-test-helpers.ts';
import { startLoopbackWorld, type LoopbackWorld } from './loopback-world.ts';

let world: LoopbackWorld;
const peers: PeerNode[] = [];
const logs: string[] = [];
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(3)}s`;

async function peer(name: string, socket: DatagramSocket, extra: Partial<PeerOptions> = {}): Promise<PeerNode> {
  const p = await startPeer({
    directoryUrl: world.dir.url, token: world.tokens[name], stateDir: join(world.tmp, name), bindAddress: '127.0.0.1', socket, supernodeOptOut: true,
    stun: { address: '127.0.0.1', port: world.dir.stunPort! }, log: (l) => logs.push(`${stamp()} ${name}: ${l}`), ...extra,
  });
  peers.push(p);
  return p;
}

/** Deterministic payload: chunk i of `size` bytes. */
function chunk(i: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (i * 2654435761) >>> 0;
  for (let j = 0; j < size; j++) { x = (x * 1103515245 + 12345) >>> 0; out[j] = x >>> 24; }
  return out;
}

beforeAll(async () => {
  world = await startLoopbackWorld('peer-upgrade', ['alice', 'carol'], [['alice', 'carol']]);
}, 30_000);

afterAll(async () => {
  for (const p of peers) await p.close();
  await world?.close();
});

describe('Peer: relayed first, direct later (re-checks), one stream across the switch', () => {
  it('starts relayed while the direct path is blocked, moves to direct when it opens, the open stream stays byte-exact', async () => {
    onTestFailed(() => { console.log(logs.join('\n')); });
    const aliceSock = await bindUdp({ address: '127.0.0.1' });
    const carolNet = await blockableUdp();
    carolNet.blocked.port = aliceSock.local.port;
    const alice = await peer('alice', aliceSock);
    const carol = await peer('carol', carolNet.socket);
    const carolSessions: ContactSession[] = [];
    carol.on('session', (cs) => {
      carolSessions.push(cs);
      cs.on('stream', (s) => { s.on('data', (d: Buffer) => s.write(d)); s.on('end', () => s.end()); }); // echo
    });

    const toCarol = await alice.connect('carol');
    await until(() => carolSessions.length === 1, 5000, "carol's session");
    const fromAlice = carolSessions[0];
    expect(toCarol.path).toMatchObject({ kind: 'relayed', remote: `127.0.0.1:${world.relay.local.port}` });
    expect(fromAlice.path.kind).toBe('relayed');
    const paths: { who: string; at: number; p: PathInfo }[] = [];
    toCarol.on('path', (p) => paths.push({ who: 'alice', at: Date.now(), p }));
    fromAlice.on('path', (p) => paths.push({ who: 'carol', at: Date.now(), p }));

    // One stream, written in paced chunks from before the switch until after it, echoed back.
    const s = await toCarol.openStream();
    const sent = createHash('sha256');
    const got = createHash('sha256');
    let sentBytes = 0;
    let gotBytes = 0;
    let gotBeforeDirect = 0;
    let ended = false;
    s.on('data', (d: Buffer) => { got.update(d); gotBytes += d.length; if (!paths.some((x) => x.p.kind === 'direct')) gotBeforeDirect = gotBytes; });
    s.on('end', () => { ended = true; });
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const c = chunk(i, 8192);
        sent.update(c);
        sentBytes += c.length;
        if (!s.write(c)) await new Promise((r) => s.once('drain', r));
        await new Promise((r) => setTimeout(r, 10));
      }
      s.end();
    })();

    // Both sides' first direct checks failed (logged once the session is up), and bytes flow relayed.
    const directFailed = (me: string, other: string) => logs.some((l) => new RegExp(` ${me}: ${other}: pair host:\\S+ -> \\S+ failed$`).test(l));
    await until(() => directFailed('alice', 'carol') && directFailed('carol', 'alice'), 8000, 'the first direct checks to fail');
    await until(() => gotBytes > 64 * 1024, 8000, 'relayed bytes');
    expect(toCarol.path.kind).toBe('relayed');
    const droppedWhileBlocked = carolNet.blocked.dropped;
    expect(droppedWhileBlocked).toBeGreaterThan(0);

    // The block lifts: a re-check finds the direct pair, both ends switch.
    const liftedAt = Date.now();
    carolNet.blocked.on = false;
    await until(() => toCarol.path.kind === 'direct' && fromAlice.path.kind === 'direct', 15_000, 'the direct path');
    const aliceDirect = paths.find((x) => x.who === 'alice' && x.p.kind === 'direct')!;
    const carolDirect = paths.find((x) => x.who === 'carol' && x.p.kind === 'direct')!;
    expect(aliceDirect.p.remote).toBe(`127.0.0.1:${carolNet.socket.local.port}`);
    expect(carolDirect.p.remote).toBe(`127.0.0.1:${aliceSock.local.port}`);
    const bytesAtSwitch = gotBytes;

    // Keep the stream going on the direct path for a while, then finish it.
    await until(() => gotBytes > bytesAtSwitch + 256 * 1024, 10_000, 'direct bytes');
    writing = false;
    await writer;
    await until(() => ended, 10_000, 'the echo to end');
    expect(gotBytes).toBe(sentBytes);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    expect(gotBeforeDirect).toBeGreaterThan(0);
    expect(toCarol.closed).toBe(false);
    const relayedOnly = paths.filter((x) => x.p.kind === 'relayed');
    expect(relayedOnly).toEqual([]); // no flapping back to the relay
    console.log(JSON.stringify({
      switchAfterLiftMs: { alice: aliceDirect.at - liftedAt, carol: carolDirect.at - liftedAt },
      bytes: { total: sentBytes, beforeDirect: gotBeforeDirect, afterDirect: sentBytes - bytesAtSwitch }, droppedWhileBlocked,
    }));
  }, 40_000);
});
