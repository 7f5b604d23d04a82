// Scale-out: two directory instances over ONE PostgreSQL schema with presence
// fan-out through Redis pub/sub. A presence change made through instance A
// reaches a WebSocket subscriber connected to instance B (and B's cached
// presence answer is invalidated before the push arrives); state written via
// A is readable via B. Needs TINCAN_TEST_PG_URL and a reachable TINCAN_TEST_REDIS_URL.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { PG_URL, REDIS_URL, freshDb, type TestDb } from './engines.ts';
import { startTestDirectory, Inbox, type TestDirectory } from './harness.ts';
import { DirectoryClient, type PushChannel } from '../../src/directory/client.ts';

async function redisReachable(url: string): Promise<string | undefined> {
  if (!url) return 'TINCAN_TEST_REDIS_URL is not set (no Redis to test against)';
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try { await r.connect(); await r.ping(); return undefined; } catch (e) { return `Redis at ${url} unreachable: ${(e as Error).message}`; } finally { r.disconnect(); }
}

const skip = !PG_URL ? 'TINCAN_TEST_PG_URL is not set (no PostgreSQL to test against)' : await redisReachable(REDIS_URL);
if (skip) console.log(`skipped: directory scale-out over PostgreSQL + Redis: ${skip}`);

describe('two directory instances over one PostgreSQL, fan-out via Redis', () => {
  let db: TestDb; let a: TestDirectory; let b: TestDirectory;
  let ch: PushChannel | undefined;
  beforeAll(async () => {
    if (skip) return;
    db = freshDb('postgres');
    const redisPrefix = `tincan-test-${randomBytes(4).toString('hex')}:`;
    a = await startTestDirectory('postgres', { redisUrl: REDIS_URL, redisPrefix }, { ...db, cleanup: async () => {} });
    b = await startTestDirectory('postgres', { redisUrl: REDIS_URL, redisPrefix }, db);
  });
  afterAll(async () => { if (skip) return; ch?.close(); await a.stop(); await b.stop(); });

  it.skipIf(!!skip)('presence set through A reaches a push subscriber on B within 200 ms', async () => {
    const viaA = new DirectoryClient(a.dir.url), viaB = new DirectoryClient(b.dir.url);
    await viaA.register('xena', 'xena-password'); await viaA.login('xena', 'xena-password');
    await viaB.register('yuri', 'yuri-password'); await viaB.login('yuri', 'yuri-password');
    // state written through one instance is visible through the other
    await viaA.requestContact('yuri');
    expect(await viaB.contacts()).toEqual([expect.objectContaining({ username: 'xena', state: 'incoming' })]);
    await viaB.acceptContact('xena');
    const dev = await viaA.registerDevice({ name: 'x1', x25519: new Uint8Array(32).fill(7) });
    const inbox = new Inbox();
    ch = await viaB.openPush({ onMessage: inbox.push });
    // The spec's 200 ms bound is checked on the median of 3 changes (one scheduler
    // stall on a loaded shared machine must not fail it); every push has to arrive.
    const latencies: number[] = [];
    expect(await viaB.presence()).toEqual([]); // B caches yuri's answer (no presence yet)
    for (const [i, status] of (['away', 'online', 'away'] as const).entries()) {
      const port = 9999 - i;
      const sent = performance.now();
      await viaA.setPresence({ deviceId: dev.id, status, candidates: [{ kind: 'srflx', address: '198.51.100.77', port }], nat: null, supernode: null });
      const got = await inbox.waitFor((m) => m.type === 'presence' && m.presence.candidates[0]?.port === port);
      latencies.push(got.at - sent);
      expect(got.m).toMatchObject({ type: 'presence', presence: { username: 'xena', deviceId: dev.id, status, candidates: [{ port }] } });
      // the cache invalidation went through Redis before the push: B's cached answer is gone too
      expect(await viaB.presence()).toEqual([expect.objectContaining({ username: 'xena', status, candidates: [expect.objectContaining({ port })] })]);
    }
    expect([...latencies].sort((x, y) => x - y)[1], `push latencies ms: ${latencies.map((x) => x.toFixed(1)).join(', ')}`).toBeLessThan(200);
    // and exactly once each (B delivers what Redis hands it; A does not also deliver to B's socket)
    await new Promise((r) => setTimeout(r, 100));
    expect(inbox.messages.filter((x) => x.m.type === 'presence')).toHaveLength(3);
  });

  it.skipIf(!!skip)('login failures count across instances (shared in Redis): 5 failures split over A and B -> 429 on both', async () => {
    const viaA = new DirectoryClient(a.dir.url), viaB = new DirectoryClient(b.dir.url);
    await viaA.register('walt', 'walt-password');
    for (let i = 0; i < 5; i++) await expect((i % 2 ? viaB : viaA).login('walt', 'wrong-' + i)).rejects.toMatchObject({ status: 401 });
    await expect(viaB.login('walt', 'walt-password')).rejects.toMatchObject({ status: 429 });
    await expect(viaA.login('walt', 'walt-password')).rejects.toMatchObject({ status: 429 });
  });

  it.skipIf(!!skip)('a token revoked through A stops working through B at once (auth caches evicted via Redis)', async () => {
    const viaA = new DirectoryClient(a.dir.url);
    await viaA.register('zoe', 'zoe-password'); await viaA.login('zoe', 'zoe-password');
    const viaB = new DirectoryClient(b.dir.url, viaA.token);
    expect((await viaB.me()).username).toBe('zoe'); // now cached on B
    await viaA.logout();
    await new Promise((r) => setTimeout(r, 100));
    await expect(viaB.me()).rejects.toMatchObject({ status: 401 });
  });
});
