// Push channel limits (src/directory/push/hub.ts): a device keeps at most 4 channels and a user
// 32 — beyond that the OLDEST is closed (4008), so a make-before-break replacement (the newest)
// always wins — and an instance holding `total` channels refuses more (503). Unit tests on the
// hub with stand-in sockets, then the real directory over loopback: a device's 5th channel closes
// its 1st, and the device stays online (another channel of it is open).
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import type { WebSocket } from 'ws';
import { PushHub, type PushConnection } from '../../src/directory/push/hub.ts';
import { startTestDirectory, call, user, device, befriend, type TestDirectory } from './harness.ts';
import { DirectoryClient, type PushChannel } from '../../src/directory/client.ts';

/** A stand-in for a ws socket: OPEN until closed; records the close code. */
function fakeSocket(): WebSocket & { code?: number } {
  const s = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3, readyState: 1, bufferedAmount: 0, code: undefined as number | undefined,
    close(code: number) { s.readyState = 2; s.code = code; }, terminate() { s.readyState = 3; }, send() {} };
  return s as unknown as WebSocket & { code?: number };
}

describe('PushHub limits', () => {
  it('a device\'s 5th channel closes its oldest (4008); other devices are not touched', () => {
    const hub = new PushHub();
    const conns: PushConnection[] = [];
    for (let i = 0; i < 5; i++) { const c = { userId: 'u1', deviceId: 'd1', socket: fakeSocket() }; conns.push(c); hub.add(c); }
    const other = { userId: 'u1', deviceId: 'd2', socket: fakeSocket() };
    hub.add(other);
    expect(conns.map((c) => (c.socket as { code?: number }).code)).toEqual([4008, undefined, undefined, undefined, undefined]);
    expect((other.socket as { code?: number }).code).toBeUndefined();
  });

  it('a user\'s 33rd channel closes the user\'s oldest', () => {
    const hub = new PushHub();
    const conns: PushConnection[] = [];
    for (let i = 0; i < 33; i++) { const c = { userId: 'u1', deviceId: `d${Math.floor(i / 4)}`, socket: fakeSocket() }; conns.push(c); hub.add(c); }
    expect(conns.filter((c) => (c.socket as { code?: number }).code === 4008)).toEqual([conns[0]]);
    const stranger = { userId: 'u2', deviceId: 'x', socket: fakeSocket() };
    hub.add(stranger);
    expect((stranger.socket as { code?: number }).code).toBeUndefined();
  });

  it('full at limits.total channels', () => {
    const hub = new PushHub(undefined, { limits: { total: 2 } });
    hub.add({ userId: 'a', deviceId: undefined, socket: fakeSocket() });
    expect(hub.full).toBe(false);
    hub.add({ userId: 'b', deviceId: undefined, socket: fakeSocket() });
    expect(hub.full).toBe(true);
  });
});

describe('push channel limits on the real directory (sqlite, loopback)', () => {
  let t: TestDirectory;
  const channels: PushChannel[] = [];
  beforeAll(async () => { t = await startTestDirectory('sqlite'); });
  afterAll(async () => { for (const c of channels) c.terminate(); await t?.stop(); });

  it('a device\'s 5th channel closes its 1st with 4008; the device stays online', { timeout: 20_000 }, async () => {
    const alice = { name: 'alice', token: await user(t.dir.url, 'alice') };
    const bob = { name: 'bob', token: await user(t.dir.url, 'bob') };
    await befriend(t.dir.url, alice, bob);
    const dev = await device(t.dir.url, bob.token, 'bob-laptop');
    const closes: number[][] = [];
    for (let i = 0; i < 5; i++) {
      const mine: number[] = [];
      closes.push(mine);
      channels.push(await new DirectoryClient(t.dir.url, bob.token).openPush({ deviceId: dev, onMessage: () => {}, onClose: (code) => mine.push(code) }));
      if (i === 0) expect((await call(t.dir.url, 'PUT', '/v1/presence', { token: bob.token, body: { deviceId: dev, status: 'online', candidates: [], nat: null, supernode: null } })).status).toBe(204);
    }
    for (let i = 0; i < 100 && closes[0].length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(closes.map((c) => c[0])).toEqual([4008, undefined, undefined, undefined, undefined]);
    await new Promise((r) => setTimeout(r, 200));
    const seen = await call(t.dir.url, 'GET', '/v1/presence/bob', { token: alice.token });
    expect(seen.body.presence.map((p: { status: string }) => p.status), seen.text).toEqual(['online']);
  });
});
