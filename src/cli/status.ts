// `tincan status`: asks the running daemon for this device and each contact: online?,
// path (direct/relayed) with RTT and remote address when a session is open, the
// contact's published NAT type, undelivered messages. --json prints the raw answer.
import type { Command } from 'commander';
import { controlSocket, resolveStateDir } from '../apps/state-dir.ts';
import { request } from '../apps/control/client.ts';
import type { StatusResponse } from '../apps/control/protocol.ts';
import { withStateDir } from './common.ts';
import { explain } from './user-errors.ts';

export function registerStatus(program: Command): void {
  withStateDir(program.command('status'))
    .description('show contacts: online?, path direct/relayed, RTT, NAT type (needs `tincan up`)')
    .option('--json', 'print JSON', false)
    .action(async (o: { stateDir?: string; json: boolean }) => {
      let s: StatusResponse;
      try { s = await request<StatusResponse>(controlSocket(resolveStateDir(o.stateDir)), { op: 'status' }); } catch (e) { throw explain(e); }
      if (o.json) { console.log(JSON.stringify(s)); return; }
      console.log(`${s.username}  device ${s.deviceId.slice(0, 12)}  NAT ${s.nat ?? 'unknown'}`);
      if (s.contacts.length === 0) console.log('no contacts yet: tincan contacts add <username>');
      for (const c of s.contacts) {
        const path = c.path ? `${c.path.padEnd(8)} rtt ${c.rttMs === undefined ? '?' : `${c.rttMs} ms`} via ${c.remote}` : 'no session';
        const pending = c.pending > 0 ? `  ${c.pending} queued` : '';
        console.log(`  ${c.username.padEnd(16)} ${c.presence.padEnd(8)} ${path}  NAT ${c.nat ?? 'unknown'}${pending}`);
      }
    });
}
