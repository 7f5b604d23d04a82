// Kysely dialect for the directory's SQLite writer connection, run on a
// worker thread. better-sqlite3 is synchronous: with synchronous=FULL every
// commit waits for fsync (milliseconds), and on the main thread that wait
// stalls every request of the process. Here the connection lives in a
// worker thread and the main thread only awaits a message, so cached and
// read-only lookups keep being served while a write commits.
// Contract: the same SQL, pragmas (WAL, synchronous=FULL, foreign keys,
// busy timeout) and results as Kysely's SqliteDialect over better-sqlite3; one
// connection, so queries and transactions are serialized (a mutex, as in
// Kysely's own SQLite driver); transactions begin IMMEDIATE (several
// processes may write one file; a busy lock is retried every 0.05-1 ms for up
// to 5 s, the thread blocking, not the event loop); a query's promise settles only after the
// thread ran it, so an awaited commit is durable. Statements are prepared
// once per SQL text (bounded cache).
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import {
  CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler,
  type DatabaseConnection, type Dialect, type Driver, type Kysely, type QueryResult,
} from 'kysely';

// Plain CommonJS, evaluated in the thread (no TypeScript loader needed there).
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
// Another process holding the write lock: SQLite's own busy handler sleeps 1, 2, 5, 10, ... ms
// between tries; this thread may block, so poll every 0.05-1 ms instead (up to 5 s, as before).
db.pragma('busy_timeout = 0');
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function retryBusy(f) {
  const deadline = Date.now() + 5000;
  let delayMs = 0.05;
  for (;;) {
    try { return f(); } catch (e) {
      if ((e.code !== 'SQLITE_BUSY' && e.code !== 'SQLITE_BUSY_RECOVERY') || Date.now() > deadline) throw e;
      Atomics.wait(sleeper, 0, 0, delayMs);
      delayMs = Math.min(delayMs * 2, 1);
    }
  }
}
const statements = new Map();
parentPort.on('message', (m) => {
  if (m.close) { statements.clear(); db.close(); parentPort.postMessage({ id: m.id }); return; }
  try {
    let st = statements.get(m.sql);
    if (!st) {
      st = db.prepare(m.sql);
      if (statements.size >= 1000) statements.delete(statements.keys().next().value);
      statements.set(m.sql, st);
    }
    if (st.reader) parentPort.postMessage({ id: m.id, rows: retryBusy(() => st.all(m.parameters)) });
    else {
      const r = retryBusy(() => st.run(m.parameters));
      parentPort.postMessage({ id: m.id, changes: r.changes, insertId: Number(r.lastInsertRowid) });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: { message: String(e && e.message), code: e && e.code } });
  }
});
parentPort.postMessage({ ready: true });
`;

interface Reply { id?: number; ready?: boolean; rows?: unknown[]; changes?: number; insertId?: number; error?: { message: string; code?: string } }

class ThreadConnection implements DatabaseConnection {
  private nextId = 1;
  private readonly pending = new Map<number, { res: (r: Reply) => void; rej: (e: Error) => void }>();

  constructor(readonly worker: Worker) {
    worker.on('message', (r: Reply) => {
      if (r.id === undefined) return;
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (!p) return;
      if (r.error) p.rej(Object.assign(new Error(r.error.message), { code: r.error.code }));
      else p.res(r);
    });
    const failAll = (e: Error) => { for (const p of this.pending.values()) p.rej(e); this.pending.clear(); };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`sqlite thread exited (${code})`)));
  }

  send(m: { sql?: string; parameters?: readonly unknown[]; close?: true }): Promise<Reply> {
    return new Promise((res, rej) => {
      const id = this.nextId++;
      this.pending.set(id, { res, rej });
      this.worker.postMessage({ id, ...m });
    });
  }

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    const r = await this.send({ sql: q.sql, parameters: q.parameters });
    if (r.rows) return { rows: r.rows as R[] };
    return { rows: [], numAffectedRows: BigInt(r.changes ?? 0), insertId: BigInt(r.insertId ?? 0) };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported by the directory SQLite driver');
  }
}

class ThreadDriver implements Driver {
  private conn: ThreadConnection | undefined;
  private lock: Promise<void> = Promise.resolve();
  private unlock: (() => void) | undefined;

  constructor(private readonly path: string) {}

  async init(): Promise<void> {
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { path: this.path, module: createRequire(import.meta.url).resolve('better-sqlite3') } });
    await new Promise<void>((res, rej) => {
      const onMessage = (m: Reply) => { if (m.ready) { worker.off('message', onMessage); worker.off('error', rej); res(); } };
      worker.on('message', onMessage);
      worker.once('error', rej);
    });
    this.conn = new ThreadConnection(worker);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // one connection: wait for the previous holder (FIFO through the promise chain)
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise<void>((r) => { release = r; });
    await previous;
    this.unlock = release;
    return this.conn!;
  }

  async beginTransaction(c: DatabaseConnection): Promise<void> { await c.executeQuery(CompiledQuery.raw('begin immediate')); }
  async commitTransaction(c: DatabaseConnection): Promise<void> { await c.executeQuery(CompiledQuery.raw('commit')); }
  async rollbackTransaction(c: DatabaseConnection): Promise<void> { await c.executeQuery(CompiledQuery.raw('rollback')); }

  async releaseConnection(): Promise<void> {
    const u = this.unlock;
    this.unlock = undefined;
    u?.();
  }

  async destroy(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (!c) return;
    await c.send({ close: true }).catch(() => {});
    await c.worker.terminate();
  }
}

/** SQLite file at `path` behind a worker thread (see the contract above). */
export class ThreadSqliteDialect implements Dialect {
  constructor(private readonly path: string) {}
  createAdapter() { return new SqliteAdapter(); }
  createDriver(): Driver { return new ThreadDriver(this.path); }
  createQueryCompiler() { return new SqliteQueryCompiler(); }
  createIntrospector(db: Kysely<unknown>) { return new SqliteIntrospector(db); }
}
