// Per-instance cache of the two hot lookups (GET /v1/presence, GET
// /v1/contacts), already serialized, in front of DirectoryStore.
// Contract:
// - Answers are byte-identical to the uncached store methods
//   (presenceOfContactsJson, contactListJson) at the time of the call.
// - Every store write that can change an answer reports a ViewChange after
//   it commits (DirectoryStore's onWrite); invalidate() drops what it names
//   before the write's HTTP response is sent, on this instance at once and on
//   the other cluster workers before the write returns (acknowledged, see
//   cluster.ts); other instances get it through Redis (in order with the
//   push messages, not awaited). `ttlMs` bounds any entry's life anyway (a
//   lost Redis message, a worker killed between commit and invalidation).
// - A read racing a write never stores the older answer: each key remembers
//   the epoch of its last invalidation and a read that began before it is
//   not cached (bounded; past the bound every read older than the forgotten
//   invalidation is refused).
// - Presence staleness (presenceTtlMs -> 'offline') is applied per request,
//   so it needs no invalidation. ttlMs 0: no caching (pass-through).
// Cached: per user, the mutual contacts in answer order and their own
// presence rows pre-rendered (a presence write invalidates only its owner's
// rows, not every viewer); per user, the contact list JSON with its ETag.
import type { DirectoryStore, PresenceViewRow, ViewChange } from './store/store.ts';
import { etagOf } from './http/caching.ts';

export interface ContactListView { json: string; lastModified: number; etag: string }

/** One presence row rendered around its status: head + status JSON + tail. */
interface RenderedRow { head: string; status: string; tail: string; updatedAt: number }

class EpochMap<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly invalidatedAt = new Map<string, number>();
  private floor = 0;

  constructor(private readonly maxEntries: number) {}

  get(key: string, now: number): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.until) { this.entries.delete(key); return undefined; }
    return e.value;
  }

  /** Stores `value` read from the database by a read that began at epoch `since`, unless `key` was invalidated since. */
  set(key: string, value: V, until: number, since: number): void {
    if (this.changedSince(key, since)) return;
    this.entries.delete(key); // re-insert: Map order is age order
    this.entries.set(key, { value, until });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Whether `key` may have changed since epoch `since` (then a read begun at `since` must not be reused). */
  changedSince(key: string, since: number): boolean {
    return since < this.floor || (this.invalidatedAt.get(key) ?? 0) > since;
  }

  invalidate(key: string, epoch: number): void {
    this.entries.delete(key);
    this.invalidatedAt.delete(key);
    this.invalidatedAt.set(key, epoch);
    if (this.invalidatedAt.size > this.maxEntries) {
      const [k, e] = this.invalidatedAt.entries().next().value!;
      this.invalidatedAt.delete(k);
      this.floor = Math.max(this.floor, e);
    }
  }

  get size(): number { return this.entries.size; }
}

export class ViewCache {
  private epoch = 0;
  /** user -> ids of mutual contacts in answer order (username, as the database orders it). */
  private readonly mutual: EpochMap<string[]>;
  /** user -> that user's own presence rows, rendered, in device order. */
  private readonly rows: EpochMap<RenderedRow[]>;
  private readonly contactLists: EpochMap<ContactListView>;
  /** user -> the query loading its rows now, and the epoch it began at. */
  private readonly loading = new Map<string, { since: number; rows: Promise<RenderedRow[]> }>();
  /** hits: answered from memory; partial: some contacts' rows reloaded; misses: one full query. */
  readonly counters = { hits: 0, partial: 0, misses: 0, invalidations: 0 };

  constructor(private readonly store: DirectoryStore, private readonly ttlMs: number, maxEntries = 100_000) {
    this.mutual = new EpochMap(maxEntries);
    this.rows = new EpochMap(maxEntries);
    this.contactLists = new EpochMap(maxEntries);
  }

  invalidate(c: ViewChange): void {
    const epoch = ++this.epoch;
    this.counters.invalidations++;
    for (const id of c.contactsOf ?? []) { this.mutual.invalidate(id, epoch); this.contactLists.invalidate(id, epoch); }
    for (const id of c.presenceOf ?? []) this.rows.invalidate(id, epoch);
  }

  /** Same bytes as store.contactListJson, plus the ETag of the JSON. */
  async contactList(userId: string, now: number): Promise<ContactListView | undefined> {
    const hit = this.ttlMs > 0 ? this.contactLists.get(userId, now) : undefined;
    if (hit) { this.counters.hits++; return hit; }
    this.counters.misses++;
    const since = this.epoch;
    const r = await this.store.contactListJson(userId);
    if (!r) return undefined;
    const view = { ...r, etag: etagOf(r.json) };
    if (this.ttlMs > 0) this.contactLists.set(userId, view, now + this.ttlMs, since);
    return view;
  }

