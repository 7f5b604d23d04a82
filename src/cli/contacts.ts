// `tincan contacts add <user>` (send a request), `contacts accept <user>`, `contacts list`
// (with presence of mutual contacts). Uses the logged-in account of the state dir.
import type { Command } from 'commander';
import { resolveStateDir } from '../apps/state-dir.ts';
import { loggedInClient, withStateDir } from './common.ts';
import { explain } from './user-errors.ts';

export function registerContacts(program: Command): void {
  const contacts = program.command('contacts').description('manage contacts: add, accept, list');

  withStateDir(contacts.command('add <username>'))
    .description('ask <username> to become a contact (they run: tincan contacts accept <you>)')
    .action(async (username: string, o: { stateDir?: string }) => {
      const { account, dir } = loggedInClient(resolveStateDir(o.stateDir));
      try {
        const r = await dir.requestContact(username);
        console.log(r.state === 'accepted' ? `${username} is now a contact` : `contact request sent to ${username}`);
      } catch (e) { throw explain(e, { directory: account.directory, username, action: 'contact' }); }
    });

  withStateDir(contacts.command('accept <username>'))
    .description("accept <username>'s contact request")
    .action(async (username: string, o: { stateDir?: string }) => {
      const { account, dir } = loggedInClient(resolveStateDir(o.stateDir));
      try {
        await dir.acceptContact(username);
        console.log(`${username} is now a contact`);
      } catch (e) { throw explain(e, { directory: account.directory, username, action: 'contact' }); }
    });

  withStateDir(contacts.command('list'))
    .description('list contacts, pending requests and who is online')
    .option('--json', 'print JSON', false)
    .action(async (o: { stateDir?: string; json: boolean }) => {
      const { account, dir } = loggedInClient(resolveStateDir(o.stateDir));
      try {
        const [list, presence] = await Promise.all([dir.contacts(), dir.presence()]);
        const online = new Set(presence.filter((p) => p.status !== 'offline').map((p) => p.username));
        if (o.json) { console.log(JSON.stringify(list.map((c) => ({ ...c, online: online.has(c.username) })))); return; }
        if (list.length === 0) { console.log('no contacts yet: tincan contacts add <username>'); return; }
        for (const c of list) {
          const what = c.state === 'accepted' ? (online.has(c.username) ? 'online' : 'offline') : c.state === 'incoming' ? 'wants to be your contact (tincan contacts accept ' + c.username + ')' : c.state === 'outgoing' ? 'request sent' : c.state;
          console.log(`${c.username.padEnd(20)} ${what}`);
        }
      } catch (e) { throw explain(e, { directory: account.directory }); }
    });
}
