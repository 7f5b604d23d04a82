// Opens the directory database from a URL and brings its schema up to date.
// Contract: `sqlite:<path>` or a bare file path -> better-sqlite3 file in WAL
// mode with synchronous=FULL (a committed write survives kill -9 and power
// loss), written on a worker thread (sqlite-thread.ts: a commit's fsync does
// not stall the event loop) and read on a read-only connection in this
// thread; `postgres://...` -> a pg Pool. `schema` (pg only) selects a
// PostgreSQL schema via search_path (tests use one fresh schema per file).
// bigint columns come back as JS numbers on both engines.
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database } from './schema.ts';
import { migrationProvider } from './migrations.ts';
import { ThreadSqliteDialect } from './sqlite-thread.ts';

export type Engine = 'sqlite' | 'postgres';

/**
 * Runs SQL as a prepared statement (PostgreSQL: named, per connection; SQLite:
 * on the read-only connection). `arrays`: each row as an array of the
 * selected columns in order, instead of an object (cheaper for wide lists).
 */
export type NamedQuery = (name: string, text: string, values: unknown[], arrays?: boolean) => Promise<unknown[]>;

export interface OpenedDatabase {
  db: Kysely<Database>;
  engine: Engine;
  /** PostgreSQL: prepared-statement path for hot queries (skips re-planning). */
  namedQuery?: NamedQuery;
  /** SQLite file: a second, read-only connection for hot reads (sees committed data only; WAL lets it read while the writer writes). */
  readQuery?: NamedQuery;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL schema to use (created if missing). */
  schema?: string;
  /** pg pool size (default 10). */
  poolSize?: number;
}

const PG_INT8 = 20;

export function engineOf(url: string): Engine {
  return /^postgres(ql)?:\/\//.test(url) ? 'postgres' : 'sqlite';
}

export async function openDatabase(url: string, opts: OpenOptions = {}): Promise<OpenedDatabase> {
  const engine = engineOf(url);
  let db: Kysely<Database>;
  let namedQuery: NamedQuery | undefined;
  let readQuery: NamedQuery | undefined;
  let closeReader = () => {};
  let sqlitePath: string | undefined;
  if (engine === 'sqlite') {
    const path = url.replace(/^sqlite:(\/\/)?/, '');
    sqlitePath = path;
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true });
      db = new Kysely<Database>({ dialect: new ThreadSqliteDialect(path) });
    } else db = memoryDatabase();
  } else {
    const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') => oid === PG_INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text') };
    if (opts.schema && !/^[a-z_][a-z0-9_]*$/.test(opts.schema)) throw new Error(`invalid schema name ${opts.schema}`);
    if (opts.schema) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try { await admin.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`); } finally { await admin.end(); }
    }
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      types: types as pg.CustomTypesConfig,
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    namedQuery = async (name, text, values, arrays) => arrays
      ? (await pool.query({ name: `${name}_a`, text, values, rowMode: 'array' } satisfies pg.QueryArrayConfig)).rows
      : (await pool.query({ name, text, values })).rows;
  }
  // Kysely looks for its migration tables across all schemas unless told which
  // one; name it, or a migration table in another schema would be mistaken for ours.
  let migrationTableSchema: string | undefined;
  if (engine === 'postgres') {
    migrationTableSchema = opts.schema ?? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s;
  }
  const migrator = new Migrator({ db, provider: migrationProvider, ...(migrationTableSchema ? { migrationTableSchema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`database migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (sqlitePath && sqlitePath !== ':memory:') {
    const reader = new SqliteDatabase(sqlitePath, { readonly: true });
    reader.pragma('busy_timeout = 5000');
    const statements = new Map<string, SqliteDatabase.Statement>();
    readQuery = async (_name, text, values, arrays) => {
      const key = arrays ? `a:${text}` : text;
      let st = statements.get(key);
      if (!st) { st = reader.prepare(text); if (arrays) st.raw(true); statements.set(key, st); }
      return st.all(...values);
    };
    closeReader = () => reader.close();
  }
  return { db, engine, namedQuery, readQuery, close: async () => { closeReader(); await db.destroy(); } };
}

/** `:memory:` SQLite on this thread (one connection: a worker thread could not share it with readers anyway). */
function memoryDatabase(): Kysely<Database> {
  const raw = new SqliteDatabase(':memory:');
  raw.pragma('foreign_keys = ON');
  // Kysely prepares every query anew; keep prepared statements (bounded cache).
  const statements = new Map<string, SqliteDatabase.Statement>();
  const cached = {
    close: () => { statements.clear(); raw.close(); },
    prepare(text: string) {
      let st = statements.get(text);
      if (!st) {
        st = raw.prepare(text);
        if (statements.size >= 1000) statements.delete(statements.keys().next().value!);
        statements.set(text, st);
      }
      return st;
    },
  };
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) });
}

/** Drops a PostgreSQL schema (test cleanup). */
export async function dropPgSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try { await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`); } finally { await admin.end(); }
}

export { sql };
