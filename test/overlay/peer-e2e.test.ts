// End to end on loopback: a real directory (SQLite, HTTP, push, STUN), a supernode
// registered at it (relay + STUN on one port, UDP and TCP), and Peers (src/overlay/peer.ts,
// Noise sessions) of four users. alice <-> carol connect directly, and when that path dies
// mid-stream the session moves to the relay and the stream carries on; bob is forced
// through the relay; bob and carol calling each other at once end in one session; dave's
// UDP is blocked, so he reaches the supernode over TCP. Bytes cross ContactSession streams
// both ways; status() reports the path; a contact key that differs from the pin is refused.
import { describe, it, expect, beforeAll, afterAll, onTestFailed } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPeer, type PeerOptions } from '../../src/overlay/peer.ts';
import { bindUdp } from '../../src/datagram/udp.ts';
import type { DatagramSocket } from '../../src/wire/socket.ts';
import { PeerError, type ContactSession, type PeerNode } from '../../src/overlay/peer-api.ts';
import { readLine } from './peer-test-helpers.ts';
import { startLoopbackWorld, type LoopbackWorld } from './loopback-world.ts';

let world: LoopbackWorld;
let tmp: string;
let dir: LoopbackWorld['dir'];
let relay: LoopbackWorld['relay'];
let tokens: LoopbackWorld['tokens'];
let clients: LoopbackWorld['clients'];
const peers: PeerNode[] = [];
const logs: string[] = [];

async function peer(name: string, extra: Partial<PeerOptions> = {}): Promise<PeerNode> {
  const p = await startPeer({
    directoryUrl: dir.url, token: tokens[name], stateDir: join(tmp, name), bindAddress: '127.0.0.1',
    stun: { address: '127.0.0.1', port: dir.stunPort! }, log: (l) => logs.push(`${name}: ${l}`), ...extra,
  });
  peers.push(p);
  return p;
}

/** Opens a stream, sends a line, expects the other side to echo it upper-cased. */
async function exchange(from: ContactSession, line: string): Promise<string> {
  const s = await from.openStream();
  s.write(`${line}\n`);
  const answer = await readLine(s);
  s.end();
  return answer;
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error('timed out waiting');
}

/** Answers every line of every stream the contact opens with the line upper-cased. */
function echo(cs: ContactSession): void {
  cs.on('stream', (s) => {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) { s.write(`${buf.slice(0, i).toUpperCase()}\n`); buf = buf.slice(i + 1); }
    });
    s.on('end', () => s.end());
  });
}

function echoServer(p: PeerNode): ContactSession[] {
  const seen: ContactSession[] = [];
  p.on('session', (cs) => { seen.push(cs); echo(cs); });
  return seen;
}

beforeAll(async () => {
  world = await startLoopbackWorld('peer-e2e', ['alice', 'bob', 'carol', 'dave'], [['alice', 'bob'], ['alice', 'carol'], ['bob', 'carol'], ['dave', 'alice']]);
  ({ tmp, dir, relay, tokens, clients } = world);
}, 30_000);

afterAll(async () => {
  for (const p of peers) await p.close();
  await world?.close();
});

/** A UDP socket whose traffic with some ports can be cut (a path that dies). */
async function cuttableUdp(): Promise<{ socket: DatagramSocket; cut: Set<number> }> {
  const s = await bindUdp({ address: '127.0.0.1' });
  const cut = new Set<number>();
  let h: (from: { address: string; port: number }, b: Uint8Array) => void = () => {};
  s.onDatagram((from, b) => { if (!cut.has(from.port)) h(from, b); });
  return { cut, socket: { get local() { return s.local; }, send: (to, b) => { if (!cut.has(to.port)) s.send(to, b); }, onDatagram: (x) => { h = x; }, close: () => s.close() } };
}

/** A UDP socket on a network that blocks UDP: nothing goes out, nothing comes in. */
async function blockedUdp(): Promise<DatagramSocket> {
  const s = await bindUdp({ address: '127.0.0.1' });
  return { get local() { return s.local; }, send: () => {}, onDatagram: () => {}, close: () => s.close() };
}

