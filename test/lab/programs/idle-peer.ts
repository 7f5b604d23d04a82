// Lab peer process for network-change-idle.test.ts: a real tincan Peer (src/overlay/peer.ts)
// that stays idle (no session) until told to call.
//   on SIGUSR1 (callTo set): connect(callTo) once, print {event:'session', kind, remote} or
//     {event:'connect-failed', error}; incoming sessions print {event:'session', incoming: true}.
// Prints one JSON line per event with `at` = Date.now() (the test and the peers share a clock):
//   {event:'ready', nat} · {event:'call'} · {event:'session', ...} · {event:'connect-failed', error}
//   {event:'log', l} (the Peer's log).
// Config: env LAB_PEER = JSON { directoryUrl, token, stateDir, port, callTo? }. Exits on SIGTERM.
import { startPeer } from '../../../src/overlay/peer.ts';

interface PeerEnv { directoryUrl: string; token: string; stateDir: string; port: number; callTo?: string }
const cfg = JSON.parse(process.env.LAB_PEER ?? '{}') as PeerEnv;
const print = (o: object) => process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);

const peer = await startPeer({ directoryUrl: cfg.directoryUrl, token: cfg.token, stateDir: cfg.stateDir, port: cfg.port, log: (l) => print({ event: 'log', l }) });
peer.on('session', (s) => print({ event: 'session', incoming: true, user: s.username, kind: s.path.kind, remote: s.path.remote }));
print({ event: 'ready', nat: peer.nat });
if (cfg.callTo) {
  const to = cfg.callTo;
  process.on('SIGUSR1', () => {
    print({ event: 'call' });
    peer.connect(to).then(
      (s) => print({ event: 'session', user: s.username, kind: s.path.kind, remote: s.path.remote }),
      (e: Error) => print({ event: 'connect-failed', error: e.message }),
    );
  });
}
process.on('SIGTERM', () => { void peer.close().then(() => process.exit(0)); });
