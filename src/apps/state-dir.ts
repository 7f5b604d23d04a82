// A user's state directory (--state-dir, else TINCAN_HOME, else ~/.config/tincan): 0700.
// Holds account.json (directory URL, username, session token; 0600, written atomically),
// chat.sqlite (history + outbox), control.sock (the daemon's control socket), and the
// peer's own files (device identity, key pins). Nothing here logs the token.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface Account {
  directory: string;
  username: string;
  token: string;
  expiresAt: number;
}

export function resolveStateDir(flag?: string): string {
  return resolve(flag ?? (process.env.TINCAN_HOME || join(homedir(), '.config', 'tincan')));
}

export function ensureStateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

export const accountFile = (dir: string) => join(dir, 'account.json');
export const chatDbFile = (dir: string) => join(dir, 'chat.sqlite');
export const controlSocket = (dir: string) => join(dir, 'control.sock');

export function saveAccount(dir: string, a: Account): void {
  ensureStateDir(dir);
  const tmp = accountFile(dir) + '.tmp';
  writeFileSync(tmp, JSON.stringify(a, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, accountFile(dir));
}

/** The stored account, or undefined when not logged in. Throws on a corrupt file. */
export function loadAccount(dir: string): Account | undefined {
  let text: string;
  try { text = readFileSync(accountFile(dir), 'utf8'); } catch { return undefined; }
  const a = JSON.parse(text) as Partial<Account>;
  if (typeof a.directory !== 'string' || typeof a.username !== 'string' || typeof a.token !== 'string') {
    throw new Error(`${accountFile(dir)} is not a tincan account file; run \`tincan login\` again`);
  }
  return { directory: a.directory, username: a.username, token: a.token, expiresAt: Number(a.expiresAt ?? 0) };
}
