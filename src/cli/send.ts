// `tincan send <user> <text...>`: hands the message to the running daemon (`tincan up`)
// and waits for the delivery receipt (--wait seconds). Exit 0: delivered. Exit 3: queued
// (the daemon keeps it and delivers it when the contact is reachable); one line says why.
import type { Command } from 'commander';
import { controlSocket, resolveStateDir } from '../apps/state-dir.ts';
import { request } from '../apps/control/client.ts';
import type { SendResponse } from '../apps/control/protocol.ts';
import { withStateDir } from './common.ts';
import { explain } from './user-errors.ts';

export const EXIT_QUEUED = 3;

export function registerSend(program: Command): void {
  withStateDir(program.command('send <username> <text...>'))
    .description('send a chat message through the running daemon; waits for the delivery receipt')
    .option('--wait <seconds>', 'how long to wait for the receipt (0: do not wait)', '10')
    .action(async (username: string, words: string[], o: { stateDir?: string; wait: string }) => {
      const wait = Number(o.wait);
      if (!(wait >= 0 && wait <= 120)) throw new Error(`--wait must be 0..120 seconds, got ${o.wait}`);
      const stateDir = resolveStateDir(o.stateDir);
      let r: SendResponse & { reason?: string };
      try {
        r = await request<SendResponse & { reason?: string }>(controlSocket(stateDir), { op: 'send', to: username, text: words.join(' '), waitMs: wait * 1000 });
      } catch (e) { throw explain(e); }
      if (r.status === 'delivered') { console.log(`delivered to ${username} (#${r.seq})`); return; }
      console.error(`tincan: ${r.reason ? `${r.reason}: ` : ''}message ${r.seq > 0 ? `#${r.seq} ` : ''}queued; it will be delivered when ${username} is reachable (while \`tincan up\` runs)`);
      process.exitCode = EXIT_QUEUED;
    });
}
