// Persistent chat state of one user (SQLite file, created 0600): per contact the next
// outgoing seq and the highest delivered incoming seq, plus every message (history),
// whose undelivered outgoing ones are the outbox. Every record* call is one transaction,
// so a crash leaves either the old or the new state — an incoming message is stored in
// the same transaction that advances `delivered`, before its ACK is written.
// Bounded history: per contact at most `maxHistory` (default 10,000) finished messages
// (out 'delivered' + in 'received') are kept; older ones are deleted in the transaction
// that adds or finishes a message. Queued outgoing messages (the outbox) are never
// pruned. Dedupe needs no stored message: it relies on the `delivered` watermark in
// `conversations`, which pruning never touches, so a resent old message stays a duplicate.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, openSync } from 'node:fs';
import type { InMessage } from './receiver.ts';
import type { OutMessage, SenderInit } from './sender.ts';

export type Direction = 'out' | 'in';
export interface HistoryEntry {
  peer: string; direction: Direction; seq: number; id: string; sentAt: number; at: number; text: string;
  /** out: 'queued' until the receipt, then 'delivered'; in: 'received'. */
  status: 'queued' | 'delivered' | 'received';
  deliveredAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversations (peer TEXT PRIMARY KEY, next_seq INTEGER NOT NULL DEFAULT 1, delivered INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS messages (
  n INTEGER PRIMARY KEY AUTOINCREMENT, peer TEXT NOT NULL, dir TEXT NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
  sent_at INTEGER NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, delivered_at INTEGER);
CREATE INDEX IF NOT EXISTS messages_peer ON messages (peer, n);
CREATE INDEX IF NOT EXISTS messages_outbox ON messages (peer, dir, status);
`;

interface Row { peer: string; dir: Direction; seq: number; id: Buffer; sent_at: number; at: number; text: string; status: HistoryEntry['status']; delivered_at: number | null }

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

  private ensure(peer: string): void {
    this.db.prepare('INSERT OR IGNORE INTO conversations (peer) VALUES (?)').run(peer);
  }

  load(peer: string): { sender: SenderInit; delivered: number } {
    const c = this.db.prepare('SELECT next_seq, delivered FROM conversations WHERE peer = ?').get(peer) as { next_seq: number; delivered: number } | undefined;
    const rows = this.db.prepare(`SELECT * FROM messages WHERE peer = ? AND dir = 'out' AND status = 'queued' ORDER BY seq`).all(peer) as Row[];
    const outbox: OutMessage[] = rows.map((r) => ({ seq: r.seq, id: new Uint8Array(r.id), sentAt: r.sent_at, text: r.text }));
    return { sender: { nextSeq: c?.next_seq ?? 1, outbox }, delivered: c?.delivered ?? 0 };
  }

  /** Contacts with undelivered outgoing messages. */
  peersWithOutbox(): string[] {
    return (this.db.prepare(`SELECT DISTINCT peer FROM messages WHERE dir = 'out' AND status = 'queued'`).all() as { peer: string }[]).map((r) => r.peer);
  }

  recordOutgoing(peer: string, m: OutMessage, nextSeq: number, at: number): void {
    this.db.transaction(() => {
      this.ensure(peer);
      this.db.prepare('UPDATE conversations SET next_seq = ? WHERE peer = ?').run(nextSeq, peer);
      this.db.prepare(`INSERT INTO messages (peer, dir, seq, id, sent_at, at, text, status) VALUES (?, 'out', ?, ?, ?, ?, ?, 'queued')`)
        .run(peer, m.seq, Buffer.from(m.id), m.sentAt, at, m.text);
    })();
  }

  recordDelivered(peer: string, id: Uint8Array, at: number): void {
    this.tx(peer, () => {
      const r = this.db.prepare(`UPDATE messages SET status = 'delivered', delivered_at = ? WHERE peer = ? AND dir = 'out' AND id = ? AND status = 'queued'`)
        .run(at, peer, Buffer.from(id));
      if (r.changes > 0) this.prune(peer);
    });
  }

  recordRenumbered(peer: string, id: Uint8Array, seq: number, nextSeq: number): void {
    this.db.transaction(() => {
      this.ensure(peer);
      this.db.prepare(`UPDATE messages SET seq = ? WHERE peer = ? AND dir = 'out' AND id = ? AND status = 'queued'`).run(seq, peer, Buffer.from(id));
      this.db.prepare('UPDATE conversations SET next_seq = ? WHERE peer = ?').run(nextSeq, peer);
    })();
  }

  /** Sets next_seq alone (the sender aligned to a receiver that lost state). */
  recordNextSeq(peer: string, nextSeq: number): void {
    this.ensure(peer);
    this.db.prepare('UPDATE conversations SET next_seq = ? WHERE peer = ?').run(nextSeq, peer);
  }

  recordIncoming(peer: string, m: InMessage, at: number): void {
    this.tx(peer, () => {
      this.ensure(peer);
      this.db.prepare('UPDATE conversations SET delivered = ? WHERE peer = ?').run(m.seq, peer);
      this.db.prepare(`INSERT INTO messages (peer, dir, seq, id, sent_at, at, text, status) VALUES (?, 'in', ?, ?, ?, ?, ?, 'received')`)
        .run(peer, m.seq, Buffer.from(m.id), m.sentAt, at, m.text);
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
    peer: r.peer, direction: r.dir, seq: r.seq, id: Buffer.from(r.id).toString('hex'), sentAt: r.sent_at, at: r.at,
    text: r.text, status: r.status, deliveredAt: r.delivered_at,
  };
}