describe('Peer end to end on loopback (directory + supernode + peers)', () => {
  it('connects directly and through the relay, streams both ways, reports the path; a changed key is refused', async () => {
    onTestFailed(() => { console.log(logs.join('\n')); console.log(JSON.stringify({ relay: relay.counters(), tcp: relay.tcpCounters() })); });
    const alice = await peer('alice');
    const bob = await peer('bob', { forceRelay: true });
    const carolNet = await cuttableUdp();
    const carol = await peer('carol', { socket: carolNet.socket });
    echoServer(alice);
    let toCarolRef: ContactSession | undefined;
    const bobSessions = echoServer(bob);
    const carolSessions = echoServer(carol);
    expect(alice.nat).toMatch(/^public/);

    try {
      // alice -> carol: both on 127.0.0.1 with host candidates: a direct path.
      const toCarol = await alice.connect('carol');
      toCarolRef = toCarol;
      echo(toCarol);
      expect(await exchange(toCarol, 'hello carol')).toBe('HELLO CAROL');
      expect(toCarol.path.kind).toBe('direct');
      expect(carolSessions.map((s) => s.username)).toEqual(['alice']);
      expect(await exchange(carolSessions[0], 'hello alice')).toBe('HELLO ALICE'); // the other direction
      expect(await alice.connect('carol')).toBe(toCarol); // one session per contact device
      // Both ends authenticated each other (Noise) with the keys the directory holds.
      const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');
      expect(b64(toCarol.remoteStatic)).toBe((await clients.alice.contactDevices('carol'))[0].x25519);
      expect(b64(carolSessions[0].remoteStatic)).toBe((await clients.carol.contactDevices('alice'))[0].x25519);

      // alice -> bob: bob publishes only the relay candidate: relayed through the supernode.
      const toBob = await alice.connect('bob');
      expect(await exchange(toBob, 'hello bob')).toBe('HELLO BOB');
      expect(toBob.path.kind).toBe('relayed');
      expect(toBob.path.remote).toBe(`127.0.0.1:${relay.local.port}`);
      expect(bobSessions[0].path.kind).toBe('relayed');
      expect(relay.counters().relay.forwardedPackets).toBeGreaterThan(4);

      const status = await alice.status();
      const byName = Object.fromEntries(status.map((s) => [s.username, s]));
      expect(byName.bob).toMatchObject({ presence: 'online', path: { kind: 'relayed' } });
      expect(byName.carol).toMatchObject({ presence: 'online', path: { kind: 'direct' } });

      // Errors: unknown user, not a contact.
      await expect(alice.connect('nobody')).rejects.toMatchObject({ code: 'unknown-user' });
      await expect(alice.connect('operator')).rejects.toMatchObject({ code: 'not-a-contact' });
    } finally { /* logs are printed on failure */ }

    // bob and carol call each other at the same moment (two rendezvous): both end up in
    // one session, whichever rendezvous won.
    const [bc, cb] = await Promise.all([bob.connect('carol'), carol.connect('bob')]);
    expect([bc.username, cb.username]).toEqual(['carol', 'bob']);
    echo(bc);
    echo(cb);
    expect(await exchange(bc, 'glare')).toBe('GLARE');
    expect(await exchange(cb, 'glare back')).toBe('GLARE BACK');
    expect(bob.sessions().filter((s) => s.username === 'carol')).toHaveLength(1);

    // The direct path between alice and carol dies in the middle of a stream: the session
    // moves to the relay ('path' event) and the same stream carries on.
    const midway = await toCarolRef!.openStream();
    const lines: string[] = [];
    let buf = '';
    midway.on('data', (d: Buffer) => { buf += d.toString(); const i = buf.indexOf('\n'); if (i >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); } });
    const switched = new Promise((res) => toCarolRef!.once('path', res));
    midway.write('before\n');
    await until(() => lines.length === 1);
    carolNet.cut.add(Number(carolSessions[0].path.remote.split(':')[1])); // alice's port: nothing passes between them directly
    expect(await switched).toMatchObject({ kind: 'relayed', remote: `127.0.0.1:${relay.local.port}` });
    midway.write('after\n');
    await until(() => lines.length === 2);
    expect(lines).toEqual(['BEFORE', 'AFTER']);
    expect(carolSessions[0].path.kind).toBe('relayed');
    midway.end();

    // dave: UDP blocked. He classifies himself so, reaches the supernode over TCP, and
    // alice through it.
    const dave = await peer('dave', { socket: await blockedUdp() });
    expect(dave.nat).toBe('UDP-blocked');
    const daveToAlice = await dave.connect('alice');
    expect(await exchange(daveToAlice, 'over tcp')).toBe('OVER TCP');
    expect(daveToAlice.path).toMatchObject({ kind: 'relayed', remote: `127.0.0.1:${relay.local.port}` });
    expect(relay.tcpCounters()!.framesIn).toBeGreaterThan(4);

    // A pinned key that no longer matches: alice restarts with a tampered pin for bob.
    await alice.close();
    const pinsPath = join(tmp, 'alice', 'key-pins.json');
    const pins = JSON.parse(readFileSync(pinsPath, 'utf8')) as { pins: { contact: string; key: string }[] };
    const bobPin = pins.pins.find((p) => p.contact === 'bob')!;
    bobPin.key = 'ab'.repeat(32);
    writeFileSync(pinsPath, JSON.stringify(pins));
    const alice2 = await peer('alice');
    const changed: unknown[] = [];
    alice2.on('key-changed', (e) => changed.push(e));
    const err = await alice2.connect('bob').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerError);
    expect((err as PeerError).code).toBe('key-changed');
    expect(changed).toEqual([{ username: 'bob', deviceId: expect.stringMatching(/^[0-9a-f]{32}$/) }]);
    // carol's pin is untouched: still connects.
    const again = await alice2.connect('carol');
    expect(await exchange(again, 'still you')).toBe('STILL YOU');
  }, 30_000);
});
