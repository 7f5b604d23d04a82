// Lab chat process for the network-change test: a real tincan Peer (src/overlay/peer.ts)
// with the real chat app (src/apps/chat/service.ts: ChatStore + ChatService, in-order,
// exactly-once delivery with receipts) against the lab's directory and supernode.
//   sender (sendTo set): sends "m<i>" to the contact every intervalMs from start; on
//     SIGUSR2 stops sending and prints {event:'stopped', sent}; on SIGUSR1 prints
//     {event:'redial'} and closes its sessions to the contact (the chat app calls again);
//     exits on SIGTERM/kill.
//   receiver: the ChatService receives and acknowledges; nothing else to do.
// Prints one JSON line per event, each with `at` = Date.now() (wall clock: the test and
// both peers run on one machine, so the times compare):
//   {event:'ready', nat} · {event:'sent', seq, text, at} · {event:'receipt', seq, text, at}
//   {event:'message', seq, text, at} · {event:'path', kind, remote, at}
//   {event:'session', kind, remote, at} · {event:'link', direction, state, error?, at}
//   {event:'fetch', method, path, status | error, ms, at} · {event:'log', l, at} (the Peer's log)
// Config: env LAB_PEER = JSON { directoryUrl, token, stateDir, port, sendTo?, intervalMs? }.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startPeer } from '../../../src/overlay/peer.ts';
import { ChatStore } from '../../../src/apps/chat/store.ts';
import { ChatService } from '../../../src/apps/chat/service.ts';

interface PeerEnv { directoryUrl: string; token: string; stateDir: string; port: number; sendTo?: string; intervalMs?: number }
const cfg = JSON.parse(process.env.LAB_PEER ?? '{}') as PeerEnv;
const print = (o: object) => process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);

// Every directory HTTP request (the DirectoryClient uses global fetch) is reported as
// {event:'fetch', method, path, status | error, ms}: presence updates are otherwise silent.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
  const t = Date.now();
  const what = { method: init?.method ?? 'GET', path: new URL(input instanceof Request ? input.url : input).pathname };
  try {
    const r = await realFetch(input, init);
    print({ event: 'fetch', ...what, status: r.status, ms: Date.now() - t });
    return r;
  } catch (e) {
    const err = e as Error & { cause?: Error };
    print({ event: 'fetch', ...what, error: `${err.message}${err.cause ? `: ${err.cause.message}` : ''}`, ms: Date.now() - t });
    throw e;
  }
};

const peer = await startPeer({ directoryUrl: cfg.directoryUrl, token: cfg.token, stateDir: cfg.stateDir, port: cfg.port, log: (l) => print({ event: 'log', l }) });
const store = ChatStore.open(join(cfg.stateDir, 'chat.sqlite'));
const svc = new ChatService({ peer, store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 200 });
svc.on('session', (s) => {
  print({ event: 'session', user: s.username, kind: s.path.kind, remote: s.path.remote });
  s.on('path', (p) => print({ event: 'path', kind: p.kind, remote: p.remote }));
  s.on('close', (err) => print({ event: 'session-close', error: err?.message }));
});
svc.on('link', (e) => print({ event: 'link', direction: e.direction, state: e.state, error: e.error }));
svc.on('message', (m) => print({ event: 'message', seq: m.seq, text: m.text }));
svc.start();
print({ event: 'ready', nat: peer.nat });

if (cfg.sendTo) {
  const to = cfg.sendTo;
  const texts = new Map<string, string>();
  svc.on('receipt', (r) => print({ event: 'receipt', seq: r.seq, text: texts.get(r.id) }));
  let i = 0;
  const timer = setInterval(() => {
    const text = `m${i++}`;
    const { id, seq } = svc.send(to, text);
    texts.set(id, text);
    print({ event: 'sent', seq, text });
  }, cfg.intervalMs ?? 50);
  process.on('SIGUSR2', () => { clearInterval(timer); print({ event: 'stopped', sent: i }); });
  // A new call: end every session to the contact; the chat service calls again at once (its
  // messages are pending), through a new directory rendezvous.
  process.on('SIGUSR1', () => {
    print({ event: 'redial' });
    for (const s of peer.sessions()) if (s.username === to) s.close('lab: calling again');
  });
}
process.on('SIGTERM', () => { svc.close(); void peer.close().then(() => process.exit(0)); });
