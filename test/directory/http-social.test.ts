// HTTP API, the social graph: devices and keys, contacts, presence visibility,
// authorization (nobody reads or changes another user's devices, contacts or
// presence), supernode registry with expiry, relay tickets verified offline
// with the published key, rendezvous — on SQLite and PostgreSQL.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { engines, announceSkip } from './engines.ts';
import { startTestDirectory, call, user, device, befriend, KEY_A, type TestDirectory } from './harness.ts';
import { verifyTicket, ticketAllows } from '../../src/wire/ticket.ts';

describe.each(engines)('directory social graph on $engine', ({ engine, skip }) => {
  announceSkip(`directory social graph on ${engine}`, skip);
  let t: TestDirectory; let base: string;
  const clock = { offset: 0 };
  const A = { name: 'ann', token: '' }, B = { name: 'ben', token: '' }, C = { name: 'cid', token: '' };
  let devA = '', devB = '', devC = '';
  beforeAll(async () => {
    if (skip) return;
    t = await startTestDirectory(engine, { now: () => Date.now() + clock.offset });
    base = t.dir.url;
    for (const u of [A, B, C]) u.token = await user(base, u.name);
    devA = await device(base, A.token); devB = await device(base, B.token); devC = await device(base, C.token);
    await befriend(base, A, B);
  });
  afterAll(async () => { if (!skip) await t.stop(); });

  const presence = (deviceId: string, status = 'online') => ({
    deviceId, status, candidates: [{ kind: 'host', address: '192.0.2.10', port: 40000 }, { kind: 'srflx', address: '203.0.113.7', port: 51000 }],
    nat: { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' }, supernode: { address: '198.51.100.1', port: 3478 },
  });

  it.skipIf(!!skip)('devices: register, list own, mutual contacts fetch keys, strangers get 403', async () => {
    const own = await call(base, 'GET', '/v1/devices', { token: A.token });
    expect(own.status).toBe(200);
    expect(own.body.devices).toEqual([expect.objectContaining({ id: devA, name: 'laptop', x25519: KEY_A })]);
    const byContact = await call(base, 'GET', `/v1/users/${A.name}/devices`, { token: B.token });
    expect(byContact.status).toBe(200);
    expect(byContact.body.devices.map((d: { id: string }) => d.id)).toEqual([devA]);
    expect((await call(base, 'GET', `/v1/users/${A.name}/devices`, { token: C.token })).status).toBe(403);
    expect((await call(base, 'GET', '/v1/users/nobody/devices', { token: C.token })).status).toBe(404);
    // nobody deletes another user's device
    expect((await call(base, 'DELETE', `/v1/devices/${devA}`, { token: C.token })).status).toBe(404);
    expect((await call(base, 'GET', '/v1/devices', { token: A.token })).body.devices).toHaveLength(1);
    const extra = await device(base, C.token, 'spare');
    expect((await call(base, 'DELETE', `/v1/devices/${extra}`, { token: C.token })).status).toBe(204);
  });

  it.skipIf(!!skip)('contacts: request/accept/decline/block/remove with status codes', async () => {
    const D = { name: 'dot', token: await user(base, 'dot') };
    expect((await call(base, 'POST', `/v1/contacts/${D.name}/request`, { token: C.token })).body).toEqual({ username: 'dot', state: 'outgoing' });
    expect((await call(base, 'GET', '/v1/contacts', { token: D.token })).body.contacts).toEqual([expect.objectContaining({ username: 'cid', state: 'incoming' })]);
    expect((await call(base, 'POST', `/v1/contacts/${C.name}/decline`, { token: D.token })).status).toBe(200);
    expect((await call(base, 'GET', '/v1/contacts', { token: C.token })).body.contacts).toEqual([]);
    expect((await call(base, 'POST', `/v1/contacts/${C.name}/accept`, { token: D.token })).status).toBe(409);
    expect((await call(base, 'POST', `/v1/contacts/${D.name}/request`, { token: D.token })).status).toBe(400);
    expect((await call(base, 'POST', '/v1/contacts/nobody/request', { token: D.token })).status).toBe(404);
    expect((await call(base, 'POST', `/v1/contacts/${C.name}/block`, { token: D.token })).body.state).toBe('blocked');
    expect((await call(base, 'POST', `/v1/contacts/${D.name}/request`, { token: C.token })).body.state).toBe('outgoing');
    expect((await call(base, 'GET', '/v1/contacts', { token: D.token })).body.contacts).toEqual([expect.objectContaining({ username: 'cid', state: 'blocked' })]);
    expect((await call(base, 'DELETE', `/v1/contacts/${C.name}`, { token: D.token })).status).toBe(204);
    expect((await call(base, 'GET', '/v1/contacts', { token: D.token })).body.contacts).toEqual([]);
  });

  it.skipIf(!!skip)('presence: set by own device only, visible to mutual contacts only, stale reads offline', async () => {
    expect((await call(base, 'PUT', '/v1/presence', { token: A.token, body: presence(devA) })).status).toBe(204);
    // another user's device: 403; unknown device: 404; invalid address: 400 naming the field
    expect((await call(base, 'PUT', '/v1/presence', { token: C.token, body: presence(devA, 'offline') })).status).toBe(403);
    expect((await call(base, 'PUT', '/v1/presence', { token: C.token, body: presence('0'.repeat(32)) })).status).toBe(404);
    const bad = await call(base, 'PUT', '/v1/presence', { token: A.token, body: { ...presence(devA), candidates: [{ kind: 'host', address: '1.2.3', port: 1 }] } });
    expect(bad.status).toBe(400); expect(bad.body.message).toContain('candidates/0/address');
    const badKind = await call(base, 'PUT', '/v1/presence', { token: A.token, body: { ...presence(devA), status: 'busy' } });
    expect(badKind.status).toBe(400); expect(badKind.body.message).toContain('status');
    const seenByB = await call(base, 'GET', '/v1/presence', { token: B.token });
    expect(seenByB.status).toBe(200);
    expect(seenByB.body.presence).toEqual([{ username: 'ann', updatedAt: expect.any(Number), ...presence(devA) }]);
    expect((await call(base, 'GET', `/v1/presence/${A.name}`, { token: B.token })).body.presence).toHaveLength(1);
    expect((await call(base, 'GET', `/v1/presence/${A.name}`, { token: A.token })).status).toBe(200);
    expect((await call(base, 'GET', '/v1/presence', { token: C.token })).body.presence).toEqual([]);
    expect((await call(base, 'GET', `/v1/presence/${A.name}`, { token: C.token })).status).toBe(403);
    clock.offset = 10 * 60_000;
    try {
      expect((await call(base, 'GET', '/v1/presence', { token: B.token })).body.presence[0].status).toBe('offline');
    } finally { clock.offset = 0; }
  });

  it.skipIf(!!skip)('supernodes: register, heartbeat by owner only, nearest then least loaded first, expire without heartbeat', async () => {
    const reg = async (tok: string, address: string, capacity: number, load: number) => {
      const r = await call(base, 'POST', '/v1/supernodes', { token: tok, body: { address, port: 4000, capacity, load } });
      expect(r.status).toBe(201);
      return r.body.id as string;
    };
    const s1 = await reg(A.token, '203.0.113.1', 100, 80);
    const s2 = await reg(B.token, '2001:db8::1', 100, 10);
    expect((await call(base, 'POST', '/v1/supernodes', { token: A.token, body: { address: '999.1.1.1', port: 4000, capacity: 1 } })).status).toBe(400);
    expect((await call(base, 'POST', '/v1/supernodes', { token: A.token, body: { address: '203.0.113.9', port: 0, capacity: 1 } })).status).toBe(400);
    const list = await call(base, 'GET', '/v1/supernodes', { token: C.token });
    expect(list.body.supernodes.map((s: { id: string }) => s.id)).toEqual([s2, s1]);
    expect((await call(base, 'GET', '/v1/supernodes?limit=1', { token: C.token })).body.supernodes).toHaveLength(1);
    // nearest first: the longest address prefix shared with `near` (whole octets) wins over load
    const s3 = await reg(C.token, '198.51.100.20', 100, 90);
    const near = async (q: string) => (await call(base, 'GET', `/v1/supernodes?${q}`, { token: C.token })).body as { near: string; supernodes: { id: string; prefixBits: number }[] };
    const v4 = await near('near=198.51.100.77');
    expect(v4.near).toBe('198.51.100.77');
    expect(v4.supernodes.map((s) => [s.id, s.prefixBits])).toEqual([[s3, 24], [s2, 0], [s1, 0]]);
    expect((await near('near=2001:db8::99')).supernodes.map((s) => [s.id, s.prefixBits])).toEqual([[s2, 120], [s1, 0], [s3, 0]]);
    expect((await near('near=203.7.7.7&limit=1')).supernodes.map((s) => [s.id, s.prefixBits])).toEqual([[s1, 8]]);
    // default: the caller's own address (127.0.0.1 here: nothing near, least loaded first)
    expect((await near('')).supernodes.map((s) => s.id)).toEqual([s2, s1, s3]);
    expect((await call(base, 'GET', '/v1/supernodes?near=not-an-ip', { token: C.token })).status).toBe(400);
    expect((await call(base, 'GET', '/v1/supernodes?near=1.2.3.999', { token: C.token })).status).toBe(400);
    expect((await call(base, 'POST', `/v1/supernodes/${s1}/heartbeat`, { token: B.token, body: { load: 0 } })).status).toBe(403);
    clock.offset = 20_000;
    expect((await call(base, 'POST', `/v1/supernodes/${s1}/heartbeat`, { token: A.token, body: { load: 0 } })).status).toBe(204);
    clock.offset = 40_000; // s2 missed its heartbeats (ttl 30 s); s1 beat at +20 s
    try {
      expect((await call(base, 'GET', '/v1/supernodes', { token: C.token })).body.supernodes.map((s: { id: string }) => s.id)).toEqual([s1]);
      expect((await call(base, 'POST', `/v1/supernodes/${s2}/heartbeat`, { token: B.token, body: { load: 0 } })).status).toBe(404);
    } finally { clock.offset = 0; }
  });

  it.skipIf(!!skip)('relay tickets: signed by the published key, name both devices, only for mutual contacts', async () => {
    const key = await call(base, 'GET', '/v1/directory-key');
    expect(key.status).toBe(200); expect(key.headers.get('etag')).toBeTruthy();
    const pk = Buffer.from(key.body.publicKey, 'base64url');
    const r = await call(base, 'POST', '/v1/tickets', { token: A.token, body: { deviceId: devA, peerDeviceId: devB } });
    expect(r.status).toBe(201);
    const bytes = Buffer.from(r.body.ticket, 'base64url');
    expect(bytes.length).toBe(113);
    const ticket = verifyTicket(bytes, pk, Date.now());
    expect(ticketAllows(ticket, Buffer.from(devB, 'hex'), Buffer.from(devA, 'hex'))).toBe(true);
    expect(ticket.expiresAt - ticket.issuedAt).toBe(5 * 60_000);
    expect((await call(base, 'POST', '/v1/tickets', { token: A.token, body: { deviceId: devA, peerDeviceId: devC } })).status).toBe(403);
    expect((await call(base, 'POST', '/v1/tickets', { token: C.token, body: { deviceId: devA, peerDeviceId: devB } })).status).toBe(403);
    expect((await call(base, 'POST', '/v1/tickets', { token: A.token, body: { deviceId: devA, peerDeviceId: 'f'.repeat(32) } })).status).toBe(404);
  });

  it.skipIf(!!skip)('rendezvous: needs a mutual contact with an online device; answers candidates, keys, start time, ticket', async () => {
    expect((await call(base, 'POST', '/v1/rendezvous', { token: C.token, body: { deviceId: devC, username: A.name } })).status).toBe(403);
    expect((await call(base, 'POST', '/v1/rendezvous', { token: C.token, body: { deviceId: devA, username: A.name } })).status).toBe(403);
    expect((await call(base, 'POST', '/v1/rendezvous', { token: A.token, body: { deviceId: devA, username: B.name } })).status).toBe(409);
    expect((await call(base, 'PUT', '/v1/presence', { token: B.token, body: presence(devB) })).status).toBe(204);
    const r = await call(base, 'POST', '/v1/rendezvous', { token: A.token, body: { deviceId: devA, username: B.name } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ type: 'rendezvous', deviceId: devA, delayMs: 300, peer: { username: 'ben', deviceId: devB, x25519: KEY_A, candidates: presence(devB).candidates } });
    expect(r.body.startAt - r.body.serverTime).toBe(300);
    expect(Buffer.from(r.body.ticket, 'base64url').length).toBe(113);
  });
});
