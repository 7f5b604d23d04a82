// The typed client (src/directory/client.ts) end to end against a real
// directory: every method once, error typing, ticket verification with the
// key it fetches — on SQLite and PostgreSQL.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { engines, announceSkip } from './engines.ts';
import { startTestDirectory, type TestDirectory } from './harness.ts';
import { DirectoryClient, DirectoryError } from '../../src/directory/client.ts';
import { verifyTicket, ticketAllows } from '../../src/wire/ticket.ts';

describe.each(engines)('directory client on $engine', ({ engine, skip }) => {
  announceSkip(`directory client on ${engine}`, skip);
  let t: TestDirectory;
  beforeAll(async () => { if (!skip) t = await startTestDirectory(engine); });
  afterAll(async () => { if (!skip) await t.stop(); });

  it.skipIf(!!skip)('covers accounts, devices, contacts, presence, supernodes, tickets, rendezvous', async () => {
    const a = new DirectoryClient(t.dir.url + '/'), b = new DirectoryClient(t.dir.url);
    await expect(a.me()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(await a.register('kim', 'kim-password')).toMatchObject({ username: 'kim' });
    await b.register('lou', 'lou-password');
    await expect(a.register('kim', 'kim-password')).rejects.toMatchObject({ status: 409, code: 'conflict' });
    await expect(a.login('kim', 'nope-nope')).rejects.toBeInstanceOf(DirectoryError);
    expect((await a.login('kim', 'kim-password')).username).toBe('kim');
    await b.login('lou', 'lou-password');
    expect((await a.me()).username).toBe('kim');
    await a.changePassword('kim-password', 'kim-password-2');

    const da = await a.registerDevice({ name: 'pc', x25519: new Uint8Array(32).fill(3), ed25519: new Uint8Array(32).fill(4) });
    const db = await b.registerDevice({ name: 'phone', x25519: new Uint8Array(32).fill(5) });
    expect(Buffer.from(da.x25519, 'base64url')).toEqual(Buffer.alloc(32, 3));
    const spare = await a.registerDevice({ name: 'spare', x25519: new Uint8Array(32) });
    expect((await a.devices()).map((d) => d.id)).toEqual(expect.arrayContaining([da.id, spare.id]));
    await a.deleteDevice(spare.id);
    await expect(a.contactDevices('lou')).rejects.toMatchObject({ status: 403 });

    expect(await a.requestContact('lou')).toEqual({ username: 'lou', state: 'outgoing' });
    expect(await b.acceptContact('kim')).toEqual({ username: 'kim', state: 'accepted' });
    expect((await a.contacts())[0]).toMatchObject({ username: 'lou', state: 'accepted' });
    expect((await a.contactDevices('lou')).map((d) => d.id)).toEqual([db.id]);

    await b.setPresence({ deviceId: db.id, status: 'online', candidates: [{ kind: 'srflx', address: '198.51.100.4', port: 7000 }], nat: { mapping: 'endpoint-independent', filtering: 'endpoint-independent' } });
    expect((await a.presence())[0]).toMatchObject({ username: 'lou', status: 'online' });
    expect((await a.presenceOf('lou'))[0].candidates[0].port).toBe(7000);

    const sn = await a.registerSupernode({ address: '203.0.113.50', port: 3479, capacity: 10 });
    await a.heartbeatSupernode(sn.id, 2);
    expect((await b.supernodes(5))[0]).toMatchObject({ id: sn.id, load: 2 });

    const key = await a.directoryKey();
    const tk = await a.ticket(da.id, db.id);
    expect(ticketAllows(verifyTicket(Buffer.from(tk.ticket, 'base64url'), key, Date.now()), Buffer.from(da.id, 'hex'), Buffer.from(db.id, 'hex'))).toBe(true);
    const r = await a.rendezvous(da.id, 'lou');
    expect(r.peer).toMatchObject({ username: 'lou', deviceId: db.id });
    expect(verifyTicket(Buffer.from(r.ticket, 'base64url'), key, Date.now()).expiresAt).toBe(r.ticketExpiresAt);

    await a.blockContact('lou');
    await a.removeContact('lou');
    await b.requestContact('kim');
    expect(await a.declineContact('lou')).toEqual({ username: 'lou', state: 'none' });
    await a.logout();
    expect(a.token).toBeUndefined();
  });
});
