// ChatService + ChatStore over an in-memory PeerNode pair: delivery with receipts,
// queueing while the contact is offline, resend after broken sessions and restarts
// (state from the SQLite file), hostile streams closed without harm.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ChatService, type ChatMessageEvent } from '../../src/apps/chat/service.ts';
import { ChatStore } from '../../src/apps/chat/store.ts';
import { encodePreamble } from '../../src/apps/stream-preamble.ts';
import { CHAT_PROTOCOL } from '../../src/apps/chat/wire.ts';
import { FakePeer } from './fake-peer.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tincan-chat-'));
  dirs.push(dir);
  const world = new Map<string, FakePeer>();
  const peers = { alice: new FakePeer('alice', world), bob: new FakePeer('bob', world) };
  const start = (name: 'alice' | 'bob') => {
    const store = ChatStore.open(join(dir, `${name}.sqlite`));
    const svc = new ChatService({ peer: peers[name], store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 20 });
    const got: ChatMessageEvent[] = [];
    svc.on('message', (m) => got.push(m));
    svc.start();
    return { svc, store, got, stop: () => { svc.close(); store.close(); } };
  };
  return { dir, peers, start };
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

describe('chat service', () => {
  it('delivers both ways with receipts; history on both sides; store file is 0600', async () => {
    const { dir, start } = setup();
    const a = start('alice'), b = start('bob');
    const m1 = a.svc.send('bob', 'hello bob');
    expect(await a.svc.waitReceipt(m1.id, 10_000)).toBe(true);
    const m2 = b.svc.send('alice', 'hi alice');
    expect(await b.svc.waitReceipt(m2.id, 10_000)).toBe(true);
    expect(b.got.map((m) => m.text)).toEqual(['hello bob']);
    expect(a.got.map((m) => m.text)).toEqual(['hi alice']);
    expect(a.svc.history('bob').map((h) => [h.direction, h.text, h.status])).toEqual([['out', 'hello bob', 'delivered'], ['in', 'hi alice', 'received']]);
    expect(statSync(join(dir, 'alice.sqlite')).mode & 0o777).toBe(0o600);
    a.stop(); b.stop();
  });

  it('queues while the contact is offline, delivers in order when it comes online', async () => {
    const { peers, start } = setup();
    peers.bob.online = false;
    const a = start('alice');
    const ids = ['one', 'two', 'three'].map((t) => a.svc.send('bob', t).id);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.svc.pending('bob')).toBe(3);
    const b = start('bob');
    peers.bob.setOnline(true);
    await until(() => a.svc.pending('bob') === 0, 'receipts');
    expect(b.got.map((m) => m.text)).toEqual(['one', 'two', 'three']);
    expect(a.svc.history('bob').map((h) => h.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(a.svc.history('bob').map((h) => h.id)).toEqual(ids);
    a.stop(); b.stop();
  });

  it('sessions cut repeatedly mid-conversation and both daemons restarted: exactly once, in order', async () => {
    const { peers, start } = setup();
    let a = start('alice'), b = start('bob');
    const received: string[] = [];
    const collect = (x: typeof b) => x.svc.on('message', (m) => received.push(m.text));
    collect(b);
    for (let i = 0; i < 60; i++) {
      a.svc.send('bob', `m${i}`);
      if (i % 7 === 3) peers.alice.cut();
      if (i === 20) { a.stop(); a = start('alice'); }
      if (i === 40) { b.stop(); b = start('bob'); collect(b); }
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => a.svc.pending('bob') === 0, 'all receipts');
    expect(received).toEqual(Array.from({ length: 60 }, (_, i) => `m${i}`));
    expect(b.svc.history('alice', 1000).map((h) => h.text)).toEqual(received);
    expect(a.svc.history('bob', 1000).every((h) => h.status === 'delivered')).toBe(true);
    a.stop(); b.stop();
  });

  it('a stream that pushes back (write() false): the burst goes out as it drains, in order', async () => {
    const { peers, start } = setup();
    peers.alice.slowStreams = true;
    const a = start('alice'), b = start('bob');
    const texts = Array.from({ length: 100 }, (_, i) => `${i}:`.padEnd(2000, '.'));
    for (const t of texts) a.svc.send('bob', t);
    await until(() => a.svc.pending('bob') === 0, 'all receipts');
    expect(b.got.map((m) => m.text)).toEqual(texts);
    a.stop(); b.stop();
  });

  it('a hostile chat stream (oversized frame) is closed; an unknown app stream too; chat still works', async () => {
    const { peers, start } = setup();
    const b = start('bob');
    const s = await peers.alice.connect('bob');
    const bad = await s.openStream();
    bad.write(encodePreamble(CHAT_PROTOCOL));
    bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x02]));
    await new Promise<void>((r) => bad.once('close', () => r()));
    const other = await s.openStream();
    other.write(encodePreamble('tincan-files/9'));
    await new Promise<void>((r) => other.once('close', () => r()));
    const a = start('alice');
    const m = a.svc.send('bob', 'still fine');
    expect(await a.svc.waitReceipt(m.id, 10_000)).toBe(true);
    expect(b.got.map((x) => x.text)).toEqual(['still fine']);
    a.stop(); b.stop();
  });
});
