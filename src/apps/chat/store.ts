// Persistent chat state of one user (SQLite file, created 0600). Sequence spaces are per
// device pair: for each contact DEVICE the next outgoing seq and the highest delivered
// incoming seq (`conversations`, keyed by contact username and device id), plus every
// message (history, per contact username). An outgoing message is first queued
// unassigned (device '', seq 0: the contact may have several devices and we do not know
// yet which one we will reach); it is assigned to a device and numbered in that device's
// space when a link to that device comes up, and stays with that device until its receipt.
// Every record* call is one transaction, so a crash leaves either the old or the new state
// — an incoming message is stored in the same transaction that advances `delivered`,
// before its ACK is written.
// Bounded history: per contact at most `maxHistory` (default 10,000) finished messages
// (out 'delivered' + in 'received') are kept; older ones are deleted in the transaction
// that adds or finishes a message. Queued outgoing messages (the outbox) are never
// pruned. Dedupe needs no stored message: it relies on the `delivered` watermark in
// `conversations`, which pruning never touches, so a resent old message stays a duplicate.
// Files written before device spaces existed (schema 1: one space per username) are
// migrated on open: their state becomes device '' and is adopted, unchanged, by the first
// device of that contact that links (the one device such a file could have talked to).
import Database from 'better-sqlite3';
import { chmodSync, closeSync, openSync } from 'node:fs';
import type { InMessage } from './receiver.ts';
import type { OutMessage, SenderInit } from './sender.ts';

