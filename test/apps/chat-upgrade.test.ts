// The chat service on both ends over the real Peer on loopback (directory with STUN, a
// supernode, two startPeer peers), across a relayed -> direct path upgrade: carol's
// injected socket (PeerOptions.socket) drops datagrams to and from alice's port, so the
// session starts relayed; alice sends chat messages continuously; the block lifts, the
// CheckAgent's re-checks find the direct pair and the session switches ('path' -> direct);
// alice keeps sending. Every message arrives exactly once, in order, with one receipt each,
// and the path observed by both chat services goes relayed -> direct (same as
// test/overlay/peer-upgrade.test.ts, with the chat layer on top).
import { describe, it, expect, beforeAll, afterAll, onTestFailed } from 'vitest';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startPeer } from '../../src/overlay/peer.ts';
import { bindUdp } from '../../src/datagram/udp.ts';
import type { DatagramSocket } from '../../src/wire/socket.ts';
import type { ContactSession, PeerNode } from '../../src/overlay/peer-api.ts';
import { ChatService } from '../../src/apps/chat/service.ts';
import { ChatStore } from '../../src/apps/chat/store.ts';
import { until, blockableUdp } from '../overlay/peer-test-helpers.ts';
import { startLoopbackWorld, type LoopbackWorld } from '../overlay/loopback-world.ts';