  /** Same bytes as store.presenceOfContactsJson(userId, staleBefore). */
  async presenceOfContactsJson(userId: string, now: number, staleBefore: number): Promise<string> {
    if (this.ttlMs > 0) {
      const ids = this.mutual.get(userId, now);
      if (ids) {
        const parts: (RenderedRow[] | undefined)[] = [];
        let missing = 0;
        for (const id of ids) {
          const r = this.rows.get(id, now);
          if (!r && ++missing > MAX_SINGLE_LOADS) break;
          parts.push(r);
        }
        if (missing === 0) { this.counters.hits++; return render(parts as RenderedRow[][], staleBefore); }
        if (missing <= MAX_SINGLE_LOADS) {
          // a few contacts changed presence since: reload only theirs (a write invalidates one user's rows, not every viewer)
          this.counters.partial++;
          for (let i = 0; i < ids.length; i++) parts[i] ??= await this.rowsOf(ids[i], now);
          // the list itself may have been invalidated while loading: answer from the database then
          if (this.mutual.get(userId, now) === ids) return render(parts as RenderedRow[][], staleBefore);
        }
      }
    }
    this.counters.misses++;
    const since = this.epoch;
    const { ids, rows } = await this.load(userId);
    if (this.ttlMs > 0) {
      const until = now + this.ttlMs;
      this.mutual.set(userId, ids, until, since);
      for (let i = 0; i < ids.length; i++) this.rows.set(ids[i], rows[i], until, since);
    }
    return render(rows, staleBefore);
  }

  /** Ids of the user's mutual contacts (push recipients). */
  async mutualContactIds(userId: string, now: number): Promise<string[]> {
    const hit = this.ttlMs > 0 ? this.mutual.get(userId, now) : undefined;
    return hit ?? this.store.mutualContactIds(userId);
  }

  /**
   * One user's rendered rows from the database, cached. Concurrent callers
   * share one query (every viewer of a user whose presence just changed
   * misses at once), unless the user changed since that query began.
   */
  private rowsOf(id: string, now: number): Promise<RenderedRow[]> {
    const flight = this.loading.get(id);
    if (flight && !this.rows.changedSince(id, flight.since)) return flight.rows;
    const since = this.epoch;
    const rows = this.store.presenceRowsOf(id).then(renderRows).then((r) => {
      this.rows.set(id, r, now + this.ttlMs, since);
      return r;
    }).finally(() => { if (this.loading.get(id)?.rows === rows) this.loading.delete(id); });
    this.loading.set(id, { since, rows });
    return rows;
  }

  /** The user's mutual contacts and, per contact, its rendered rows (one query). */
  private async load(userId: string): Promise<{ ids: string[]; rows: RenderedRow[][] }> {
    const ids: string[] = [], rows: RenderedRow[][] = [];
    for (const r of await this.store.presenceViewRows(userId)) {
      if (ids[ids.length - 1] !== r[0]) { ids.push(r[0]); rows.push([]); }
      if (r[2] !== null) rows[rows.length - 1].push(renderRow(r)); // null: a mutual contact without presence rows
    }
    return { ids, rows };
  }
}

/** Above this many contacts with changed presence, one query for the whole answer is cheaper than one per contact. */
const MAX_SINGLE_LOADS = 4;

function renderRow(r: PresenceViewRow): RenderedRow {
  const updatedAt = Number(r[7]);
  return {
    head: '{"username":' + JSON.stringify(r[1]) + ',"deviceId":' + JSON.stringify(r[2]) + ',"status":',
    status: JSON.stringify(r[3]),
    tail: ',"candidates":' + r[4] + ',"nat":' + (r[5] ?? 'null') + ',"supernode":' + (r[6] ?? 'null') + ',"updatedAt":' + updatedAt + '}',
    updatedAt,
  };
}

const renderRows = (rows: PresenceViewRow[]): RenderedRow[] => rows.map(renderRow);

function render(parts: RenderedRow[][], staleBefore: number): string {
  let out = '[';
  for (const rows of parts) {
    for (const r of rows) out += (out.length > 1 ? ',' : '') + r.head + (r.updatedAt < staleBefore ? '"offline"' : r.status) + r.tail;
  }
  return out + ']';
}