export type Direction = 'out' | 'in';
export interface HistoryEntry {
  /** The contact's username; `device`: the contact device the message went to / came from ('' = not yet assigned). */
  peer: string; device: string; direction: Direction; seq: number; id: string; sentAt: number; at: number; text: string;
  /** out: 'queued' until the receipt, then 'delivered'; in: 'received'. */
  status: 'queued' | 'delivered' | 'received';
  deliveredAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversations (
  peer TEXT NOT NULL, device TEXT NOT NULL, next_seq INTEGER NOT NULL DEFAULT 1, delivered INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (peer, device));
CREATE TABLE IF NOT EXISTS messages (
  n INTEGER PRIMARY KEY AUTOINCREMENT, peer TEXT NOT NULL, dir TEXT NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
  sent_at INTEGER NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, delivered_at INTEGER,
  device TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS messages_peer ON messages (peer, n);
CREATE INDEX IF NOT EXISTS messages_outbox ON messages (peer, dir, status);
`;

/** Schema 1 (one sequence space per username) -> device spaces: the old state becomes device ''. */
function migrate(db: Database.Database): void {
  const cols = (t: string) => (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
  if (cols('conversations').length === 0 || cols('conversations').includes('device')) return;
  db.transaction(() => {
    db.exec(`ALTER TABLE conversations RENAME TO conversations_v1;
      CREATE TABLE conversations (
        peer TEXT NOT NULL, device TEXT NOT NULL, next_seq INTEGER NOT NULL DEFAULT 1, delivered INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (peer, device));
      INSERT INTO conversations (peer, device, next_seq, delivered) SELECT peer, '', next_seq, delivered FROM conversations_v1;
      DROP TABLE conversations_v1;`);
    if (!cols('messages').includes('device')) db.exec(`ALTER TABLE messages ADD COLUMN device TEXT NOT NULL DEFAULT ''`);
  })();
}

/** A queued outgoing message not yet assigned to a contact device (no seq yet). */
export interface Unassigned { readonly id: Uint8Array; readonly sentAt: number; readonly text: string }

interface Row { peer: string; device: string; dir: Direction; seq: number; id: Buffer; sent_at: number; at: number; text: string; status: HistoryEntry['status']; delivered_at: number | null }

export const DEFAULT_MAX_HISTORY = 10_000;

export interface ChatStoreOptions {
  /** Finished messages kept per contact (newest first); Infinity keeps all. Default 10,000. */
  maxHistory?: number;
}

export class ChatStore {
  private constructor(private readonly db: Database.Database, private readonly maxHistory: number) {}

  static open(path: string, opts: ChatStoreOptions = {}): ChatStore {
    const maxHistory = opts.maxHistory ?? DEFAULT_MAX_HISTORY;
    if (!(maxHistory === Infinity || (Number.isInteger(maxHistory) && maxHistory >= 1))) throw new RangeError(`maxHistory must be an integer >= 1 or Infinity, got ${maxHistory}`);
    if (path !== ':memory:') closeSync(openSync(path, 'a', 0o600));
    const db = new Database(path);
    if (path !== ':memory:') chmodSync(path, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrate(db);
    db.exec(SCHEMA);
    return new ChatStore(db, maxHistory);
  }

  /** Finished-message count per contact, as committed (loaded by one COUNT on first use). */
  private readonly finished = new Map<string, number>();

  /** One finished message was just added for `peer`: deletes the oldest beyond maxHistory (inside the transaction). */
  private prune(peer: string): void {
    if (this.maxHistory === Infinity) return;
    const cached = this.finished.get(peer);
    let count = cached !== undefined ? cached + 1
      : (this.db.prepare(`SELECT COUNT(*) AS c FROM messages WHERE peer = ? AND status != 'queued'`).get(peer) as { c: number }).c;
    if (count > this.maxHistory) {
      this.db.prepare(`DELETE FROM messages WHERE n IN (SELECT n FROM messages WHERE peer = ? AND status != 'queued' ORDER BY n LIMIT ?)`)
        .run(peer, count - this.maxHistory);
      count = this.maxHistory;
    }
    this.finished.set(peer, count);
  }

  /** Runs `f` in one transaction; a failed one forgets the cached count (it may not have committed). */
  private tx(peer: string, f: () => void): void {
    try { this.db.transaction(f)(); } catch (e) { this.finished.delete(peer); throw e; }
  }

  private ensure(peer: string, device: string): void {
    this.db.prepare('INSERT OR IGNORE INTO conversations (peer, device) VALUES (?, ?)').run(peer, device);
  }

  /**
   * The state of the conversation with one contact device. The first time a device of
   * `peer` is loaded, a schema-1 state of that contact (device '') becomes this device's.
   */
  load(peer: string, device: string): { sender: SenderInit; delivered: number } {
    if (device === '') throw new RangeError('device id must not be empty');
    this.adoptLegacy(peer, device);
    const c = this.db.prepare('SELECT next_seq, delivered FROM conversations WHERE peer = ? AND device = ?').get(peer, device) as { next_seq: number; delivered: number } | undefined;
    const rows = this.db.prepare(`SELECT * FROM messages WHERE peer = ? AND device = ? AND dir = 'out' AND status = 'queued' AND seq > 0 ORDER BY seq`).all(peer, device) as Row[];
    const outbox: OutMessage[] = rows.map((r) => ({ seq: r.seq, id: new Uint8Array(r.id), sentAt: r.sent_at, text: r.text }));
    return { sender: { nextSeq: c?.next_seq ?? 1, outbox }, delivered: c?.delivered ?? 0 };
  }

  private adoptLegacy(peer: string, device: string): void {
    this.db.transaction(() => {
      const legacy = this.db.prepare(`SELECT 1 FROM conversations WHERE peer = ? AND device = ''`).get(peer);
      const mine = this.db.prepare('SELECT 1 FROM conversations WHERE peer = ? AND device = ?').get(peer, device);
      if (!legacy || mine) return;
      this.db.prepare(`UPDATE conversations SET device = ? WHERE peer = ? AND device = ''`).run(device, peer);
      // numbered messages of schema 1 (unassigned ones have seq 0 and stay unassigned)
      this.db.prepare(`UPDATE messages SET device = ? WHERE peer = ? AND device = '' AND seq > 0`).run(device, peer);
    })();
  }

  /** Queued outgoing messages to `peer` not yet assigned to a device, oldest first. */
  unassigned(peer: string): Unassigned[] {
    const rows = this.db.prepare(`SELECT * FROM messages WHERE peer = ? AND device = '' AND dir = 'out' AND status = 'queued' AND seq = 0 ORDER BY n`).all(peer) as Row[];
    return rows.map((r) => ({ id: new Uint8Array(r.id), sentAt: r.sent_at, text: r.text }));
  }

  /** One of our outgoing messages (id hex): status, seq (0 while unassigned) and device; undefined when unknown (or pruned). */
  outgoing(idHex: string): { status: HistoryEntry['status']; seq: number; device: string } | undefined {
    if (!/^[0-9a-f]{32}$/.test(idHex)) return undefined;
    return this.db.prepare(`SELECT status, seq, device FROM messages WHERE dir = 'out' AND id = ?`).get(Buffer.from(idHex, 'hex')) as { status: HistoryEntry['status']; seq: number; device: string } | undefined;
  }

  /** Does `peer` have queued messages numbered in a schema-1 space, not yet adopted by a device (load())? */
  hasLegacyOutbox(peer: string): boolean {
    return this.db.prepare(`SELECT 1 FROM messages WHERE peer = ? AND device = '' AND dir = 'out' AND status = 'queued' AND seq > 0 LIMIT 1`).get(peer) !== undefined;
  }

  /** Devices of `peer` with queued outgoing messages numbered in their space. */
  devicesWithOutbox(peer: string): string[] {
    return (this.db.prepare(`SELECT DISTINCT device FROM messages WHERE peer = ? AND device != '' AND dir = 'out' AND status = 'queued'`).all(peer) as { device: string }[]).map((r) => r.device);
  }

  /** Contacts with undelivered outgoing messages. */
  peersWithOutbox(): string[] {
    return (this.db.prepare(`SELECT DISTINCT peer FROM messages WHERE dir = 'out' AND status = 'queued'`).all() as { peer: string }[]).map((r) => r.peer);
  }

  /** A new outgoing message, queued and not yet assigned to a device. */
  recordOutgoing(peer: string, m: Unassigned, at: number): void {
    this.db.prepare(`INSERT INTO messages (peer, device, dir, seq, id, sent_at, at, text, status) VALUES (?, '', 'out', 0, ?, ?, ?, ?, 'queued')`)
      .run(peer, Buffer.from(m.id), m.sentAt, at, m.text);
  }

  /** An unassigned message was numbered `seq` in `device`'s space (whose next seq is now nextSeq). */
  recordAssigned(peer: string, device: string, id: Uint8Array, seq: number, nextSeq: number): void {
    this.db.transaction(() => {
      this.ensure(peer, device);
      this.db.prepare(`UPDATE messages SET device = ?, seq = ? WHERE peer = ? AND device = '' AND dir = 'out' AND id = ? AND status = 'queued'`)
        .run(device, seq, peer, Buffer.from(id));
      this.db.prepare('UPDATE conversations SET next_seq = ? WHERE peer = ? AND device = ?').run(nextSeq, peer, device);
    })();
  }

  recordDelivered(peer: string, device: string, id: Uint8Array, at: number): void {
    this.tx(peer, () => {
      const r = this.db.prepare(`UPDATE messages SET status = 'delivered', delivered_at = ? WHERE peer = ? AND device = ? AND dir = 'out' AND id = ? AND status = 'queued'`)
        .run(at, peer, device, Buffer.from(id));
      if (r.changes > 0) this.prune(peer);
    });
  }

  recordRenumbered(peer: string, device: string, id: Uint8Array, seq: number, nextSeq: number): void {
    this.db.transaction(() => {
      this.ensure(peer, device);
      this.db.prepare(`UPDATE messages SET seq = ? WHERE peer = ? AND device = ? AND dir = 'out' AND id = ? AND status = 'queued'`).run(seq, peer, device, Buffer.from(id));
      this.db.prepare('UPDATE conversations SET next_seq = ? WHERE peer = ? AND device = ?').run(nextSeq, peer, device);
    })();
  }

  /** The outbox renumbered by one HELLO (`moves`: id -> new seq), all in one transaction with next_seq: a crash leaves all or none. */
  recordRenumbering(peer: string, device: string, moves: readonly { id: Uint8Array; seq: number }[], nextSeq: number): void {
    this.db.transaction(() => {
      this.ensure(peer, device);
      const up = this.db.prepare(`UPDATE messages SET seq = ? WHERE peer = ? AND device = ? AND dir = 'out' AND id = ? AND status = 'queued'`);
      for (const m of moves) up.run(m.seq, peer, device, Buffer.from(m.id));
      this.db.prepare('UPDATE conversations SET next_seq = ? WHERE peer = ? AND device = ?').run(nextSeq, peer, device);
    })();
  }

  /** Sets next_seq alone (the sender aligned to a receiver that lost state). */
  recordNextSeq(peer: string, device: string, nextSeq: number): void {
    this.ensure(peer, device);
    this.db.prepare('UPDATE conversations SET next_seq = ? WHERE peer = ? AND device = ?').run(nextSeq, peer, device);
  }

  recordIncoming(peer: string, device: string, m: InMessage, at: number): void {
    this.tx(peer, () => {
      this.ensure(peer, device);
      this.db.prepare('UPDATE conversations SET delivered = ? WHERE peer = ? AND device = ?').run(m.seq, peer, device);
      this.db.prepare(`INSERT INTO messages (peer, device, dir, seq, id, sent_at, at, text, status) VALUES (?, ?, 'in', ?, ?, ?, ?, ?, 'received')`)
        .run(peer, device, m.seq, Buffer.from(m.id), m.sentAt, at, m.text);
      this.prune(peer);
    });
  }

  /** Stored messages with `peer` (finished and queued). */
  count(peer: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS c FROM messages WHERE peer = ?').get(peer) as { c: number }).c;
  }

  /** The last `limit` messages with `peer` (all contacts when undefined), oldest first. */
  history(peer: string | undefined, limit = 50): HistoryEntry[] {
    const rows = (peer === undefined
      ? this.db.prepare('SELECT * FROM messages ORDER BY n DESC LIMIT ?').all(limit)
      : this.db.prepare('SELECT * FROM messages WHERE peer = ? ORDER BY n DESC LIMIT ?').all(peer, limit)) as Row[];
    return rows.reverse().map(toEntry);
  }

  close(): void { this.db.close(); }
}

export function toEntry(r: Row): HistoryEntry {
  return {
    peer: r.peer, device: r.device, direction: r.dir, seq: r.seq, id: Buffer.from(r.id).toString('hex'), sentAt: r.sent_at, at: r.at,
    text: r.text, status: r.status, deliveredAt: r.delivered_at,
  };
}
