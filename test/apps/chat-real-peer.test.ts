// The chat service on real Peers (src/overlay/peer.ts) over loopback UDP with a real
// directory and supernode: alice talks to bob while her session to bob is closed
// under the conversation twice (as a dead path would end it); every message arrives
// exactly once, in order, with one receipt each; then bob (relay-only) answers, and
// alice talks to carol (direct), including a 800 KB burst. Prints the paths each side's chat sessions reported.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { startDirectory, makeLogger } from '../../src/directory/server.ts';
import { TEST_SCRYPT } from '../../src/directory/password.ts';
import { DirectoryClient } from '../../src/directory/client.ts';
import { startRelayService } from '../../src/overlay/relay-service.ts';
import { registerAtDirectory } from '../../src/overlay/supernode-registration.ts';
import { startPeer } from '../../src/overlay/peer.ts';
import { ChatService } from '../../src/apps/chat/service.ts';
import { ChatStore } from '../../src/apps/chat/store.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tincan-chat-peer-'));
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) { try { await f(); } catch { /* keep going */ } }
  rmSync(tmp, { recursive: true, force: true });
});

const until = async (cond: () => boolean, what: string, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

describe('chat over real Peers', () => {
  it('survives the session being closed mid-conversation; relayed answer; direct to carol', async () => {
    const dir = await startDirectory({
      databaseUrl: join(tmp, 'directory.sqlite'), host: '127.0.0.1', port: 0, stunPort: 0,
      logger: makeLogger(new Writable({ write(_c, _e, cb) { cb(); } }), 'warn'), config: { scrypt: TEST_SCRYPT, logRequests: false, punchDelayMs: 100 },
    });
    cleanup.push(() => dir.close());
    const relay = await startRelayService({ address: '127.0.0.1', port: 0, directoryPublicKey: dir.publicKey, allowLoopback: true });
    cleanup.push(() => relay.close());
    const clients: Record<string, DirectoryClient> = {};
    for (const name of ['operator', 'alice', 'bob', 'carol']) {
      const c = new DirectoryClient(dir.url);
      await c.register(name, `${name} long password`);
      await c.login(name, `${name} long password`);
      clients[name] = c;
    }
    const reg = await registerAtDirectory({ directory: clients.operator, address: '127.0.0.1', port: relay.local.port, capacity: 10 });
    cleanup.push(() => reg.close());
    await clients.alice.requestContact('bob');
    await clients.bob.acceptContact('alice');
    await clients.alice.requestContact('carol');
    await clients.carol.acceptContact('alice');

    const start = async (name: string, forceRelay: boolean) => {
      const peer = await startPeer({ directoryUrl: dir.url, directory: clients[name], stateDir: join(tmp, name), bindAddress: '127.0.0.1', stun: { address: '127.0.0.1', port: dir.stunPort! }, forceRelay });
      cleanup.push(() => peer.close());
      const store = ChatStore.open(join(tmp, `${name}.sqlite`));
      const svc = new ChatService({ peer, store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 200 });
      cleanup.push(() => { svc.close(); store.close(); });
      svc.start();
      const got: string[] = [];
      svc.on('message', (m) => got.push(m.text));
      const receipts: number[] = [];
      svc.on('receipt', (r) => receipts.push(r.seq));
      const paths: string[] = [];
      svc.on('session', (cs) => { paths.push(`${cs.path.kind}`); cs.on('path', (p) => paths.push(p.kind)); });
      return { peer, svc, got, receipts, paths };
    };
    const alice = await start('alice', false);
    const bob = await start('bob', true);
    const carol = await start('carol', false);

    const sent: string[] = [];
    for (let i = 1; i <= 30; i++) {
      sent.push(`message ${i}`);
      alice.svc.send('bob', `message ${i}`);
      if (i === 10 || i === 20) {
        await until(() => bob.got.length >= i - 3, `bob to get ~${i} messages`);
        for (const s of alice.peer.sessions()) s.close('test: path gone');
      }
    }
    await until(() => alice.receipts.length === 30, 'all 30 receipts');
    expect(bob.got).toEqual(sent);
    expect(alice.receipts).toEqual(sent.map((_, i) => i + 1));

    bob.svc.send('alice', 'got them all');
    await until(() => alice.got.length === 1, 'the answer');
    expect(alice.got).toEqual(['got them all']);
    const path = bob.peer.sessions().find((s) => s.username === 'alice')?.path;
    expect(path?.kind).toBe('relayed');
    // alice <-> carol may connect directly: a conversation while the path is chosen (and switched)
    const toCarol = Array.from({ length: 20 }, (_, i) => `to carol ${i + 1}`);
    for (const t of toCarol) { alice.svc.send('carol', t); await new Promise((r) => setTimeout(r, 10)); }
    await until(() => carol.got.length === 20, 'carol to get 20');
    expect(carol.got).toEqual(toCarol);
    // a burst larger than the stream's buffers: written as the stream drains, all in order
    const big = Array.from({ length: 200 }, (_, i) => `${i}:`.padEnd(4000, 'x'));
    for (const t of big) alice.svc.send('carol', t);
    await until(() => carol.got.length === 220, 'carol to get the burst');
    expect(carol.got.slice(20)).toEqual(big);
    console.log(`paths seen by carol's chat sessions: ${carol.paths.join(' -> ')}`);
    console.log(`paths seen by alice's chat sessions: ${alice.paths.join(' -> ')}; by bob's: ${bob.paths.join(' -> ')}`);
  });
});
