// POST /v1/devices: a user registers at most config.maxDevicesPerUser devices (default 16);
// beyond it 409 { error: 'device_limit' } with a message naming the limit. Deleting a device
// makes room; other users are not affected; 0 means no limit. (Review: free devices let one
// contact hold relay sessions with a victim from many devices, or one account fill a relay.)
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { startTestDirectory, call, user, device, KEY_A, type TestDirectory } from './harness.ts';

const add = (t: TestDirectory, token: string, name: string) => call(t.dir.url, 'POST', '/v1/devices', { token, body: { name, x25519: KEY_A } });

describe('device limit per user (sqlite, loopback)', () => {
  let t: TestDirectory;
  beforeAll(async () => { t = await startTestDirectory('sqlite'); });
  afterAll(async () => { await t?.stop(); });

  it('the default is 16: the 17th device is refused with 409 device_limit naming the limit; deleting one makes room; another user is not affected', async () => {
    const token = await user(t.dir.url, 'many');
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) ids.push(await device(t.dir.url, token, `d${i}`));
    const r = await add(t, token, 'd16');
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('device_limit');
    expect(r.body.message).toMatch(/at most 16 devices/);
    expect((await call(t.dir.url, 'GET', '/v1/devices', { token })).body.devices).toHaveLength(16);
    expect((await call(t.dir.url, 'DELETE', `/v1/devices/${ids[0]}`, { token })).status).toBe(204);
    expect((await add(t, token, 'd16')).status).toBe(201);
    expect((await add(t, token, 'd17')).status).toBe(409);
    const other = await user(t.dir.url, 'other');
    expect((await add(t, other, 'o0')).status).toBe(201);
  });

  it('is configurable (maxDevicesPerUser; 0: no limit)', async () => {
    const t2 = await startTestDirectory('sqlite', { config: { maxDevicesPerUser: 2 } });
    const t3 = await startTestDirectory('sqlite', { config: { maxDevicesPerUser: 0 } });
    try {
      const a = await user(t2.dir.url, 'two');
      expect([(await add(t2, a, 'x')).status, (await add(t2, a, 'y')).status, (await add(t2, a, 'z')).status]).toEqual([201, 201, 409]);
      expect((await add(t2, a, 'z')).body.message).toMatch(/at most 2 devices/);
      const b = await user(t3.dir.url, 'unlimited');
      for (let i = 0; i < 20; i++) expect((await add(t3, b, `n${i}`)).status).toBe(201);
    } finally {
      await t2.stop();
      await t3.stop();
    }
  });
});
