// `tincan chat <user>`: an interactive conversation in a terminal (readline): shows the
// last messages, then each incoming line as it arrives and a ✓ when a sent line's receipt
// comes back. Each typed line is sent through the daemon. Ends on Ctrl-C / Ctrl-D (with
// stdin not a terminal: after input ends and the receipts for it arrived, or 10 s).
// `tincan history [user]` prints stored messages.
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { controlSocket, resolveStateDir } from '../apps/state-dir.ts';
import { request, subscribe } from '../apps/control/client.ts';
import type { HistoryResponse, SendResponse } from '../apps/control/protocol.ts';
import type { HistoryEntry } from '../apps/chat/store.ts';
import { withStateDir } from './common.ts';
import { explain } from './user-errors.ts';
import { printable } from './printable.ts';

const time = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const line = (m: HistoryEntry, me: string) =>
  `[${time(m.at)}] ${m.direction === 'out' ? me : m.peer}: ${printable(m.text)}${m.direction === 'out' ? (m.status === 'delivered' ? '  ✓' : '  (queued)') : ''}`;

export function registerChat(program: Command): void {
  withStateDir(program.command('chat <username>'))
    .description('chat with a contact in this terminal (needs `tincan up`)')
    .action(async (peer: string, o: { stateDir?: string }) => {
      const sock = controlSocket(resolveStateDir(o.stateDir));
      let h: HistoryResponse;
      try { h = await request<HistoryResponse>(sock, { op: 'history', with: peer, limit: 10 }); } catch (e) { throw explain(e); }
      for (const m of h.messages) console.log(line(m, 'me'));
      const tty = process.stdin.isTTY === true;
      const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: tty ? `to ${peer}> ` : '' });
      const print = (s: string) => {
        if (tty) { process.stdout.write('\r\x1b[K'); console.log(s); rl.prompt(true); } else console.log(s);
      };
      const waiting = new Set<string>();
      const early = new Set<string>(); // receipts that beat the send answer
      let inputDone = false;
      let finish = () => {};
      const finished = new Promise<void>((resolve) => { finish = resolve; });
      const maybeEnd = () => { if (inputDone && waiting.size === 0) finish(); };
      const sub = await subscribe(sock, peer, (e) => {
        if (e.event === 'message') print(`[${time(Date.now())}] ${e.from}: ${printable(e.text)}`);
        else if (e.event === 'receipt') {
          if (waiting.delete(e.id)) { print(`  ✓ delivered #${e.seq}`); maybeEnd(); } else early.add(e.id);
        }
        else if (e.event === 'path') print(`  (path to ${e.peer}: ${e.kind}${e.rttMs === undefined ? '' : `, rtt ${e.rttMs.toFixed(1)} ms`})`);
      }).catch((e: unknown) => { throw explain(e); });
      console.log(`chatting with ${peer}: type a line and press Enter; Ctrl-D or Ctrl-C to leave`);
      if (tty) rl.prompt();
      const sends: Promise<void>[] = [];
      rl.on('line', (text) => {
        if (!text.trim()) { if (tty) rl.prompt(); return; }
        sends.push(request<SendResponse & { reason?: string }>(sock, { op: 'send', to: peer, text, waitMs: 0 }).then((r) => {
          if (r.status === 'delivered' || early.delete(r.id)) { print(`  ✓ delivered #${r.seq}`); return; }
          waiting.add(r.id);
          if (r.reason) print(`  (${r.seq > 0 ? `#${r.seq} ` : ''}queued: ${r.reason})`);
        }, (e: unknown) => print(`tincan: ${explain(e).message}`)));
        if (tty) rl.prompt();
      });
      rl.on('close', () => {
        void Promise.all(sends).then(() => {
          inputDone = true;
          if (tty) finish(); else { maybeEnd(); setTimeout(finish, 10_000).unref(); }
        });
      });
      await Promise.race([finished, sub.closed]);
      sub.close();
      rl.close();
      if (waiting.size > 0) console.error(`tincan: ${waiting.size} message(s) still queued; the daemon delivers them when ${peer} is reachable`);
    });

  withStateDir(program.command('history [username]'))
    .description('print stored chat messages (all contacts, or one)')
    .option('-n, --limit <n>', 'how many', '50')
    .option('--json', 'print JSON', false)
    .action(async (peer: string | undefined, o: { stateDir?: string; limit: string; json: boolean }) => {
      let h: HistoryResponse;
      try { h = await request<HistoryResponse>(controlSocket(resolveStateDir(o.stateDir)), { op: 'history', with: peer, limit: Number(o.limit) || 50 }); } catch (e) { throw explain(e); }
      if (o.json) { console.log(JSON.stringify(h.messages)); return; }
      for (const m of h.messages) console.log(line(m, 'me') + (peer ? '' : `  [${m.peer}]`));
    });
}
