// The directory's data access: every query the HTTP API runs, over Kysely, so
// the same code serves SQLite and PostgreSQL. Contract: methods take `now`
// (Unix ms) where time matters; multi-row changes run in one transaction;
// usernames are compared exactly (the API lower-cases them before calling).
// Contact rows come in pairs (owner->peer and peer->owner); "mutual" means
// both rows are 'accepted'. Every write that can change a presence or
// contact-list answer awaits `onWrite` with what it changed, after it
// committed (the view cache's invalidation, see view-cache.ts).
import { sql, CompiledQuery, type Kysely, type Compilable } from 'kysely';
import type { ContactState, Database } from './schema.ts';
import { newId } from '../ids.ts';
import type { NamedQuery } from './open.ts';

export interface UserRow { id: string; username: string; password_hash: string; created_at: number; updated_at: number; contacts_updated_at: number }
export interface DeviceRow { id: string; user_id: string; name: string; x25519: string; ed25519: string | null; created_at: number }
export interface Candidate { kind: 'host' | 'srflx' | 'relay'; address: string; port: number }
export interface NatBehaviour { mapping: string; filtering: string }
export interface Endpoint { address: string; port: number }
export interface PresenceRecord {
  username: string; deviceId: string; status: 'online' | 'away' | 'offline';
  candidates: Candidate[]; nat: NatBehaviour | null; supernode: Endpoint | null; updatedAt: number;
}
export interface ContactRecord { username: string; state: ContactState; updatedAt: number }
export interface SupernodeRecord { id: string; address: string; port: number; capacity: number; load: number; lastHeartbeat: number }

export type ContactAction = 'request' | 'accept' | 'decline' | 'remove' | 'block';
/** Result of a contact action: the owner's new state, or why it did not apply. */
export type ContactOutcome =
  | { ok: true; state: ContactState | 'none'; notifyPeer: boolean }
  | { ok: false; reason: 'no-request' | 'self' };

/**
 * A query built and compiled once; each call only substitutes its arguments.
 * Building a Kysely query costs more than SQLite takes to run it, so the hot
 * lookups use this. `build` receives placeholder strings and must use each
 * argument as a plain bound value (no arrays, no identifiers).
 */
let preparedCount = 0;

function prepared<R>(db: Kysely<Database>, named: NamedQuery | undefined, arity: number, build: (...args: string[]) => Compilable<R>, arrays = false): (...args: (string | number)[]) => Promise<R[]> {
  const name = `tincan_q${preparedCount++}`;
  const marks = Array.from({ length: arity }, (_, i) => `\u0000arg${i}\u0000`);
  const compiled = build(...marks).compile();
  const slots = compiled.parameters.map((p) => marks.indexOf(p as string));
  if (marks.some((_, i) => !slots.includes(i))) throw new Error('prepared query does not use every argument');
  return async (...args) => {
    const parameters = compiled.parameters.map((p, i) => slots[i] >= 0 ? args[slots[i]] : p);
    if (named) return await named(name, compiled.sql, parameters, arrays) as R[];
    const r = await db.executeQuery<R>(CompiledQuery.raw(compiled.sql, parameters));
    return arrays ? r.rows.map((row) => Object.values(row as object)) as R[] : r.rows;
  };
}

/** What a committed write changed: whose contact lists / mutual contacts, whose own presence rows. */
export interface ViewChange { contactsOf?: string[]; presenceOf?: string[] }

/** A row of presenceViewRows: [peerId, username, deviceId, status, candidates, nat, supernode, updatedAt] (presence columns null when the contact has none). */
export type PresenceViewRow = [string, string, string | null, string | null, string | null, string | null, string | null, number | null];

export class DirectoryStore {
  private readonly q;

