// `tincan demo` (what `npm start` runs): brings up a complete small tincan on this machine
// (demo-world.ts: directory with SQLite, supernode, alice and bob — bob relayed only) and
// tells the newcomer which commands to type in two other terminals to chat between them.
// Prints chat activity as it happens. Ctrl-C (SIGINT) or SIGTERM stops everything, removes
// the temporary state directory (unless --dir was given) and exits 0.
import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { ControlEvent } from '../apps/control/protocol.ts';
import { printable } from './printable.ts';

function activity(user: string, e: ControlEvent): string | undefined {
  switch (e.event) {
    case 'message': return `  [${user}] got from ${e.from}: ${printable(e.text)}`;
    case 'receipt': return `  [${user}] ✓ ${e.to} received #${e.seq}`;
    case 'path': return `  [${user}] path to ${e.peer}: ${e.kind}${e.rttMs === undefined ? '' : `, rtt ${e.rttMs.toFixed(1)} ms`}`;
    default: return undefined;
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a whole tincan on this machine: directory, supernode, alice and bob (bob relayed); prints how to chat')
    .option('--dir <dir>', 'keep the demo state here (default: a fresh temporary directory, removed on exit)')
    .action(async (o: { dir?: string }) => {
      const dir = o.dir ? resolve(o.dir) : mkdtempSync(join(tmpdir(), 'tincan-demo-'));
      console.log('tincan demo: starting a directory, a supernode, alice and bob on 127.0.0.1 ...');
      const { startDemoWorld } = await import('./demo-world.ts'); // heavy (directory server): loaded only here
      const world = await startDemoWorld({ dir, onEvent: (u, e) => { const l = activity(u, e); if (l) console.log(l); } });
      const bin = relative(process.cwd(), resolve(import.meta.dirname, '..', '..', 'bin', 'tincan.js')) || 'bin/tincan.js';
      const home = (u: string) => `TINCAN_HOME=${join(dir, u)}`;
      const cmd = (u: string, rest: string) => `${home(u)} node ${bin} ${rest}`;
      const [alice, bob] = world.users;
      console.log(`
  directory  ${world.directory.url}  (SQLite ${join(dir, 'directory.sqlite')}, STUN udp/${world.directory.stunPort})
  supernode  127.0.0.1:${world.supernode.local.port}  (relay, registered at the directory)
  alice      online, NAT ${alice.peer.nat ?? 'unknown'}, direct when possible
  bob        online, NAT ${bob.peer.nat ?? 'unknown'}, forced through the supernode relay

Chat between them: open two more terminals in ${process.cwd()} and type
  terminal 1 (alice):  ${cmd('alice', 'chat bob')}
  terminal 2 (bob):    ${cmd('bob', 'chat alice')}
Or one line at a time:
  ${cmd('alice', 'send bob "hello bob"')}
  ${cmd('bob', 'send alice "hi alice"')}
See each contact's path (direct/relayed), RTT and NAT type:
  ${cmd('alice', 'status')}
Ctrl-C here stops everything.
tincan demo: ready`);
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        console.log('tincan demo: stopping ...');
        const force = setTimeout(() => process.exit(1), 10_000);
        force.unref();
        void world.close().then(() => {
          if (!o.dir) rmSync(dir, { recursive: true, force: true });
          console.log('tincan demo: stopped');
          process.exit(0);
        });
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
