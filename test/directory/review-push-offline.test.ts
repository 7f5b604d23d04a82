// Review: a device whose push channel moved to ANOTHER directory instance (or --workers
// worker: node:cluster hands each new connection to the next worker) is marked offline when
// its old channel closes. src/directory/push/socket.ts marks the device offline when
// `ctx.hub.remove(conn)` finds no other channel of that device — in THIS instance's hub only.
// The peer replaces its channel make-before-break (src/overlay/peer-push.ts): new one open,
// then the old one terminated (or, after a network change, found dead by the directory's
// ping up to 60 s later). On one instance the new channel is in the same hub and nothing
// happens; on two the old instance writes status 'offline' (candidates []) into the shared
// store and pushes it: the device, connected and reachable, reads as offline, and a
// contact's POST /v1/rendezvous answers 409 'no online device' until its next republish.
// Two in-process directories over ONE SQLite file stand in for two workers (which share the
// file the same way); LocalFanout each (the bug is in the store write, not the fan-out).
import { describe, expect, afterAll, beforeAll } from 'vitest';
import { startTestDirectory, call, user, device, befriend, Inbox, type TestDirectory } from './harness.ts';
import { DirectoryClient, type PushChannel } from '../../src/directory/client.ts';
import { reviewTodo } from '../overlay/review-todo.ts';

describe('review: push channel replaced across directory instances', () => {
  let a: TestDirectory; let b: TestDirectory;
  const channels: PushChannel[] = [];
  beforeAll(async () => {
    a = await startTestDirectory('sqlite');
    b = await startTestDirectory('sqlite', {}, { ...a.db, cleanup: async () => {} });
  });
  afterAll(async () => { for (const c of channels) c.close(); await b?.stop(); await a?.stop(); });

  // Open bug: notes/requests/overlay-push.md ("offline after a make-before-break across instances").
  reviewTodo('the old channel closing on instance A does not mark the device offline while its new channel is open on B', { timeout: 20_000 }, async () => {
    const alice = { name: 'alice', token: await user(a.dir.url, 'alice') };
    const bob = { name: 'bob', token: await user(a.dir.url, 'bob') };
    await befriend(a.dir.url, alice, bob);
    const bobDev = await device(a.dir.url, bob.token, 'bob-laptop');
    const aliceInbox = new Inbox();
    channels.push(await new DirectoryClient(a.dir.url, alice.token).openPush({ onMessage: aliceInbox.push }));
    const old = await new DirectoryClient(a.dir.url, bob.token).openPush({ deviceId: bobDev, onMessage: () => {} });
    channels.push(old);
    const presence = { deviceId: bobDev, status: 'online', candidates: [{ kind: 'srflx', address: '198.51.100.7', port: 5000 }], nat: null, supernode: null };
    expect((await call(a.dir.url, 'PUT', '/v1/presence', { token: bob.token, body: presence })).status).toBe(204);
    // make-before-break: the new channel (on the other instance), then the old one dropped
    channels.push(await new DirectoryClient(b.dir.url, bob.token).openPush({ deviceId: bobDev, onMessage: () => {} }));
    old.terminate();
    await old.closed;
    // A notices the close (its hub keeps only alice's channel), then has time to act on it
    for (let i = 0; i < 200 && a.dir.context.hub.connections > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(a.dir.context.hub.connections).toBe(1);
    await aliceInbox.waitFor((m) => m.type === 'presence' && m.presence.status === 'offline', 1_000).catch(() => undefined);
    const seen = await call(a.dir.url, 'GET', '/v1/presence/bob', { token: alice.token });
    expect(seen.body.presence.map((p: { status: string }) => p.status), seen.text).toEqual(['online']);
    const rv = await call(a.dir.url, 'POST', '/v1/rendezvous', { token: alice.token, body: { deviceId: await device(a.dir.url, alice.token, 'alice-laptop'), username: 'bob' } });
    expect(rv.status, rv.text).toBe(200);
    expect(aliceInbox.messages.filter((x) => x.m.type === 'presence' && x.m.presence.status === 'offline')).toEqual([]);
  });
});
