// Review (2026-12-02): a message queued (numbered) in a store written before device spaces
// (schema 1) was never sent after the upgrade unless some other session with that contact
// came up: it stays device '' until a device of the contact is loaded (adoption), but
// ChatService.start() -> kick() saw no pending message (unassigned() wants seq 0,
// devicesWithOutbox() skips device ''), so it never connected; presence changes did not help
// either. Fixed: a contact with such a legacy outbox counts as having pending messages, so it
// is connected to, and the first device reached adopts and receives it.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { ChatService, type ChatMessageEvent } from '../../src/apps/chat/service.ts';
import { ChatStore } from '../../src/apps/chat/store.ts';
import { FakePeer } from './fake-peer.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('review2: a schema-1 store with a queued message', () => {
  it('the queued message is delivered after the upgrade, with its receipt, though nothing new is sent', { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-review2-legacy-'));
    dirs.push(dir);
    const file = join(dir, 'alice.sqlite');
    const db = new Database(file);
    db.exec(`CREATE TABLE conversations (peer TEXT PRIMARY KEY, next_seq INTEGER NOT NULL DEFAULT 1, delivered INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE messages (n INTEGER PRIMARY KEY AUTOINCREMENT, peer TEXT NOT NULL, dir TEXT NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
        sent_at INTEGER NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, delivered_at INTEGER);
      INSERT INTO conversations VALUES ('bob', 2, 0);
      INSERT INTO messages (peer, dir, seq, id, sent_at, at, text, status) VALUES ('bob', 'out', 1, x'0102030405060708090a0b0c0d0e0f10', 1, 1, 'queued before the upgrade', 'queued');`);
    db.close();
    const world = new Map<string, FakePeer>();
    const alice = new FakePeer('alice', world), bob = new FakePeer('bob', world, 'b1');
    const as = ChatStore.open(file), bs = ChatStore.open(join(dir, 'bob.sqlite'));
    const a = new ChatService({ peer: alice, store: as, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 20 });
    const b = new ChatService({ peer: bob, store: bs, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 20 });
    const got: ChatMessageEvent[] = [];
    b.on('message', (m) => got.push(m));
    b.start(); a.start();
    try {
      const receipt = await a.waitReceipt('0102030405060708090a0b0c0d0e0f10', 3_000);
      expect({ receipt, got: got.map((m) => m.text) }).toEqual({ receipt: true, got: ['queued before the upgrade'] });
    } finally { a.close(); b.close(); as.close(); bs.close(); }
  });
});
