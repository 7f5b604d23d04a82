// The control socket server: listens on <state-dir>/control.sock (chmod 0600 right after
// listen; the state dir itself is 0700), reads JSON-line requests (bounded by
// MAX_REQUEST_LINE) and answers through a handler. Refuses to start when another daemon
// answers on the socket; removes a stale socket file left by a crashed one.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, unlinkSync } from 'node:fs';
import { MAX_REQUEST_LINE, type ControlEvent, type ControlRequest } from './protocol.ts';

export interface ControlConnection {
  reply(obj: object): void;
  /** Streams events until the client disconnects; returns the unsubscribe hook holder. */
  event(e: ControlEvent): void;
  onClose(fn: () => void): void;
}

export type ControlHandler = (req: ControlRequest, conn: ControlConnection) => Promise<void>;

export interface ControlServer { readonly path: string; close(): Promise<void> }

async function alive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Unix socket paths longer than this do not fit sockaddr_un on Linux/macOS. */
const MAX_SOCKET_PATH = 100;

export async function startControlServer(path: string, handle: ControlHandler): Promise<ControlServer> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new Error(`the state dir path is too long for a unix socket (${path}); use a shorter --state-dir / TINCAN_HOME`);
  if (await alive(path)) throw new Error(`a tincan daemon is already running for this state dir (${path})`);
  try { unlinkSync(path); } catch { /* no stale socket */ }
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.setEncoding('utf8');
    let buf = '';
    const closers: (() => void)[] = [];
    const write = (o: object) => { if (!sock.destroyed) sock.write(JSON.stringify(o) + '\n'); };
    const conn: ControlConnection = { reply: write, event: write, onClose: (fn) => closers.push(fn) };
    sock.on('close', () => { sockets.delete(sock); for (const f of closers) f(); });
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST_LINE && !buf.includes('\n')) { write({ ok: false, code: 'too-large', error: 'request line too long' }); sock.destroy(); return; }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        let req: ControlRequest;
        try { req = JSON.parse(line) as ControlRequest; } catch { write({ ok: false, code: 'bad-request', error: 'not JSON' }); continue; }
        handle(req, conn).catch((e: Error & { code?: unknown }) => write({ ok: false, code: typeof e.code === 'string' ? e.code : 'error', error: e.message }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, () => resolve()); });
  chmodSync(path, 0o600);
  return {
    path,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
