// A device's push channel replaced make-before-break across two directory instances (or
// --workers workers): the new channel on B, then the old one on A closes. A must not mark the
// device offline (every instance knows which devices have a channel open anywhere: controls
// 'push-open' / 'push-close', src/directory/push/hub.ts); when the device's LAST channel closes
// it is marked offline as before. Two instances over one SQLite file with Redis fan-out (as
// instances share a database and Redis); needs TINCAN_TEST_REDIS_URL, skipped otherwise.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { startTestDirectory, call, user, device, befriend, Inbox, type TestDirectory } from './harness.ts';
import { REDIS_URL } from './engines.ts';
import { DirectoryClient, type PushChannel } from '../../src/directory/client.ts';

async function redisReachable(url: string): Promise<string | undefined> {
  if (!url) return 'TINCAN_TEST_REDIS_URL is not set (no Redis to test against)';
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  r.on('error', () => {});
  try { await r.connect(); await r.ping(); return undefined; } catch (e) { return `Redis at ${url} unreachable: ${(e as Error).message}`; } finally { r.disconnect(); }
}
const skip = await redisReachable(REDIS_URL);
if (skip) console.log(`skipped: push channel replaced across directory instances: ${skip}`);

describe.skipIf(!!skip)('push channel replaced across directory instances (sqlite file shared, Redis fan-out)', () => {
  let a: TestDirectory; let b: TestDirectory;
  const channels: PushChannel[] = [];
  beforeAll(async () => {
    a = await startTestDirectory('sqlite', { redisUrl: REDIS_URL });
    b = await startTestDirectory('sqlite', { redisUrl: REDIS_URL }, { ...a.db, cleanup: async () => {} });
  });
  afterAll(async () => { for (const c of channels) c.close(); await b?.stop(); await a?.stop(); });

  it('the old channel closing on A does not mark the device offline while its new one is open on B; the last one closing does', { timeout: 20_000 }, async () => {
    const alice = { name: 'alice', token: await user(a.dir.url, 'alice') };
    const bob = { name: 'bob', token: await user(a.dir.url, 'bob') };
    await befriend(a.dir.url, alice, bob);
    const bobDev = await device(a.dir.url, bob.token, 'bob-laptop');
    const aliceDev = await device(a.dir.url, alice.token, 'alice-laptop');
    const aliceInbox = new Inbox();
    channels.push(await new DirectoryClient(a.dir.url, alice.token).openPush({ onMessage: aliceInbox.push }));
    const old = await new DirectoryClient(a.dir.url, bob.token).openPush({ deviceId: bobDev, onMessage: () => {} });
    const presence = { deviceId: bobDev, status: 'online', candidates: [{ kind: 'srflx', address: '198.51.100.7', port: 5000 }], nat: null, supernode: null };
    expect((await call(a.dir.url, 'PUT', '/v1/presence', { token: bob.token, body: presence })).status).toBe(204);
    // make-before-break: the new channel (on the other instance), then the old one dropped
    const fresh = await new DirectoryClient(b.dir.url, bob.token).openPush({ deviceId: bobDev, onMessage: () => {} });
    old.terminate();
    await old.closed;
    for (let i = 0; i < 200 && a.dir.context.hub.connections > 1; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 300)); // time for a wrong offline write and its push
    const seen = await call(a.dir.url, 'GET', '/v1/presence/bob', { token: alice.token });
    expect(seen.body.presence.map((p: { status: string }) => p.status), seen.text).toEqual(['online']);
    const rv = await call(a.dir.url, 'POST', '/v1/rendezvous', { token: alice.token, body: { deviceId: aliceDev, username: 'bob' } });
    expect(rv.status, rv.text).toBe(200);
    expect(aliceInbox.messages.filter((x) => x.m.type === 'presence' && x.m.presence.status === 'offline')).toEqual([]);
    // bob's last channel closes (on B): offline, pushed to alice
    fresh.close();
    await fresh.closed;
    const got = await aliceInbox.waitFor((m) => m.type === 'presence' && m.presence.status === 'offline', 3_000);
    expect(got.m).toMatchObject({ presence: { username: 'bob', deviceId: bobDev } });
  });
});
