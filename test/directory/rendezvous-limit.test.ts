// POST /v1/rendezvous is rate-limited per (caller, callee) pair of users on an instance: a burst
// of 6, then 1 per second (429 with Retry-After): each rendezvous signs a ticket and makes the
// callee's peer bind at a relay and check the caller's candidates, so a contact must not be able
// to make another user's peer send traffic at will. Another pair is not affected. SQLite, loopback.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { startTestDirectory, call, user, device, befriend, type TestDirectory } from './harness.ts';

describe('rendezvous rate limit per pair of users (sqlite, loopback)', () => {
  let t: TestDirectory;
  let clock = Date.now(); // frozen: the buckets refill only when the test moves it
  beforeAll(async () => { t = await startTestDirectory('sqlite', { now: () => clock }); });
  afterAll(async () => { await t?.stop(); });

  it('the 7th call at once is refused with 429 and Retry-After; a second later one more passes; another pair is not affected', async () => {
    const names = ['mallory', 'victor', 'wendy'];
    const u: Record<string, { name: string; token: string; dev: string }> = {};
    for (const n of names) { const token = await user(t.dir.url, n); u[n] = { name: n, token, dev: await device(t.dir.url, token, `${n}-laptop`) }; }
    await befriend(t.dir.url, u.mallory, u.victor);
    await befriend(t.dir.url, u.mallory, u.wendy);
    for (const n of ['victor', 'wendy']) {
      expect((await call(t.dir.url, 'PUT', '/v1/presence', { token: u[n].token, body: { deviceId: u[n].dev, status: 'online', candidates: [], nat: null, supernode: null } })).status).toBe(204);
    }
    const rv = (to: string) => call(t.dir.url, 'POST', '/v1/rendezvous', { token: u.mallory.token, body: { deviceId: u.mallory.dev, username: to } });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await rv('victor')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
    const refused = await rv('victor');
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe('too_many_requests');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await rv('wendy')).status).toBe(200);
    clock += 1_000;
    expect((await rv('victor')).status).toBe(200);
    expect((await rv('victor')).status).toBe(429);
  });
});
