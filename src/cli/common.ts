// Options shared by the user commands: --state-dir (else TINCAN_HOME, else
// ~/.config/tincan) and --directory (else TINCAN_DIRECTORY, else the logged-in
// account's, else http://127.0.0.1:7400); and loading the logged-in account.
import type { Command } from 'commander';
import { DirectoryClient } from '../directory/client.ts';
import { loadAccount, type Account } from '../apps/state-dir.ts';
import { CliError } from './user-errors.ts';

export const DEFAULT_DIRECTORY = 'http://127.0.0.1:7400';

export function withStateDir(cmd: Command): Command {
  return cmd.option('--state-dir <dir>', 'state directory [env TINCAN_HOME] (default ~/.config/tincan)');
}

export function withDirectory(cmd: Command): Command {
  return cmd.option('--directory <url>', `directory URL [env TINCAN_DIRECTORY] (default: the logged-in account's, else ${DEFAULT_DIRECTORY})`);
}

export function directoryUrl(flag: string | undefined, stateDir: string): string {
  const url = flag ?? (process.env.TINCAN_DIRECTORY || undefined) ?? safeAccount(stateDir)?.directory ?? DEFAULT_DIRECTORY;
  if (!/^https?:\/\/[^/\s]+/.test(url)) throw new CliError(`--directory must be an http(s) URL, got ${url}`);
  return url;
}

function safeAccount(stateDir: string): Account | undefined {
  try { return loadAccount(stateDir); } catch { return undefined; }
}

export function requireAccount(stateDir: string): Account {
  const a = loadAccount(stateDir);
  if (!a) throw new CliError(`not logged in (state dir ${stateDir}): run \`tincan login <username>\``);
  return a;
}

export function loggedInClient(stateDir: string): { account: Account; dir: DirectoryClient } {
  const account = requireAccount(stateDir);
  return { account, dir: new DirectoryClient(account.directory, account.token) };
}