  /**
   * `named`: runner for the hot read queries (see open.ts): PostgreSQL named prepared statements, or SQLite's read-only connection.
   * `onWrite`: told after each committed write what it changed.
   */
  constructor(readonly db: Kysely<Database>, named?: NamedQuery, private readonly onWrite: (c: ViewChange) => Promise<void> | void = () => {}) {
    // Presence of every device of every mutual contact; prepared twice (objects, and rows as arrays for the JSON fast path).
    const presenceOfContactsQuery = (id: string) => db.selectFrom('contacts as mine')
      .innerJoin('contacts as theirs', (j) => j.onRef('theirs.owner_id', '=', 'mine.peer_id').onRef('theirs.peer_id', '=', 'mine.owner_id'))
      .innerJoin('presence', 'presence.user_id', 'mine.peer_id')
      .innerJoin('users', 'users.id', 'mine.peer_id')
      .select(['users.username as username', 'presence.device_id as deviceId', 'presence.status as status', 'presence.candidates as candidates',
        'presence.nat as nat', 'presence.supernode as supernode', 'presence.updated_at as updatedAt'])
      .where('mine.owner_id', '=', id).where('mine.state', '=', 'accepted').where('theirs.state', '=', 'accepted')
      .orderBy('users.username').orderBy('presence.device_id');
    this.q = {
      userById: prepared(db, named, 1, (id) => db.selectFrom('users').selectAll().where('id', '=', id)),
      userByName: prepared(db, named, 1, (name) => db.selectFrom('users').selectAll().where('username', '=', name)),
      authenticate: prepared(db, named, 2, (th, now) => db.selectFrom('tokens').innerJoin('users', 'users.id', 'tokens.user_id')
        .select(['users.id as userId', 'users.username as username', 'tokens.expires_at as expiresAt'])
        .where('tokens.token_hash', '=', th).where('tokens.revoked_at', 'is', null).where('tokens.expires_at', '>', now as unknown as number)),
      contactsOf: prepared(db, named, 1, (id) => db.selectFrom('contacts').innerJoin('users', 'users.id', 'contacts.peer_id')
        .select(['users.username as username', 'contacts.state as state', 'contacts.updated_at as updatedAt'])
        .where('contacts.owner_id', '=', id).orderBy('users.username')),
      mutualContactIds: prepared(db, named, 1, (id) => db.selectFrom('contacts as mine').innerJoin('contacts as theirs', (j) => j
        .onRef('theirs.owner_id', '=', 'mine.peer_id').onRef('theirs.peer_id', '=', 'mine.owner_id'))
        .select('mine.peer_id as id')
        .where('mine.owner_id', '=', id).where('mine.state', '=', 'accepted').where('theirs.state', '=', 'accepted')),
      presenceOfContacts: prepared(db, named, 1, presenceOfContactsQuery),
      presenceOfContactsRows: prepared(db, named, 1, presenceOfContactsQuery, true),
      contactList: prepared(db, named, 1, (id) => db.selectFrom('users as me')
        .leftJoin('contacts', 'contacts.owner_id', 'me.id')
        .leftJoin('users as peer', 'peer.id', 'contacts.peer_id')
        .select(['me.contacts_updated_at as listUpdatedAt', 'me.created_at as createdAt', 'peer.username as username',
          'contacts.state as state', 'contacts.updated_at as updatedAt'])
        .where('me.id', '=', id).orderBy('peer.username'), true),
      device: prepared(db, named, 1, (id) => db.selectFrom('devices').selectAll().where('id', '=', id)),
      // every mutual contact (with or without presence) and its presence rows, by username then device
      presenceView: prepared(db, named, 1, (id) => db.selectFrom('contacts as mine')
        .innerJoin('contacts as theirs', (j) => j.onRef('theirs.owner_id', '=', 'mine.peer_id').onRef('theirs.peer_id', '=', 'mine.owner_id'))
        .innerJoin('users', 'users.id', 'mine.peer_id')
        .leftJoin('presence', 'presence.user_id', 'mine.peer_id')
        .select(['mine.peer_id as peerId', 'users.username as username', 'presence.device_id as deviceId', 'presence.status as status', 'presence.candidates as candidates',
          'presence.nat as nat', 'presence.supernode as supernode', 'presence.updated_at as updatedAt'])
        .where('mine.owner_id', '=', id).where('mine.state', '=', 'accepted').where('theirs.state', '=', 'accepted')
        .orderBy('users.username').orderBy('presence.device_id'), true),
      // one user's presence rows, as presenceView rows
      presenceRowsOf: prepared(db, named, 1, (id) => db.selectFrom('presence').innerJoin('users', 'users.id', 'presence.user_id')
        .select(['presence.user_id as peerId', 'users.username as username', 'presence.device_id as deviceId', 'presence.status as status', 'presence.candidates as candidates',
          'presence.nat as nat', 'presence.supernode as supernode', 'presence.updated_at as updatedAt'])
        .where('presence.user_id', '=', id).orderBy('presence.device_id'), true),
    };
  }

