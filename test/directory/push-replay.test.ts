// Rendezvous replay on the real directory over loopback (docs/protocol/directory.md, "Push
// channel", "Replay"): a rendezvous pushed to a device's channel that never acknowledged it
// (a TCP connection that died silently: the directory still counts it) is sent again, marked
// `replayed: true` with the remaining delay, right after the hello of the device's next
// channel — once: the bundled client acknowledges it, so a later channel gets nothing; not
// after the replay time (15 s); never to a channel opened without `device`. With Redis, the
// device may come back on ANOTHER instance: that one replays it, and the acknowledgement
// reaches every instance. A callee that has not acknowledged its copy 1 s after the call gets
// a STUN Binding indication at its srflx candidate from the directory's STUN endpoint (the
// "nudge": check your push channel). SQLite here; the Redis case needs TINCAN_TEST_REDIS_URL.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { startTestDirectory, call, user, device, befriend, Inbox, type TestDirectory } from './harness.ts';
import { REDIS_URL } from './engines.ts';
import { createSocket } from 'node:dgram';
import { DirectoryClient, type PushChannel, type PushMessage, type Rendezvous } from '../../src/directory/client.ts';
import { decodeStun, STUN_METHOD_BINDING, verifyStunFingerprint } from '../../src/wire/stun.ts';

