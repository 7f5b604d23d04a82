// The push channel: WebSocket upgrade on GET /v1/push, authenticated with the
// same bearer token (Authorization header). Optional query `device=<id>` (one
// of the caller's devices): when that device's last push connection closes,
// its presence becomes 'offline' and is pushed to contacts — unless the device
// has a channel open on another instance (controls 'push-open' / 'push-close').
// Contract: server -> client JSON text frames ({ type: 'hello' | 'presence' |
// 'contact' | 'rendezvous', ... }); right after 'hello', a channel opened with
// `device` gets the rendezvous for that device the directory still keeps
// unacknowledged (hub.ts, replay.ts), marked `replayed: true`. The only client
// frame is { type: 'ack', id } (a rendezvous received: it is dropped from the
// replay buffer of every instance); anything else is ignored (max 4 KiB). Dead
// connections are found by ping every pingIntervalMs. Limits (hub.ts): a device's
// 5th channel closes its oldest (4008), a user's 33rd likewise; an instance
// holding 100,000 refuses more with 503.
// close() ends every connection with 1001 without marking devices offline.
import { WebSocketServer, type WebSocket } from 'ws';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppContext } from '../http/context.ts';
import type { AuthUser } from '../http/route.ts';
import type { PushConnection } from './hub.ts';
import { publishPresence } from '../http/routes/presence.ts';
import { HttpError } from '../http/errors.ts';
import { newId } from '../ids.ts';

export interface PushServer { close(): Promise<void> }

function refuse(socket: Duplex, server: string, status: number, reason: string, extra = ''): void {
  const body = JSON.stringify({ error: reason.toLowerCase().replace(/ /g, '_'), message: reason });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nDate: ${new Date().toUTCString()}\r\nServer: ${server}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`);
}

export function attachPushServer(
  server: Server, ctx: AppContext,
  authenticate: (authorization: string | undefined) => Promise<AuthUser | undefined>,
  onError: (e: unknown) => void,
  pingIntervalMs = 30_000,
): PushServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  // On shutdown, devices are not marked offline: their clients reconnect (to
  // this or another instance) and presence goes stale by itself otherwise.
  let closing = false;
  const alive = new WeakMap<WebSocket, boolean>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/v1/push') return refuse(socket, ctx.config.serverName, 404, 'Not Found');
      const user = await authenticate(req.headers.authorization);
      if (!user) return refuse(socket, ctx.config.serverName, 401, 'Unauthorized', 'WWW-Authenticate: Bearer\r\n');
      const deviceId = url.searchParams.get('device') ?? undefined;
      if (deviceId !== undefined) {
        const d = /^[0-9a-f]{32}$/.test(deviceId) ? await ctx.store.device(deviceId) : undefined;
        if (!d || d.user_id !== user.userId) return refuse(socket, ctx.config.serverName, 403, 'Forbidden');
      }
      if (ctx.hub.full) return refuse(socket, ctx.config.serverName, 503, 'Service Unavailable', 'Retry-After: 5\r\n');
      // Every instance learns of this channel before its hello (after which the device drops
      // the channel it replaces, maybe on another instance): that one's close must not mark
      // the device offline (make-before-break across instances / --workers).
      const channel = newId();
      if (deviceId !== undefined) {
        ctx.hub.noteOpen(deviceId, channel);
        await ctx.fanout.publishControl({ type: 'push-open', deviceId, channel }).catch(onError);
      }
      // A client gone before the upgrade completes (ws then drops the socket without calling
      // back): the channel announced above is closed again, or its device would count as
      // connected elsewhere for good (never marked offline by its real last channel's close).
      let upgraded = false;
      const abandoned = () => {
        if (upgraded || deviceId === undefined) return;
        ctx.hub.noteClosed(deviceId, channel);
        ctx.fanout.publishControl({ type: 'push-close', deviceId, channel }).catch(onError);
      };
      if (deviceId !== undefined) {
        if (socket.destroyed) { abandoned(); return; }
        socket.once('close', abandoned);
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        socket.off('close', abandoned);
        const conn: PushConnection = { userId: user.userId, deviceId, socket: ws };
        ctx.hub.add(conn);
        alive.set(ws, true);
        ws.on('pong', () => alive.set(ws, true));
        ws.on('error', () => ws.terminate());
        ws.on('close', () => {
          const last = ctx.hub.remove(conn);
          if (deviceId) {
            ctx.hub.noteClosed(deviceId, channel);
            ctx.fanout.publishControl({ type: 'push-close', deviceId, channel }).catch(onError);
          }
          if (last && deviceId && !closing && ctx.hub.openAnywhereCount(deviceId) === 0) {
            void ctx.store.device(deviceId).then((d) => d && publishPresence(ctx, user, { deviceId, status: 'offline', candidates: [] }))
              // the device deleted meanwhile: nothing to mark offline (its presence went with it)
              .catch((e: unknown) => { if (!(e instanceof HttpError && e.statusCode === 404)) onError(e); });
          }
        });
        ws.on('message', (data, isBinary) => { if (!isBinary && deviceId) onClientFrame(deviceId, data); });
        ws.send(JSON.stringify({ type: 'hello', username: user.username, deviceId: deviceId ?? null, serverTime: ctx.now() }));
        ctx.hub.replayTo(conn);
      });
    })().catch((e) => { onError(e); socket.destroy(); });
  });

  /** { type: 'ack', id } from a device: drop that rendezvous from every instance's replay buffer. */
  const onClientFrame = (deviceId: string, data: unknown) => {
    let m: { type?: unknown; id?: unknown };
    try { m = JSON.parse(String(data)) as typeof m; } catch { return; }
    if (m?.type !== 'ack' || typeof m.id !== 'string' || !/^[0-9a-f]{32}$/.test(m.id)) return;
    // Every instance keeps the same rendezvous; one that was not kept here (expired, already
    // acknowledged) is not announced, so a client cannot make us publish more than it was sent.
    if (ctx.hub.acked(deviceId, m.id)) ctx.fanout.publishControl({ type: 'push-ack', deviceId, id: m.id }).catch(onError);
  };

  const timer = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) { ws.terminate(); continue; }
      alive.set(ws, false);
      ws.ping();
    }
  }, pingIntervalMs);
  timer.unref();

  return {
    async close() {
      closing = true;
      clearInterval(timer);
      for (const ws of wss.clients) ws.close(1001, 'directory shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const ws of wss.clients) ws.terminate();
    },
  };
}
