// Push channel (WebSocket) through the typed client: presence changes reach
// online mutual contacts within 200 ms (the spec's latency requirement, on
// loopback) and nobody else; contact requests and rendezvous are pushed to
// both sides; closing a device's channel marks it offline; upgrade refusals —
// on SQLite and PostgreSQL.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { performance } from 'node:perf_hooks';
import { engines, announceSkip } from './engines.ts';
import { startTestDirectory, Inbox, type TestDirectory } from './harness.ts';
import { DirectoryClient, DirectoryError, type PushChannel } from '../../src/directory/client.ts';

const key = (n: number) => new Uint8Array(32).fill(n);

describe.each(engines)('directory push channel on $engine', ({ engine, skip }) => {
  announceSkip(`directory push channel on ${engine}`, skip);
  let t: TestDirectory;
  const clients: Record<string, DirectoryClient> = {};
  const devices: Record<string, string> = {};
  const channels: PushChannel[] = [];
  beforeAll(async () => {
    if (skip) return;
    t = await startTestDirectory(engine);
    for (const n of ['amy', 'bea', 'cal']) {
      const c = new DirectoryClient(t.dir.url);
      await c.register(n, `${n}-password`);
      await c.login(n, `${n}-password`);
      clients[n] = c;
      devices[n] = (await c.registerDevice({ name: `${n}-laptop`, x25519: key(1), ed25519: key(2) })).id;
    }
    await clients.amy.requestContact('bea');
    await clients.bea.acceptContact('amy');
  });
  afterAll(async () => { if (skip) return; for (const c of channels) c.close(); await t.stop(); });

  const open = async (n: string, withDevice = true) => {
    const inbox = new Inbox();
    const ch = await clients[n].openPush({ ...(withDevice ? { deviceId: devices[n] } : {}), onMessage: inbox.push });
    channels.push(ch);
    return { inbox, ch };
  };

  it.skipIf(!!skip)('presence change reaches an online mutual contact within 200 ms, and no stranger', async () => {
    const bea = await open('bea');
    const cal = await open('cal');
    expect(bea.inbox.messages[0].m).toMatchObject({ type: 'hello', username: 'bea', deviceId: devices.bea });
    // The spec's bound is checked on the median of 5 changes (one scheduler stall on
    // a loaded shared machine must not fail it); every push still has to arrive.
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const port = 40000 + i;
      const sent = performance.now();
      await clients.amy.setPresence({ deviceId: devices.amy, status: 'online', candidates: [{ kind: 'srflx', address: '203.0.113.9', port }], nat: { mapping: 'endpoint-independent', filtering: 'address-dependent' }, supernode: null });
      const got = await bea.inbox.waitFor((m) => m.type === 'presence' && m.presence.candidates[0]?.port === port);
      latencies.push(got.at - sent);
      expect(got.m).toMatchObject({ type: 'presence', presence: { username: 'amy', deviceId: devices.amy, status: 'online' } });
    }
    const median = [...latencies].sort((x, y) => x - y)[2];
    expect(median, `push latencies ms: ${latencies.map((x) => x.toFixed(1)).join(', ')}`).toBeLessThan(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(cal.inbox.messages.map((x) => x.m.type)).toEqual(['hello']);
  });

  it.skipIf(!!skip)('contact requests are pushed to the other side', async () => {
    const bea = await open('bea', false);
    await clients.cal.requestContact('bea');
    expect((await bea.inbox.waitFor((m) => m.type === 'contact')).m).toEqual({ type: 'contact', username: 'cal', state: 'incoming' });
    await clients.bea.declineContact('cal');
  });

  it.skipIf(!!skip)('rendezvous goes to both sides with each other\'s candidates and one start time', async () => {
    const amy = await open('amy', false);
    const bea = await open('bea', false);
    await clients.bea.setPresence({ deviceId: devices.bea, status: 'online', candidates: [{ kind: 'host', address: '192.0.2.20', port: 5000 }], nat: null, supernode: null });
    await clients.amy.setPresence({ deviceId: devices.amy, status: 'online', candidates: [{ kind: 'host', address: '192.0.2.10', port: 6000 }], nat: null, supernode: null });
    const r = await clients.amy.rendezvous(devices.amy, 'bea');
    const atBea = (await bea.inbox.waitFor((m) => m.type === 'rendezvous')).m;
    const atAmy = (await amy.inbox.waitFor((m) => m.type === 'rendezvous')).m;
    expect(atAmy).toEqual(r);
    expect(atBea).toMatchObject({ id: r.id, startAt: r.startAt, ticket: r.ticket, deviceId: devices.bea, peer: { username: 'amy', deviceId: devices.amy, candidates: [{ kind: 'host', address: '192.0.2.10', port: 6000 }] } });
    expect(r.peer.candidates).toEqual([{ kind: 'host', address: '192.0.2.20', port: 5000 }]);
  });

  it.skipIf(!!skip)('closing a device\'s last push channel marks it offline for contacts', async () => {
    const bea = await open('bea', false);
    const amy = await open('amy');
    await clients.amy.setPresence({ deviceId: devices.amy, status: 'online', candidates: [], nat: null, supernode: null });
    amy.ch.close();
    await amy.ch.closed;
    const got = await bea.inbox.waitFor((m) => m.type === 'presence' && m.presence.status === 'offline');
    expect(got.m).toMatchObject({ presence: { username: 'amy', deviceId: devices.amy } });
    expect((await clients.bea.presenceOf('amy'))[0].status).toBe('offline');
  });

  it.skipIf(!!skip)('push upgrade refusals: no token 401, another user\'s device 403; client errors are typed', async () => {
    const anon = new DirectoryClient(t.dir.url, 'A'.repeat(43));
    await expect(anon.openPush({ onMessage: () => {} })).rejects.toMatchObject({ status: 401 });
    await expect(clients.cal.openPush({ deviceId: devices.amy, onMessage: () => {} })).rejects.toMatchObject({ status: 403 });
    const e = await clients.cal.presenceOf('amy').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DirectoryError);
    expect(e).toMatchObject({ status: 403, code: 'forbidden' });
    const down = new DirectoryClient('http://127.0.0.1:1');
    await expect(down.register('zed', 'zed-password')).rejects.toMatchObject({ status: 0, code: 'network' });
  });
});
