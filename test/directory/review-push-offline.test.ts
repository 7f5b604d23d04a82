// Review: a device whose push channel is replaced make-before-break must not be marked offline
// by its OLD channel's close when the new one is on another worker. `tincan directory
// --workers 2` (node:cluster hands each new connection to the next worker, SQLite shared):
// src/directory/push/socket.ts marked the device offline when `hub.remove(conn)` found no
// other channel of it in THIS worker's hub, so the peer's replacement (peer-push.ts: new
// channel open, then the old one terminated) usually left the device 'offline' (candidates [])
// in the shared store, and contacts' POST /v1/rendezvous answered 409 until its next republish.
// Failed before ca2b24c (channel ids announced to every instance; offline only when no channel
// of the device is open anywhere). Here bob opens 4 channels (spread over both workers in
// turn) and closes the first 3, oldest first, as a replacement would: he must stay online.
import { describe, it, expect, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryClient, type PushChannel } from '../../src/directory/client.ts';
import { KEY_A } from './harness.ts';
import { startWorkersDirectory } from './workers-process.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
const channels: PushChannel[] = [];
afterAll(() => {
  for (const c of channels) c.terminate();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('review: push channel replaced across --workers', () => {
  it('the old channels closing (on either worker) never mark the device offline while its newest channel is open', { timeout: 90_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tincan-review-workers-')); dirs.push(dataDir);
    const started = await startWorkersDirectory(dataDir, children);
    expect(started.workers).toBe(2);
    const base = `http://127.0.0.1:${started.port}`;
    const alice = new DirectoryClient(base), bob = new DirectoryClient(base);
    await alice.register('alice', 'alice-password'); await alice.login('alice', 'alice-password');
    await bob.register('bob', 'bob-password'); await bob.login('bob', 'bob-password');
    await alice.requestContact('bob'); await bob.acceptContact('alice');
    const bobDev = await bob.registerDevice({ name: 'b1', x25519: Buffer.from(KEY_A, 'base64url') });
    const aliceDev = await alice.registerDevice({ name: 'a1', x25519: Buffer.alloc(32, 9) });
    const mine: PushChannel[] = [];
    for (let i = 0; i < 4; i++) { const ch = await bob.openPush({ deviceId: bobDev.id, onMessage: () => {} }); mine.push(ch); channels.push(ch); }
    await bob.setPresence({ deviceId: bobDev.id, status: 'online', candidates: [{ kind: 'srflx', address: '198.51.100.7', port: 5000 }] });
    for (const ch of mine.slice(0, 3)) { ch.terminate(); await ch.closed; }
    await new Promise((r) => setTimeout(r, 1_000)); // both workers handle the closes (and any offline write)
    const seen = await alice.presenceOf('bob');
    expect(seen.map((p) => p.status), `${JSON.stringify(seen)}\n${started.out().slice(-2000)}`).toEqual(['online']);
    const rv = await alice.rendezvous(aliceDev.id, 'bob');
    expect(rv.peer.deviceId).toBe(bobDev.id);
    started.child.kill('SIGTERM');
  });
});
