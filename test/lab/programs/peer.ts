// Lab peer process: a real tincan Peer (src/overlay/peer.ts) against the real directory
// and supernode on the lab's public segment, Noise sessions included.
//   caller (connectTo set): connects to the contact (retrying while it is not online yet),
//     writes "hello from <me>" on a stream and reads the answer;
//   callee: answers the first line of each incoming stream with its own.
// Prints {event:'ready', nat} once started and {event:'result', ok, nat, path, remote,
// rttMs, received, connectMs, log} when its line crossed (or on failure), then exits.
// Config: env LAB_PEER = JSON { directoryUrl, token, stateDir, port, connectTo? }.
import { startPeer } from '../../../src/overlay/peer.ts';
import { PeerError, type ContactSession } from '../../../src/overlay/peer-api.ts';
import { readLine } from '../../overlay/peer-test-helpers.ts';

interface PeerEnv { directoryUrl: string; token: string; stateDir: string; port: number; connectTo?: string }
const cfg = JSON.parse(process.env.LAB_PEER ?? '{}') as PeerEnv;
const log: string[] = [];
const t0 = performance.now();
const stamp = (l: string) => log.push(`${Math.round(performance.now() - t0)}ms ${l}`);
const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const peer = await startPeer({ directoryUrl: cfg.directoryUrl, token: cfg.token, stateDir: cfg.stateDir, port: cfg.port, log: stamp });
print({ event: 'ready', nat: peer.nat });

let finished = false;
const finish = (ok: boolean, extra: object, s?: ContactSession) => {
  if (finished) return;
  finished = true;
  print({ event: 'result', ok, nat: peer.nat, path: s?.path.kind, remote: s?.path.remote, rttMs: s?.path.rttMs, ...extra, log });
  setTimeout(() => { void peer.close().then(() => process.exit(ok ? 0 : 2)); }, 1500);
};

// Report (with the log) instead of going silent if the exchange does not finish (the
// test waits 60 s for results: a loaded CI machine starts these processes slowly).
setTimeout(() => finish(false, { why: 'no exchange within 45 s', sessions: peer.sessions().map((x) => ({ user: x.username, path: x.path })) }), 45_000).unref();

if (cfg.connectTo) {
  let session: ContactSession | undefined;
  let connectMs = 0;
  for (let tries = 0; !session; tries++) {
    const t = performance.now();
    try {
      session = await peer.connect(cfg.connectTo);
      connectMs = performance.now() - t;
    } catch (e) {
      if (e instanceof PeerError && e.code === 'contact-offline' && tries < 100) { await new Promise((r) => setTimeout(r, 100)); continue; }
      finish(false, { why: (e as Error).message });
      break;
    }
  }
  if (session) {
    const s = await session.openStream();
    s.write(`hello from ${peer.username}\n`);
    const received = await readLine(s);
    s.end();
    finish(true, { received, connectMs: Math.round(connectMs) }, session);
  }
} else {
  peer.on('session', (cs) => {
    stamp(`session from ${cs.username}`);
    cs.on('stream', (s) => {
      void readLine(s).then((received) => { s.end(`hello from ${peer.username}\n`); finish(true, { received }, cs); });
    });
  });
}
