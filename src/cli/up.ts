// `tincan up`: the user's daemon. Starts a Peer (src/overlay/peer.ts) for the logged-in
// account of the state dir, the chat service and the control socket the other commands
// use, then prints one line per event (messages, receipts, path changes). The first line
// on stdout is `tincan up: <user> online ...` once everything is ready.
// SIGINT/SIGTERM: closes the control socket, the chat store and the peer (presence
// offline), exit 0.
import type { Command } from 'commander';
import { startDaemon } from '../apps/daemon.ts';
import { ensureStateDir, resolveStateDir } from '../apps/state-dir.ts';
import type { ControlEvent } from '../apps/control/protocol.ts';
import { requireAccount, withStateDir } from './common.ts';
import { explain } from './user-errors.ts';
import { printable } from './printable.ts';

interface Opts { stateDir?: string; port: string; bind: string; forceRelay: boolean; supernode: boolean; stun?: string; deviceName?: string; verbose: boolean }

function describe(e: ControlEvent): string | undefined {
  switch (e.event) {
    case 'message': return `${e.from}: ${printable(e.text)}`;
    case 'receipt': return `  ✓ ${e.to} got #${e.seq}`;
    case 'path': return `  path to ${e.peer}: ${e.kind}${e.rttMs === undefined ? '' : `, rtt ${e.rttMs.toFixed(1)} ms`} via ${e.remote}`;
    case 'link': return e.state === 'down' && e.error ? `  ${e.peer}: ${e.error}` : undefined;
  }
}

export function registerUp(program: Command): void {
  withStateDir(program.command('up'))
    .description('run your peer: online at the directory, reachable by contacts, chat daemon for `tincan chat|send|status`')
    .option('--port <port>', 'UDP port (0: any free port)', '0')
    .option('--bind <address>', 'local IPv4 address', '0.0.0.0')
    .option('--stun <ip:port>', "the directory's STUN endpoint (default: the directory's host, port 3478)")
    .option('--force-relay', 'use only the supernode relay (no direct path)', false)
    .option('--no-supernode', 'never serve as a supernode for others (a peer with a public address does by default)')
    .option('--device-name <name>', 'name of this device at the directory (default: the host name)')
    .option('--verbose', 'print the peer\'s debug lines on stderr', false)
    .action(async (o: Opts) => {
      const stateDir = ensureStateDir(resolveStateDir(o.stateDir));
      const account = requireAccount(stateDir);
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${o.port}`);
      let stun: { address: string; port: number } | undefined;
      if (o.stun) {
        const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(o.stun);
        if (!m) throw new Error(`--stun must be ip:port, got ${o.stun}`);
        stun = { address: m[1], port: Number(m[2]) };
      }
      const { startPeer } = await import('../overlay/peer.ts'); // heavy: loaded only by `up`
      let peer;
      try {
        peer = await startPeer({
          directoryUrl: account.directory, token: account.token, stateDir,
          port, bindAddress: o.bind, stun, forceRelay: o.forceRelay, supernodeOptOut: !o.supernode, deviceName: o.deviceName,
          log: o.verbose ? (l) => console.error(l) : undefined,
        });
      } catch (e) { throw explain(e, { directory: account.directory }); }
      let daemon;
      try {
        daemon = await startDaemon({ peer, stateDir, onEvent: (e) => { const l = describe(e); if (l) console.log(l); } });
      } catch (e) { await peer.close(); throw e; }
      console.log(`tincan up: ${peer.username} online (device ${peer.deviceId.slice(0, 12)}, NAT ${peer.nat ?? 'unknown'}${o.forceRelay ? ', relay only' : ''}); control socket ${daemon.socketPath}`);
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        const force = setTimeout(() => process.exit(1), 5000);
        force.unref();
        void daemon.close().then(() => peer.close()).then(() => { console.log('tincan up: stopped'); process.exit(0); }, () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
