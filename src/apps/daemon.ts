// The user daemon behind `tincan up`: a running PeerNode + the chat service + the control
// socket the CLI talks to (send, history, status, tail). Owns the chat store
// (<state-dir>/chat.sqlite) and the control socket; the caller owns the PeerNode and
// closes it after close(). `onEvent` sees every chat/link/path event (for the daemon's
// own terminal output). A `send` to someone who is not a contact is refused up front
// (otherwise the message could never leave the outbox).
import { randomBytes } from 'node:crypto';
import type { ContactSession, PeerNode } from '../overlay/peer-api.ts';
import { ChatService } from './chat/service.ts';
import { ChatStore } from './chat/store.ts';
import { ChatLimitError } from './chat/errors.ts';
import { startControlServer, type ControlConnection, type ControlServer } from './control/server.ts';
import type { ContactRow, ControlEvent, ControlRequest } from './control/protocol.ts';
import { chatDbFile, controlSocket, ensureStateDir } from './state-dir.ts';

export interface DaemonOptions {
  peer: PeerNode;
  stateDir: string;
  /** How long `send` waits for a receipt by default (ms). */
  defaultWaitMs?: number;
  retryMs?: number;
  onEvent?(e: ControlEvent): void;
}

export interface Daemon {
  readonly service: ChatService;
  readonly socketPath: string;
  close(): Promise<void>;
}

class DaemonError extends Error {
  constructor(readonly code: string, message: string) { super(message); }
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  ensureStateDir(opts.stateDir);
  const store = ChatStore.open(chatDbFile(opts.stateDir));
  const service = new ChatService({ peer: opts.peer, store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: opts.retryMs });
  const subscribers = new Set<(e: ControlEvent) => void>();
  const lastError = new Map<string, string>();
  const publish = (e: ControlEvent) => { opts.onEvent?.(e); for (const s of subscribers) s(e); };
  service.on('message', (m) => publish({ event: 'message', ...m }));
  service.on('receipt', (r) => publish({ event: 'receipt', ...r }));
  service.on('link', (l) => {
    if (l.error) lastError.set(l.peer, l.error); else if (l.state === 'up') lastError.delete(l.peer);
    publish({ event: 'link', ...l });
  });
  service.on('session', (s: ContactSession) => {
    publish({ event: 'path', peer: s.username, kind: s.path.kind, rttMs: s.path.rttMs, remote: s.path.remote });
    s.on('path', (p) => publish({ event: 'path', peer: s.username, kind: p.kind, rttMs: p.rttMs, remote: p.remote }));
  });

  const status = async (): Promise<ContactRow[]> => {
    const rows = await opts.peer.status();
    const live = new Map(opts.peer.sessions().filter((s) => !s.closed).map((s) => [s.username, s.path]));
    return rows.map((c) => {
      const p = c.path ?? live.get(c.username);
      return {
        username: c.username, presence: c.presence, nat: c.nat, pending: service.pending(c.username),
        ...(p ? { path: p.kind, rttMs: p.rttMs === undefined ? undefined : Math.round(p.rttMs * 10) / 10, remote: p.remote } : {}),
      };
    });
  };

  const handle = async (req: ControlRequest, conn: ControlConnection): Promise<void> => {
    switch (req.op) {
      case 'send': {
        if (typeof req.to !== 'string' || typeof req.text !== 'string') throw new DaemonError('bad-request', 'send needs to and text');
        let contacts: ContactRow[] | undefined;
        try { contacts = await status(); } catch { contacts = undefined; /* directory down: queue anyway */ }
        if (contacts && !contacts.some((c) => c.username === req.to)) throw new DaemonError('not-a-contact', `${req.to} is not a contact (tincan contacts add ${req.to}, and ${req.to} accepts)`);
        let m: { id: string; seq: number };
        try { m = service.send(req.to, req.text); } catch (e) {
          if (e instanceof ChatLimitError) throw new DaemonError(e.code, e.message);
          throw e;
        }
        const waitMs = Math.min(Math.max(0, req.waitMs ?? opts.defaultWaitMs ?? 10_000), 120_000);
        const delivered = waitMs > 0 && await service.waitReceipt(m.id, waitMs);
        const offline = contacts?.find((c) => c.username === req.to)?.presence === 'offline';
        conn.reply({ ok: true, id: m.id, seq: service.outgoing(m.id)?.seq ?? m.seq, status: delivered ? 'delivered' : 'queued', ...(delivered ? {} : { reason: offline ? `${req.to} is offline` : lastError.get(req.to) }) });
        return;
      }
      case 'history':
        conn.reply({ ok: true, messages: service.history(req.with, Math.min(Math.max(1, req.limit ?? 50), 1000)) });
        return;
      case 'status':
        conn.reply({ ok: true, username: opts.peer.username, deviceId: opts.peer.deviceId, nat: opts.peer.nat, contacts: await status() });
        return;
      case 'tail': {
        const sub = (e: ControlEvent) => {
          const peer = e.event === 'message' ? e.from : e.event === 'receipt' ? e.to : e.peer;
          if (!req.with || peer === req.with) conn.event(e);
        };
        subscribers.add(sub);
        conn.onClose(() => subscribers.delete(sub));
        conn.reply({ ok: true, tailing: req.with ?? '*' });
        return;
      }
      default:
        throw new DaemonError('bad-request', `unknown op ${(req as { op?: unknown }).op}`);
    }
  };

  let server: ControlServer;
  try {
    server = await startControlServer(controlSocket(opts.stateDir), handle);
  } catch (e) {
    store.close();
    throw e;
  }
  service.start();
  return {
    service,
    socketPath: server.path,
    async close() {
      subscribers.clear();
      await server.close();
      service.close();
      store.close();
    },
  };
}
