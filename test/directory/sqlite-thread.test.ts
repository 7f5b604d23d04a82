// The SQLite writer thread (src/directory/store/sqlite-thread.ts): while the
// thread waits on another connection's write lock, this thread keeps running
// (timers fire) and the write lands once the lock is released; errors come
// back as rejections with SQLite's code; transactions roll back.
import { describe, it, expect, afterAll } from 'vitest';
import SqliteDatabase from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/directory/store/open.ts';
import { DirectoryStore } from '../../src/directory/store/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'tincan-sqlite-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite writer thread', () => {
  it('waits for a lock held by another connection without blocking the event loop; errors and rollbacks', async () => {
    const path = join(dir, 'd.sqlite');
    const opened = await openDatabase(path);
    const store = new DirectoryStore(opened.db, opened.readQuery);
    try {
      const other = new SqliteDatabase(path);
      other.exec('BEGIN IMMEDIATE'); // another process's writer holds the lock
      let ticks = 0;
      const timer = setInterval(() => { ticks++; }, 5);
      const write = store.createUser('locked-out', 'h', 1);
      await new Promise((r) => setTimeout(r, 150));
      const ticksWhileLocked = ticks;
      other.exec('COMMIT'); other.close();
      const id = await write;
      clearInterval(timer);
      expect(ticksWhileLocked).toBeGreaterThan(3); // the event loop ran while the write waited
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect((await store.userByName('locked-out'))?.id).toBe(id); // committed and readable on the read connection
      // SQLite errors reach the caller with their code
      await expect(opened.db.insertInto('devices').values({ id: 'x', user_id: 'nobody', name: 'n', x25519: 'k', ed25519: null, created_at: 1 }).execute())
        .rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
      // a failed transaction leaves nothing behind
      await expect(opened.db.transaction().execute(async (trx) => {
        await trx.insertInto('users').values({ id: 'u2', username: 'rolled-back', password_hash: 'h', created_at: 1, updated_at: 1, contacts_updated_at: 1 }).execute();
        throw new Error('abort');
      })).rejects.toThrow('abort');
      expect(await store.userByName('rolled-back')).toBeUndefined();
    } finally { await opened.close(); }
  });
});
