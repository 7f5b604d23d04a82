// `tincan register <username>` and `tincan login <username>`: create an account at the
// directory / log in and store {directory, username, token} in <state-dir>/account.json
// (0600). The password comes from a prompt, or the first line of stdin with
// --password-stdin; never from argv. `tincan logout` revokes the token and forgets it.
import type { Command } from 'commander';
import { rmSync } from 'node:fs';
import { DirectoryClient } from '../directory/client.ts';
import { accountFile, ensureStateDir, loadAccount, resolveStateDir, saveAccount } from '../apps/state-dir.ts';
import { directoryUrl, withDirectory, withStateDir } from './common.ts';
import { getPassword } from './password.ts';
import { explain } from './user-errors.ts';

interface Opts { stateDir?: string; directory?: string; passwordStdin: boolean }

export function registerAccount(program: Command): void {
  withDirectory(withStateDir(program.command('register <username>')))
    .description('create an account at the directory (then: tincan login)')
    .option('--password-stdin', 'read the password from the first line of stdin', false)
    .action(async (username: string, o: Opts) => {
      const stateDir = resolveStateDir(o.stateDir);
      const url = directoryUrl(o.directory, stateDir);
      const password = await getPassword(o.passwordStdin, true);
      try { await new DirectoryClient(url).register(username, password); } catch (e) { throw explain(e, { directory: url, username, action: 'register' }); }
      console.log(`registered ${username} at ${url}`);
    });

  withDirectory(withStateDir(program.command('login <username>')))
    .description('log in at the directory; keeps the session token in the state dir (0600)')
    .option('--password-stdin', 'read the password from the first line of stdin', false)
    .action(async (username: string, o: Opts) => {
      const stateDir = ensureStateDir(resolveStateDir(o.stateDir));
      const url = directoryUrl(o.directory, stateDir);
      const password = await getPassword(o.passwordStdin, false);
      let s;
      try { s = await new DirectoryClient(url).login(username, password); } catch (e) { throw explain(e, { directory: url, username, action: 'login' }); }
      saveAccount(stateDir, { directory: url, username: s.username, token: s.token, expiresAt: s.expiresAt });
      console.log(`logged in as ${s.username} at ${url} (state dir ${stateDir})`);
    });

  withStateDir(program.command('logout'))
    .description('revoke the session token and forget it')
    .action(async (o: { stateDir?: string }) => {
      const stateDir = resolveStateDir(o.stateDir);
      const a = loadAccount(stateDir);
      if (!a) { console.log('not logged in'); return; }
      try { await new DirectoryClient(a.directory, a.token).logout(); } catch { /* revoked or unreachable: forget it anyway */ }
      rmSync(accountFile(stateDir), { force: true });
      console.log(`logged out ${a.username}`);
    });
}
