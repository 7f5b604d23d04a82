// Store: users, tokens, devices, contact state machine, presence visibility,
// supernode ordering and expiry — on SQLite and PostgreSQL.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { openDatabase, type OpenedDatabase } from '../../src/directory/store/open.ts';
import { DirectoryStore } from '../../src/directory/store/store.ts';
import { hashPassword, verifyPassword, TEST_SCRYPT } from '../../src/directory/password.ts';
import { tokenHash, newToken } from '../../src/directory/ids.ts';
import { engines, freshDb, announceSkip, type TestDb } from './engines.ts';

describe.each(engines)('store on $engine', ({ engine, skip }) => {
  announceSkip(`store on ${engine}`, skip);
  let tdb: TestDb; let opened: OpenedDatabase; let store: DirectoryStore;
  beforeAll(async () => {
    if (skip) return;
    tdb = freshDb(engine);
    opened = await openDatabase(tdb.url, { schema: tdb.schema });
    store = new DirectoryStore(opened.db, opened.namedQuery ?? opened.readQuery);
  });
  afterAll(async () => { if (skip) return; await opened.close(); await tdb.cleanup(); });

  it.skipIf(!!skip)('migrations are idempotent (re-open applies nothing twice)', async () => {
    const again = await openDatabase(tdb.url, { schema: tdb.schema });
    await again.close();
  });

  it.skipIf(!!skip)('users are unique; passwords verify; tokens expire and revoke', async () => {
    const h = await hashPassword('correct horse', TEST_SCRYPT);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$/);
    const id = await store.createUser('alice', h, 1000);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(await store.createUser('alice', h, 1000)).toBeUndefined();
    const u = await store.userByName('alice');
    expect(await verifyPassword('correct horse', u!.password_hash)).toBe(true);
    expect(await verifyPassword('wrong', u!.password_hash)).toBe(false);
    expect(await verifyPassword('x', 'garbage$1$2')).toBe(false);
    const t = newToken();
    await store.insertToken(tokenHash(t), id!, 1000, 5000);
    expect((await store.authenticate(tokenHash(t), 4999))?.username).toBe('alice');
    expect(await store.authenticate(tokenHash(t), 5000)).toBeUndefined();
    expect(typeof (await store.authenticate(tokenHash(t), 2000))!.expiresAt).toBe('number');
    await store.revokeToken(tokenHash(t), 2000);
    expect(await store.authenticate(tokenHash(t), 2001)).toBeUndefined();
    const live = newToken();
    await store.insertToken(tokenHash(live), id!, 1000, 9000);
    expect(await store.purgeTokens(2000)).toBe(0);
    expect(await store.purgeTokens(2001)).toBe(1);
    expect((await store.authenticate(tokenHash(live), 3000))?.username).toBe('alice');
  });

  it.skipIf(!!skip)('contact state machine: request, accept, block, remove', async () => {
    const h = 'scrypt$1$1$1$AA==$AA==';
    const a = (await store.createUser('c-ann', h, 1))!; const b = (await store.createUser('c-bob', h, 1))!; const c = (await store.createUser('c-cat', h, 1))!;
    expect(await store.contactAction(a, a, 'request', 1)).toEqual({ ok: false, reason: 'self' });
    expect(await store.contactAction(a, b, 'accept', 1)).toEqual({ ok: false, reason: 'no-request' });
    expect(await store.contactAction(a, b, 'request', 2)).toMatchObject({ ok: true, state: 'outgoing' });
    expect((await store.contactsOf(b)).map((r) => [r.username, r.state])).toEqual([['c-ann', 'incoming']]);
    expect(await store.isMutual(a, b)).toBe(false);
    expect(await store.contactAction(b, a, 'accept', 3)).toMatchObject({ ok: true, state: 'accepted' });
    expect(await store.isMutual(a, b)).toBe(true);
    expect(await store.mutualContactIds(a)).toEqual([b]);
    // crossing requests accept each other
    await store.contactAction(a, c, 'request', 4);
    expect(await store.contactAction(c, a, 'request', 5)).toMatchObject({ ok: true, state: 'accepted' });
    expect((await store.mutualContactIds(a)).sort()).toEqual([b, c].sort());
    // block: c no longer mutual, and c's requests to a vanish silently
    expect(await store.contactAction(a, c, 'block', 6)).toMatchObject({ ok: true, state: 'blocked' });
    expect(await store.isMutual(a, c)).toBe(false);
    expect(await store.contactAction(c, a, 'request', 7)).toMatchObject({ ok: true, state: 'outgoing' });
    expect((await store.contactsOf(a)).find((r) => r.username === 'c-cat')?.state).toBe('blocked');
    // decline
    await store.contactAction(b, c, 'request', 8);
    expect(await store.contactAction(c, b, 'decline', 9)).toMatchObject({ ok: true, state: 'none' });
    expect(await store.contactsOf(c)).toEqual([{ username: 'c-ann', state: 'outgoing', updatedAt: 7 }]);
    // remove
    await store.contactAction(b, a, 'remove', 10);
    expect(await store.isMutual(a, b)).toBe(false);
    expect(await store.contactsOf(a)).toEqual([{ username: 'c-cat', state: 'blocked', updatedAt: 6 }]);
    // the serialized lists the hot GET /v1/contacts serves are the same bytes as JSON.stringify of the records
    for (const u of [a, b, c]) expect((await store.contactListJson(u))!.json).toBe(JSON.stringify({ contacts: await store.contactsOf(u) }));
    expect((await store.contactListJson(b))!.json).toBe('{"contacts":[]}');
    expect((await store.contactListJson(a))!.lastModified).toBe(10);
    expect(await store.contactListJson('0'.repeat(32))).toBeUndefined();
  });

  it.skipIf(!!skip)('presence is visible through mutual contacts only and goes stale', async () => {
    const h = 'scrypt$1$1$1$AA==$AA==';
    const a = (await store.createUser('p-ann', h, 1))!; const b = (await store.createUser('p-bob', h, 1))!; const c = (await store.createUser('p-cat', h, 1))!;
    const db = await store.addDevice(b, 'laptop', 'x'.repeat(43), null, 1);
    const dc = await store.addDevice(c, 'phone', 'y'.repeat(43), null, 1);
    await store.setPresence(b, db.id, { status: 'online', candidates: [{ kind: 'host', address: '192.0.2.1', port: 4000 }], nat: { mapping: 'endpoint-independent', filtering: 'address-dependent' }, supernode: null }, 100);
    await store.setPresence(c, dc.id, { status: 'away', candidates: [], nat: null, supernode: { address: '203.0.113.5', port: 7000 } }, 100);
    await store.contactAction(a, b, 'request', 2); await store.contactAction(b, a, 'accept', 2);
    await store.contactAction(a, c, 'request', 2);
    const seen = await store.presenceOfContacts(a, 0);
    expect(seen).toEqual([{ username: 'p-bob', deviceId: db.id, status: 'online', candidates: [{ kind: 'host', address: '192.0.2.1', port: 4000 }], nat: { mapping: 'endpoint-independent', filtering: 'address-dependent' }, supernode: null, updatedAt: 100 }]);
    expect((await store.presenceOfContacts(a, 101))[0].status).toBe('offline');
    for (const stale of [0, 101]) expect(JSON.parse(await store.presenceOfContactsJson(a, stale))).toEqual(await store.presenceOfContacts(a, stale));
    expect(await store.setPresence(b, db.id, { status: 'away', candidates: [], nat: null, supernode: null }, 200)).toBe(true);
    expect((await store.presenceOfUsers([b, c], 0)).map((p) => p.status)).toEqual(['away', 'away']);
    // a device deleted after the caller's ownership check: the write is refused (the route's 404), not a server error
    expect(await store.deleteDevice(c, dc.id)).toBe(true);
    expect(await store.setPresence(c, dc.id, { status: 'online', candidates: [], nat: null, supernode: null }, 300)).toBe(false);
    expect(await store.presenceOfUsers([c], 0)).toEqual([]);
  });

  it.skipIf(!!skip)('supernodes: least loaded first, expiry, ownership', async () => {
    const h = 'scrypt$1$1$1$AA==$AA==';
    const o = (await store.createUser('s-own', h, 1))!; const x = (await store.createUser('s-other', h, 1))!;
    const s1 = await store.registerSupernode(o, { address: '203.0.113.1', port: 1, capacity: 100, load: 50 }, 1000);
    const s2 = await store.registerSupernode(o, { address: '203.0.113.2', port: 2, capacity: 10, load: 1 }, 1000);
    const s3 = await store.registerSupernode(o, { address: '203.0.113.3', port: 3, capacity: 10, load: 9 }, 500);
    expect((await store.listSupernodes(900, 10)).map((s) => s.id)).toEqual([s2, s1]);
    expect((await store.listSupernodes(0, 2)).map((s) => s.id)).toEqual([s2, s1]);
    expect(await store.heartbeatSupernode(x, s1, 0, 1100, 900)).toBe('forbidden');
    expect(await store.heartbeatSupernode(o, s3, 0, 1100, 900)).toBe('missing');
    expect(await store.heartbeatSupernode(o, s1, 0, 1100, 900)).toBe('ok');
    expect((await store.listSupernodes(900, 10)).map((s) => s.id)).toEqual([s1, s2]);
    expect(await store.purgeSupernodes(900)).toBe(1);
  });
});
