// Test helper: the two storage engines every directory suite runs against.
// SQLite uses a fresh temp file; PostgreSQL uses TINCAN_TEST_PG_URL and a fresh
// schema per call, so parallel test files never collide. When PostgreSQL is not
// configured, `engines` marks it skipped and the suite prints the reason.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { dropPgSchema } from '../../src/directory/store/open.ts';

export type EngineName = 'sqlite' | 'postgres';

export const PG_URL = process.env.TINCAN_TEST_PG_URL ?? '';
export const REDIS_URL = process.env.TINCAN_TEST_REDIS_URL ?? '';

export interface EngineCase { engine: EngineName; skip: string | undefined }

export const engines: EngineCase[] = [
  { engine: 'sqlite', skip: undefined },
  { engine: 'postgres', skip: PG_URL ? undefined : 'TINCAN_TEST_PG_URL is not set (no PostgreSQL to test against)' },
];

export interface TestDb { url: string; schema: string | undefined; cleanup(): Promise<void> }

/** A fresh, empty database location for `engine`. */
export function freshDb(engine: EngineName): TestDb {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-dir-'));
    return { url: join(dir, 'directory.sqlite'), schema: undefined, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  return { url: PG_URL, schema, cleanup: () => dropPgSchema(PG_URL, schema) };
}

/** Prints the skip reason once per suite (vitest does not print skipIf reasons). */
export function announceSkip(what: string, reason: string | undefined): void {
  if (reason) console.log(`skipped: ${what}: ${reason}`);
}