  // ---- users and tokens
  async createUser(username: string, passwordHash: string, now: number): Promise<string | undefined> {
    const id = newId();
    const r = await this.db.insertInto('users')
      .values({ id, username, password_hash: passwordHash, created_at: now, updated_at: now, contacts_updated_at: now })
      .onConflict((oc) => oc.column('username').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1 ? id : undefined;
  }

  async userByName(username: string): Promise<UserRow | undefined> {
    return (await this.q.userByName(username))[0];
  }

  async userById(id: string): Promise<UserRow | undefined> {
    return (await this.q.userById(id))[0];
  }

  /** Sets a new password hash and revokes every token of the user except `keepTokenHash`. */
  async setPassword(userId: string, passwordHash: string, keepTokenHash: string, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ password_hash: passwordHash, updated_at: now }).where('id', '=', userId).execute();
      await trx.updateTable('tokens').set({ revoked_at: now })
        .where('user_id', '=', userId).where('token_hash', '!=', keepTokenHash).where('revoked_at', 'is', null).execute();
    });
  }

  async insertToken(tokenHash: string, userId: string, now: number, expiresAt: number): Promise<void> {
    await this.db.insertInto('tokens').values({ token_hash: tokenHash, user_id: userId, created_at: now, expires_at: expiresAt, revoked_at: null }).execute();
  }

  /** The user a live (unexpired, unrevoked) token belongs to. */
  async authenticate(tokenHash: string, now: number): Promise<{ userId: string; username: string; expiresAt: number } | undefined> {
    return (await this.q.authenticate(tokenHash, now))[0];
  }

  /** Deletes tokens that expired, or were revoked, before `before`. */
  async purgeTokens(before: number): Promise<number> {
    const r = await this.db.deleteFrom('tokens').where((eb) => eb.or([eb('expires_at', '<', before), eb('revoked_at', '<', before)])).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async revokeToken(tokenHash: string, now: number): Promise<void> {
    await this.db.updateTable('tokens').set({ revoked_at: now }).where('token_hash', '=', tokenHash).where('revoked_at', 'is', null).execute();
  }

  /**
   * Deletes the account and everything that hangs off it (tokens, devices,
   * presence, both sides of every contact row, supernodes), in one
   * transaction; the peers' contact lists get Last-Modified `now`. Returns
   * who must be told: the users who had a contact row towards this one (any
   * state), and the deleted user's device ids.
   */
  async deleteUser(userId: string, now: number): Promise<{ deleted: boolean; peerIds: string[]; deviceIds: string[] }> {
    const r = await this.db.transaction().execute(async (trx) => {
      const peers = await trx.selectFrom('contacts').select('owner_id').where('peer_id', '=', userId).execute();
      const devices = await trx.selectFrom('devices').select('id').where('user_id', '=', userId).execute();
      // their contact lists change: Last-Modified moves forward
      if (peers.length) await trx.updateTable('users').set({ contacts_updated_at: now }).where('id', 'in', peers.map((p) => p.owner_id)).execute();
      // explicit deletes, child tables first (no reliance on ON DELETE CASCADE being enabled)
      await trx.deleteFrom('presence').where('user_id', '=', userId).execute();
      await trx.deleteFrom('supernodes').where('owner_id', '=', userId).execute();
      await trx.deleteFrom('contacts').where((eb) => eb.or([eb('owner_id', '=', userId), eb('peer_id', '=', userId)])).execute();
      await trx.deleteFrom('devices').where('user_id', '=', userId).execute();
      await trx.deleteFrom('tokens').where('user_id', '=', userId).execute();
      const r = await trx.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
      return { deleted: Number(r.numDeletedRows) === 1, peerIds: peers.map((p) => p.owner_id), deviceIds: devices.map((d) => d.id) };
    });
    await this.onWrite({ contactsOf: [userId, ...r.peerIds], presenceOf: [userId] });
    return r;
  }

  // ---- devices
  async addDevice(userId: string, name: string, x25519: string, ed25519: string | null, now: number): Promise<DeviceRow> {
    const row: DeviceRow = { id: newId(), user_id: userId, name, x25519, ed25519, created_at: now };
    await this.db.insertInto('devices').values(row).execute();
    return row;
  }

  devicesOf(userId: string): Promise<DeviceRow[]> {
    return this.db.selectFrom('devices').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  }

  async device(id: string): Promise<DeviceRow | undefined> {
    return (await this.q.device(id))[0];
  }

  async deleteDevice(userId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('devices').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    await this.onWrite({ presenceOf: [userId] }); // its presence rows went with it (ON DELETE CASCADE)
    return Number(r.numDeletedRows) === 1;
  }

  // ---- contacts
  contactsOf(userId: string): Promise<ContactRecord[]> {
    return this.q.contactsOf(userId);
  }

  /**
   * The own contact list already serialized as `{"contacts":[...]}` (the same
   * bytes JSON.stringify({ contacts: contactsOf(userId) }) gives) and the
   * list's Last-Modified (ms), in one query; undefined if the user is gone.
   */
  async contactListJson(userId: string): Promise<{ json: string; lastModified: number } | undefined> {
    // rows: [listUpdatedAt, createdAt, username | null, state | null, updatedAt | null]; one row with nulls when the list is empty
    const rows = await this.q.contactList(userId) as unknown as [number, number, string | null, string | null, number | null][];
    if (rows.length === 0) return undefined;
    let json = '{"contacts":[';
    let n = 0;
    for (const r of rows) {
      if (r[2] === null) continue;
      json += (n++ ? ',{"username":' : '{"username":') + JSON.stringify(r[2]) + ',"state":' + JSON.stringify(r[3]) + ',"updatedAt":' + Number(r[4]) + '}';
    }
    return { json: json + ']}', lastModified: Math.max(Number(rows[0][0]), Number(rows[0][1])) };
  }

  async isMutual(a: string, b: string): Promise<boolean> {
    const rows = await this.db.selectFrom('contacts').select('owner_id')
      .where((eb) => eb.or([
        eb.and([eb('owner_id', '=', a), eb('peer_id', '=', b)]),
        eb.and([eb('owner_id', '=', b), eb('peer_id', '=', a)]),
      ]))
      .where('state', '=', 'accepted').execute();
    return rows.length === 2;
  }

  /** Ids of users with whom `userId` is a mutual contact. */
  async mutualContactIds(userId: string): Promise<string[]> {
    return (await this.q.mutualContactIds(userId)).map((r) => r.id);
  }

  /**
   * Applies a contact action by `ownerId` towards `peerId`, atomically.
   * request: creates outgoing/incoming (or accepts a pending incoming request);
   *   a peer who blocked the owner silently gets nothing (the owner sees 'outgoing').
   * accept: needs a pending incoming request. decline: drops an incoming request.
   * remove: drops both rows (also cancels requests and unblocks). block: owner row
   *   becomes 'blocked', the peer's row is dropped.
   */
  async contactAction(ownerId: string, peerId: string, action: ContactAction, now: number): Promise<ContactOutcome> {
    if (ownerId === peerId) return { ok: false, reason: 'self' };
    const outcome = await this.contactTransaction(ownerId, peerId, action, now);
    await this.onWrite({ contactsOf: [ownerId, peerId] }); // both lists' Last-Modified moved, whatever the outcome
    return outcome;
  }

  private contactTransaction(ownerId: string, peerId: string, action: ContactAction, now: number): Promise<ContactOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const get = (o: string, p: string) => trx.selectFrom('contacts').select('state').where('owner_id', '=', o).where('peer_id', '=', p).executeTakeFirst().then((r) => r?.state);
      const put = async (o: string, p: string, state: ContactState) => {
        await trx.insertInto('contacts').values({ owner_id: o, peer_id: p, state, updated_at: now })
          .onConflict((oc) => oc.columns(['owner_id', 'peer_id']).doUpdateSet({ state, updated_at: now })).execute();
      };
      const drop = async (o: string, p: string) => { await trx.deleteFrom('contacts').where('owner_id', '=', o).where('peer_id', '=', p).execute(); };
      const mine = await get(ownerId, peerId);
      const theirs = await get(peerId, ownerId);
      await trx.updateTable('users').set({ contacts_updated_at: now }).where('id', 'in', [ownerId, peerId]).execute();
      switch (action) {
        case 'request': {
          if (mine === 'accepted' && theirs === 'accepted') return { ok: true, state: 'accepted', notifyPeer: false };
          if (mine === 'incoming' && theirs === 'outgoing') {
            await put(ownerId, peerId, 'accepted'); await put(peerId, ownerId, 'accepted');
            return { ok: true, state: 'accepted', notifyPeer: true };
          }
          await put(ownerId, peerId, 'outgoing');
          if (theirs === 'blocked') return { ok: true, state: 'outgoing', notifyPeer: false };
          await put(peerId, ownerId, 'incoming');
          return { ok: true, state: 'outgoing', notifyPeer: true };
        }
        case 'accept': {
          if (mine === 'accepted' && theirs === 'accepted') return { ok: true, state: 'accepted', notifyPeer: false };
          if (mine !== 'incoming' || theirs !== 'outgoing') return { ok: false, reason: 'no-request' };
          await put(ownerId, peerId, 'accepted'); await put(peerId, ownerId, 'accepted');
          return { ok: true, state: 'accepted', notifyPeer: true };
        }
        case 'decline': {
          if (mine !== 'incoming') return { ok: false, reason: 'no-request' };
          await drop(ownerId, peerId);
          if (theirs === 'outgoing') await drop(peerId, ownerId);
          return { ok: true, state: 'none', notifyPeer: false };
        }
        case 'remove': {
          await drop(ownerId, peerId);
          if (theirs !== 'blocked') await drop(peerId, ownerId);
          return { ok: true, state: 'none', notifyPeer: mine === 'accepted' };
        }
        case 'block': {
          await put(ownerId, peerId, 'blocked');
          if (theirs !== 'blocked') await drop(peerId, ownerId);
          return { ok: true, state: 'blocked', notifyPeer: false };
        }
      }
    });
  }

  // ---- presence
  /**
   * Stores a device's presence. False (nothing written) when the device no longer
   * exists — deleted between the caller's ownership check and this write: the
   * foreign key refuses the row, and that is the caller's 404, not a server error.
   */
  async setPresence(userId: string, deviceId: string, p: Omit<PresenceRecord, 'username' | 'deviceId' | 'updatedAt'>, now: number): Promise<boolean> {
    const values = {
      status: p.status, candidates: JSON.stringify(p.candidates), nat: p.nat ? JSON.stringify(p.nat) : null,
      supernode: p.supernode ? JSON.stringify(p.supernode) : null, updated_at: now,
    };
    try {
      await this.db.insertInto('presence').values({ device_id: deviceId, user_id: userId, ...values })
        .onConflict((oc) => oc.column('device_id').doUpdateSet(values)).execute();
    } catch (e) {
      if (isForeignKeyViolation(e)) return false;
      throw e;
    }
    await this.onWrite({ presenceOf: [userId] });
    return true;
  }

  /** Presence of every device of the given users. Entries older than `staleBefore` read as offline. */
  async presenceOfUsers(userIds: string[], staleBefore: number): Promise<PresenceRecord[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.selectFrom('presence').innerJoin('users', 'users.id', 'presence.user_id')
      .select(['users.username as username', 'presence.device_id as deviceId', 'presence.status as status', 'presence.candidates as candidates',
        'presence.nat as nat', 'presence.supernode as supernode', 'presence.updated_at as updatedAt'])
      .where('presence.user_id', 'in', userIds).orderBy('users.username').orderBy('presence.device_id').execute();
    return rows.map((r) => toPresence(r, staleBefore));
  }

  /** Presence of every mutual contact of `userId`, in one query. */
  async presenceOfContacts(userId: string, staleBefore: number): Promise<PresenceRecord[]> {
    return (await this.q.presenceOfContacts(userId)).map((r) => toPresence(r, staleBefore));
  }

  /**
   * The same list as presenceOfContacts, already serialized as the JSON array
   * text of PresenceRecord[] (the hot lookup: the stored candidates/nat/supernode
   * columns are JSON written by setPresence and are spliced in unparsed).
   */
  async presenceOfContactsJson(userId: string, staleBefore: number): Promise<string> {
    // rows as arrays: [username, deviceId, status, candidates, nat, supernode, updatedAt]
    const rows = await this.q.presenceOfContactsRows(userId) as unknown as [string, string, string, string, string | null, string | null, number][];
    let out = '[';
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const updatedAt = Number(r[6]);
      out += (i ? ',{"username":' : '{"username":') + JSON.stringify(r[0]) + ',"deviceId":' + JSON.stringify(r[1])
        + ',"status":' + JSON.stringify(updatedAt < staleBefore ? 'offline' : r[2]) + ',"candidates":' + r[3]
        + ',"nat":' + (r[4] ?? 'null') + ',"supernode":' + (r[5] ?? 'null') + ',"updatedAt":' + updatedAt + '}';
    }
    return out + ']';
  }

  /** Every mutual contact of `userId` (in answer order) with its presence rows; see PresenceViewRow. */
  async presenceViewRows(userId: string): Promise<PresenceViewRow[]> {
    return await this.q.presenceView(userId) as unknown as PresenceViewRow[];
  }

  /** One user's own presence rows, by device, in the PresenceViewRow shape (none: no presence). */
  async presenceRowsOf(userId: string): Promise<PresenceViewRow[]> {
    return await this.q.presenceRowsOf(userId) as unknown as PresenceViewRow[];
  }

  // ---- supernodes
  async registerSupernode(ownerId: string, s: { address: string; port: number; capacity: number; load: number }, now: number): Promise<string> {
    const id = newId();
    await this.db.insertInto('supernodes').values({ id, owner_id: ownerId, ...s, registered_at: now, last_heartbeat: now }).execute();
    return id;
  }

  /** 'ok', or 'missing' (no such live entry), or 'forbidden' (someone else's). */
  async heartbeatSupernode(ownerId: string, id: string, load: number, now: number, expiredBefore: number): Promise<'ok' | 'missing' | 'forbidden'> {
    const row = await this.db.selectFrom('supernodes').select(['owner_id', 'last_heartbeat']).where('id', '=', id).executeTakeFirst();
    if (!row || row.last_heartbeat < expiredBefore) return 'missing';
    if (row.owner_id !== ownerId) return 'forbidden';
    await this.db.updateTable('supernodes').set({ load, last_heartbeat: now }).where('id', '=', id).execute();
    return 'ok';
  }

  async listSupernodes(aliveSince: number, limit: number): Promise<SupernodeRecord[]> {
    const rows = await this.db.selectFrom('supernodes')
      .select(['id', 'address', 'port', 'capacity', 'load', 'last_heartbeat as lastHeartbeat'])
      .where('last_heartbeat', '>=', aliveSince).where('capacity', '>', 0)
      .orderBy(sql`cast(${sql.ref('load')} as real) / ${sql.ref('capacity')}`).orderBy('id').limit(limit).execute();
    return rows;
  }

  async purgeSupernodes(expiredBefore: number): Promise<number> {
    const r = await this.db.deleteFrom('supernodes').where('last_heartbeat', '<', expiredBefore).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

interface PresenceSql { username: string; deviceId: string; status: PresenceRecord['status']; candidates: string; nat: string | null; supernode: string | null; updatedAt: number }

function toPresence(r: PresenceSql, staleBefore: number): PresenceRecord {
  return {
    username: r.username, deviceId: r.deviceId,
    status: r.updatedAt < staleBefore ? 'offline' : r.status,
    candidates: JSON.parse(r.candidates) as Candidate[],
    nat: r.nat ? JSON.parse(r.nat) as NatBehaviour : null,
    supernode: r.supernode ? JSON.parse(r.supernode) as Endpoint : null,
    updatedAt: r.updatedAt,
  };
}

/** A foreign-key refusal: SQLite (better-sqlite3, also through the writer thread) or PostgreSQL (SQLSTATE 23503). */
function isForeignKeyViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}
