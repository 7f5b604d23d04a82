// Control socket client for the CLI: request() sends one JSON line and resolves with
// the daemon's one-line answer (rejecting with ControlError for {ok:false} answers);
// subscribe() sends a `tail` request and calls back per event line until closed.
// Connecting to a missing daemon rejects with code 'daemon-not-running'.
import { createConnection, type Socket } from 'node:net';
import type { ControlEvent, ControlRequest } from './protocol.ts';

export class ControlError extends Error {
  constructor(readonly code: string, message: string) { super(message); this.name = 'ControlError'; }
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.setEncoding('utf8');
    s.once('connect', () => { s.off('error', onErr); resolve(s); });
    const onErr = (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
      ? new ControlError('daemon-not-running', 'the tincan daemon is not running for this state dir: start it with `tincan up`')
      : e);
    s.once('error', onErr);
  });
}

function lines(s: Socket, onLine: (l: string) => void): void {
  let buf = '';
  s.on('data', (c: string) => {
    buf += c;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) { const l = buf.slice(0, nl); buf = buf.slice(nl + 1); if (l) onLine(l); }
  });
}

export async function request<T extends object>(path: string, req: ControlRequest): Promise<T> {
  const s = await connect(path);
  return new Promise<T>((resolve, reject) => {
    let done = false;
    lines(s, (l) => {
      done = true;
      s.end();
      const r = JSON.parse(l) as { ok: boolean; code?: string; error?: string };
      if (r.ok) resolve(r as T); else reject(new ControlError(r.code ?? 'error', r.error ?? 'daemon error'));
    });
    s.once('close', () => { if (!done) reject(new ControlError('daemon-gone', 'the daemon closed the connection')); });
    s.once('error', (e) => { if (!done) reject(e); });
    s.write(JSON.stringify(req) + '\n');
  });
}

export interface Subscription { close(): void; readonly closed: Promise<void> }

export async function subscribe(path: string, withPeer: string | undefined, onEvent: (e: ControlEvent) => void): Promise<Subscription> {
  const s = await connect(path);
  lines(s, (l) => {
    const o = JSON.parse(l) as ControlEvent & { ok?: boolean };
    if ('event' in o) onEvent(o);
  });
  s.on('error', () => s.destroy());
  s.write(JSON.stringify({ op: 'tail', with: withPeer } satisfies ControlRequest) + '\n');
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  return { close: () => s.destroy(), closed };
}