let world: LoopbackWorld;
let tmp: string;
let dir: LoopbackWorld['dir'];
let clients: LoopbackWorld['clients'];
const cleanup: (() => unknown)[] = [];
const logs: string[] = [];
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(3)}s`;

beforeAll(async () => {
  world = await startLoopbackWorld('chat-upgrade', ['alice', 'carol'], [['alice', 'carol']]);
  ({ tmp, dir, clients } = world);
}, 30_000);

afterAll(async () => {
  for (const f of cleanup.reverse()) { try { await f(); } catch { /* keep going */ } }
  await world?.close();
});

async function chatPeer(name: string, socket: DatagramSocket) {
  const peer: PeerNode = await startPeer({
    directoryUrl: dir.url, directory: clients[name], stateDir: join(tmp, name), bindAddress: '127.0.0.1', socket, supernodeOptOut: true,
    stun: { address: '127.0.0.1', port: dir.stunPort! }, log: (l) => logs.push(`${stamp()} ${name}: ${l}`),
  });
  cleanup.push(() => peer.close());
  const store = ChatStore.open(join(tmp, `${name}.sqlite`));
  const svc = new ChatService({ peer, store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 200 });
  cleanup.push(() => { svc.close(); store.close(); });
  const got: { text: string; path: string }[] = [];
  const receipts: number[] = [];
  const paths: string[] = [];
  const sessions: ContactSession[] = [];
  const links: string[] = [];
  svc.on('session', (cs) => { sessions.push(cs); paths.push(cs.path.kind); cs.on('path', (p) => paths.push(p.kind)); });
  svc.on('message', (m) => got.push({ text: m.text, path: sessions.at(-1)?.path.kind ?? '?' }));
  svc.on('receipt', (r) => receipts.push(r.seq));
  svc.on('link', (l) => links.push(`${stamp()} ${l.direction} ${l.state}${l.error ? ` ${l.error}` : ''}`));
  svc.start();
  return { peer, svc, store, got, receipts, paths, sessions, links };
}

describe('chat across a relayed -> direct path upgrade (real Peer)', () => {
  it('messages sent continuously before and after the switch arrive exactly once, in order, with receipts', async () => {
    onTestFailed(() => { console.log(logs.join('\n')); });
    const aliceSock = await bindUdp({ address: '127.0.0.1' });
    const carolNet = await blockableUdp();
    carolNet.blocked.port = aliceSock.local.port;
    const alice = await chatPeer('alice', aliceSock);
    const carol = await chatPeer('carol', carolNet.socket);
    onTestFailed(() => { console.log(`alice links: ${alice.links.join(' | ')}\ncarol links: ${carol.links.join(' | ')}`); });

    // alice sends a message every 20 ms from now until told to stop.
    const sent: string[] = [];
    let sending = true;
    const sender = (async () => {
      for (let i = 1; sending; i++) {
        const text = `message ${i}`;
        alice.svc.send('carol', text);
        sent.push(text);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    // Relayed at first (the direct checks fail), and messages arrive that way.
    await until(() => alice.sessions.length > 0 && carol.sessions.length > 0, 10_000, 'both chat sessions');
    await until(() => carol.got.length >= 20, 10_000, '20 relayed messages');
    expect(alice.sessions[0].path.kind).toBe('relayed');
    expect(carol.sessions[0].path.kind).toBe('relayed');
    const relayedMessages = carol.got.filter((m) => m.path === 'relayed').length;
    expect(relayedMessages).toBeGreaterThanOrEqual(20);
    // Lift only once both sides' first direct checks have failed, so the switch is a re-check's.
    const directFailed = (me: string, other: string) => logs.some((l) => new RegExp(` ${me}: ${other}: pair host:\\S+ -> \\S+ failed$`).test(l));
    await until(() => directFailed('alice', 'carol') && directFailed('carol', 'alice'), 10_000, 'the first direct checks to fail');
    expect(alice.sessions[0].path.kind).toBe('relayed');
    const droppedWhileBlocked = carolNet.blocked.dropped;
    expect(droppedWhileBlocked).toBeGreaterThan(0);

    // The block lifts: both ends switch to direct; alice keeps sending.
    const liftedAt = Date.now();
    carolNet.blocked.on = false;
    await until(() => alice.sessions.at(-1)!.path.kind === 'direct' && carol.sessions.at(-1)!.path.kind === 'direct', 15_000, 'the direct path');
    const switchMs = Date.now() - liftedAt;
    const atSwitch = carol.got.length;
    await until(() => carol.got.length >= atSwitch + 50, 10_000, '50 messages after the switch');
    sending = false;
    await sender;

    await until(() => alice.receipts.length === sent.length, 10_000, 'every receipt');
    await new Promise((r) => setTimeout(r, 200)); // room for a (wrong) duplicate to show up
    expect(carol.got.map((m) => m.text)).toEqual(sent);
    expect(alice.receipts).toEqual(sent.map((_, i) => i + 1));
    expect(alice.svc.pending('carol')).toBe(0);
    expect(carol.got.filter((m) => m.path === 'direct').length).toBeGreaterThanOrEqual(50);
    // The path observed by both chat services went relayed -> direct, and never back.
    expect(alice.paths[0]).toBe('relayed');
    expect(carol.paths[0]).toBe('relayed');
    expect(alice.paths.at(-1)).toBe('direct');
    expect(carol.paths.at(-1)).toBe('direct');
    expect(alice.paths.slice(alice.paths.indexOf('direct'))).not.toContain('relayed');
    // One chat stream each way carried the whole conversation: the switch broke nothing.
    expect(alice.links.filter((l) => l.includes(' down'))).toEqual([]);
    expect(carol.links.filter((l) => l.includes(' down'))).toEqual([]);
    // Stored on both sides: every message once.
    const hist = carol.store.history('alice', 10_000);
    expect(hist.map((e) => e.text)).toEqual(sent);
    expect(alice.store.history('carol', 10_000).every((e) => e.status === 'delivered')).toBe(true);
    console.log(JSON.stringify({
      messages: sent.length, relayed: carol.got.filter((m) => m.path === 'relayed').length, direct: carol.got.filter((m) => m.path === 'direct').length,
      switchAfterLiftMs: switchMs, droppedWhileBlocked, sessions: { alice: alice.sessions.length, carol: carol.sessions.length },
      paths: { alice: alice.paths, carol: carol.paths }, links: { alice: alice.links.length, carol: carol.links.length },
    }));
  }, 40_000);
});