/** A push channel of `deviceId` that never acknowledges anything (its TCP path is dead, but the directory does not know yet). */
async function deadChannel(base: string, token: string, deviceId: string): Promise<{ got: PushMessage[]; ws: WebSocket }> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/push?device=${deviceId}`, { headers: { authorization: `Bearer ${token}` } });
  const got: PushMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (d) => { const m = JSON.parse(String(d)) as PushMessage; got.push(m); if (m.type === 'hello') resolve(); });
    ws.on('error', reject);
  });
  return { got, ws };
}

async function replayKept(base: string): Promise<number> {
  const r = await call(base, 'GET', '/metrics');
  const line = r.text.split('\n').find((l) => l.startsWith('tincan_push_replay_kept '));
  return Number(line?.split(' ')[1]);
}

async function until(what: string, f: () => Promise<boolean>, ms = 3_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) { if (await f()) return; await new Promise((r) => setTimeout(r, 20)); }
  throw new Error(`not within ${ms} ms: ${what}`);
}

const settle = () => new Promise((r) => setTimeout(r, 150));

interface World { alice: { token: string; name: string; dev: string }; bob: { token: string; name: string; dev: string } }

async function world(base: string, a: string, b: string, bobSrflxPort = 5000): Promise<World> {
  const alice = { name: a, token: await user(base, a) };
  const bob = { name: b, token: await user(base, b) };
  await befriend(base, alice, bob);
  const w = { alice: { ...alice, dev: await device(base, alice.token, `${a}-laptop`) }, bob: { ...bob, dev: await device(base, bob.token, `${b}-laptop`) } };
  for (const x of [w.alice, w.bob]) {
    const srflx = x === w.bob && bobSrflxPort !== 5000 ? { kind: 'srflx', address: '127.0.0.1', port: bobSrflxPort } : { kind: 'srflx', address: '198.51.100.7', port: 5000 };
    const r = await call(base, 'PUT', '/v1/presence', { token: x.token, body: { deviceId: x.dev, status: 'online', candidates: [srflx], nat: null, supernode: null } });
    expect(r.status).toBe(204);
  }
  return w;
}

describe('directory: rendezvous replay to a reopened push channel (sqlite, loopback)', () => {
  let t: TestDirectory;
  let skew = 0;
  const channels: PushChannel[] = [];
  const sockets: WebSocket[] = [];
  beforeAll(async () => { t = await startTestDirectory('sqlite', { now: () => Date.now() + skew, stunPort: 0 }); });
  afterAll(async () => { for (const c of channels) c.close(); for (const s of sockets) s.terminate(); await t?.stop(); });

  const open = async (base: string, token: string, deviceId?: string) => {
    const inbox = new Inbox();
    const ch = await new DirectoryClient(base, token).openPush({ ...(deviceId ? { deviceId } : {}), onMessage: inbox.push });
    channels.push(ch);
    return inbox;
  };

  it('a rendezvous its dead channel never acknowledged reaches the device\'s next channel, once', async () => {
    const w = await world(t.dir.url, 'alice', 'bob');
    await open(t.dir.url, w.alice.token, w.alice.dev); // alice acknowledges her own copy
    const dead = await deadChannel(t.dir.url, w.bob.token, w.bob.dev);
    sockets.push(dead.ws);
    const r = await new DirectoryClient(t.dir.url, w.alice.token).rendezvous(w.alice.dev, 'bob');
    await until('the dead channel got it', async () => dead.got.some((m) => m.type === 'rendezvous'));
    const original = dead.got.find((m) => m.type === 'rendezvous') as Rendezvous;
    expect(original.replayed).toBeUndefined();
    await until('alice acknowledged her copy; only bob\'s is kept', async () => await replayKept(t.dir.url) === 1);

    const fresh = await open(t.dir.url, w.bob.token, w.bob.dev); // bob's replacement channel
    const got = (await fresh.waitFor((m) => m.type === 'rendezvous')).m as Rendezvous;
    expect(fresh.messages.map((x) => x.m.type)).toEqual(['hello', 'rendezvous']); // right after the hello
    const { delayMs, replayed, ...rest } = got;
    const { delayMs: d0, ...orig } = original;
    expect(rest).toEqual(orig);
    expect(replayed).toBe(true);
    expect(d0).toBe(300);
    expect(delayMs).toBeGreaterThanOrEqual(0);
    expect(delayMs).toBeLessThanOrEqual(300);
    expect(got.id).toBe(r.id);

    await until('bob\'s client acknowledged the replay', async () => await replayKept(t.dir.url) === 0);
    const later = await open(t.dir.url, w.bob.token, w.bob.dev);
    await settle();
    expect(later.messages.map((x) => x.m.type)).toEqual(['hello']);
  });

  it('not after the replay time (15 s), and never to a channel opened without a device', async () => {
    const w = await world(t.dir.url, 'carol', 'dave');
    const dead = await deadChannel(t.dir.url, w.bob.token, w.bob.dev);
    sockets.push(dead.ws);
    await new DirectoryClient(t.dir.url, w.alice.token).rendezvous(w.alice.dev, 'dave');
    await until('the dead channel got it', async () => dead.got.some((m) => m.type === 'rendezvous'));
    const noDevice = await open(t.dir.url, w.bob.token);
    await settle();
    expect(noDevice.messages.map((x) => x.m.type)).toEqual(['hello']);
    skew += 15_000;
    try {
      const fresh = await open(t.dir.url, w.bob.token, w.bob.dev);
      await settle();
      expect(fresh.messages.map((x) => x.m.type)).toEqual(['hello']);
    } finally { skew -= 15_000; }
  });

  it('a callee that does not acknowledge within 1 s is nudged over UDP from the STUN endpoint; one that does is not', async () => {
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const got: { from: string; at: number; ok: boolean }[] = [];
    udp.on('message', (b, rinfo) => {
      let ok = false;
      try { const m = decodeStun(b); ok = m.class === 'indication' && m.method === STUN_METHOD_BINDING && verifyStunFingerprint(b, m); } catch { ok = false; }
      got.push({ from: `${rinfo.address}:${rinfo.port}`, at: Date.now(), ok });
    });
    try {
      const w = await world(t.dir.url, 'ivan', 'judy', udp.address().port);
      const dead = await deadChannel(t.dir.url, w.bob.token, w.bob.dev);
      sockets.push(dead.ws);
      const sentAt = Date.now();
      await new DirectoryClient(t.dir.url, w.alice.token).rendezvous(w.alice.dev, 'judy');
      await until('the nudge', async () => got.length > 0, 4_000);
      expect(got[0]).toMatchObject({ from: `127.0.0.1:${t.dir.stunPort}`, ok: true });
      expect(got[0].at - sentAt).toBeGreaterThanOrEqual(900);
      // a live channel that acknowledges (the bundled client): no nudge
      await open(t.dir.url, w.bob.token, w.bob.dev);
      dead.ws.terminate();
      await settle();
      const before = got.length;
      await new DirectoryClient(t.dir.url, w.alice.token).rendezvous(w.alice.dev, 'judy');
      await new Promise((r) => setTimeout(r, 1_500));
      expect(got.length).toBe(before);
      const m = (await call(t.dir.url, 'GET', '/metrics')).text.split('\n').find((l) => l.startsWith('tincan_stun_nudges_total '));
      expect(Number(m?.split(' ')[1])).toBeGreaterThanOrEqual(1);
    } finally { udp.close(); }
  });

  it('client frames other than a well-formed ack are ignored, and the channel stays open', async () => {
    const w = await world(t.dir.url, 'erin', 'frank');
    const dead = await deadChannel(t.dir.url, w.bob.token, w.bob.dev);
    sockets.push(dead.ws);
    await new DirectoryClient(t.dir.url, w.alice.token).rendezvous(w.alice.dev, 'frank');
    await until('the dead channel got it', async () => dead.got.some((m) => m.type === 'rendezvous'));
    const id = (dead.got.find((m) => m.type === 'rendezvous') as Rendezvous).id;
    for (const f of ['not json', '{"type":"ack"}', `{"type":"ack","id":"${id.toUpperCase()}"}`, '{"type":"ack","id":"' + 'f'.repeat(32) + '"}', JSON.stringify({ type: 'nack', id }), 'x'.repeat(4000)]) dead.ws.send(f);
    dead.ws.send(Buffer.from(JSON.stringify({ type: 'ack', id })), { binary: true });
    await settle();
    expect(dead.ws.readyState).toBe(WebSocket.OPEN);
    const fresh = await open(t.dir.url, w.bob.token, w.bob.dev);
    expect(((await fresh.waitFor((m) => m.type === 'rendezvous')).m as Rendezvous).id).toBe(id);
    // a raw ack from the device's own channel drops it
    const again = await deadChannel(t.dir.url, w.bob.token, w.bob.dev);
    sockets.push(again.ws);
    const replayedAgain = again.got.filter((m) => m.type === 'rendezvous').length; // bob's client may not have acked yet
    expect(replayedAgain).toBeLessThanOrEqual(1);
  });
});

async function redisReachable(url: string): Promise<string | undefined> {
  if (!url) return 'TINCAN_TEST_REDIS_URL is not set (no Redis to test against)';
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  r.on('error', () => {});
  try { await r.connect(); await r.ping(); return undefined; } catch (e) { return `Redis at ${url} unreachable: ${(e as Error).message}`; } finally { r.disconnect(); }
}
const redisSkip = await redisReachable(REDIS_URL);
if (redisSkip) console.log(`skipped: rendezvous replay across directory instances: ${redisSkip}`);

describe.skipIf(!!redisSkip)('directory: rendezvous replay across two instances (sqlite file shared, Redis fan-out)', () => {
  let a: TestDirectory; let b: TestDirectory;
  const channels: PushChannel[] = [];
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    a = await startTestDirectory('sqlite', { redisUrl: REDIS_URL });
    b = await startTestDirectory('sqlite', { redisUrl: REDIS_URL }, { ...a.db, cleanup: async () => {} });
  });
  afterAll(async () => { for (const c of channels) c.close(); for (const s of sockets) s.terminate(); await b?.stop(); await a?.stop(); });

  it('bob\'s dead channel on A, his new one on B: B replays the call; his acknowledgement on B reaches A', async () => {
    const w = await world(a.dir.url, 'gina', 'hank');
    const dead = await deadChannel(a.dir.url, w.bob.token, w.bob.dev);
    sockets.push(dead.ws);
    const aliceInbox = new Inbox();
    channels.push(await new DirectoryClient(a.dir.url, w.alice.token).openPush({ deviceId: w.alice.dev, onMessage: aliceInbox.push }));
    const r = await new DirectoryClient(a.dir.url, w.alice.token).rendezvous(w.alice.dev, 'hank');
    await until('the dead channel got it', async () => dead.got.some((m) => m.type === 'rendezvous'));
    await until('both instances keep bob\'s copy (alice acknowledged hers)', async () => await replayKept(a.dir.url) === 1 && await replayKept(b.dir.url) === 1);
    const inbox = new Inbox();
    channels.push(await new DirectoryClient(b.dir.url, w.bob.token).openPush({ deviceId: w.bob.dev, onMessage: inbox.push }));
    const got = (await inbox.waitFor((m) => m.type === 'rendezvous')).m as Rendezvous;
    expect(got).toMatchObject({ id: r.id, replayed: true });
    await until('the acknowledgement on B dropped it on A too', async () => await replayKept(a.dir.url) === 0 && await replayKept(b.dir.url) === 0);
    const back = new Inbox();
    channels.push(await new DirectoryClient(a.dir.url, w.bob.token).openPush({ deviceId: w.bob.dev, onMessage: back.push }));
    await settle();
    expect(back.messages.map((x) => x.m.type)).toEqual(['hello']);
  });
});
