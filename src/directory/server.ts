// Starts one directory instance: database (migrated), signing key, push hub,
// fan-out (Redis when redisUrl is given), HTTP API and push channel.
// Contract: resolves once listening; close() stops accepting, ends push
// connections with 1001, waits for in-flight requests, then closes Redis and
// the database. Safe to call close() twice.
import pino, { type Logger, type DestinationStream } from 'pino';
import { openDatabase, engineOf, type Engine } from './store/open.ts';
import { DirectoryStore } from './store/store.ts';
import { DEFAULT_CONFIG, type DirectoryConfig } from './config.ts';
import { generateSigningKey, loadOrCreateSigningKey, type SigningKey } from './signing-key.ts';
import { PushHub } from './push/hub.ts';
import { LocalFanout, RedisFanout, redactUrl, type Fanout } from './push/fanout.ts';
import { attachPushServer } from './push/socket.ts';
import { buildApp, makeAuthenticator } from './http/app.ts';
import { Metrics } from './metrics.ts';
import { FailureLimiter, RedisFailureCounter, memoryCounter } from './rate-limit.ts';
import { AuthCache } from './auth-cache.ts';
import { ViewCache } from './view-cache.ts';
import type { AppContext } from './http/context.ts';
import type { FastifyInstance } from 'fastify';
import { startStunServer, type RunningStunServer } from './stun-server.ts';
import { nudgeTargetAllowed } from './push/nudge.ts';
import { ClusterFanout, ipcFailureCounter, workerIndex } from './cluster.ts';

export interface DirectoryOptions {
  /** sqlite file path (or sqlite:path) or postgres:// URL. */
  databaseUrl: string;
  /** PostgreSQL schema (tests). */
  pgSchema?: string;
  pgPoolSize?: number;
  /** redis:// URL: enables fan-out across instances and shared login failure counters. */
  redisUrl?: string;
  /** Prefix of Redis keys (login counters); default 'tincan:'. Tests use a fresh one. */
  redisPrefix?: string;
  host?: string;
  port?: number;
  /** Serve STUN Binding on this UDP port (0: any free port) at `stunHost` (default: host). Omit for no STUN. */
  stunPort?: number;
  stunHost?: string;
  /**
   * RFC 5780 NAT behaviour discovery: a second local IPv4 address (and
   * optionally the second port, default any free one) for STUN; OTHER-ADDRESS
   * is then sent and CHANGE-REQUEST answered from the changed address/port.
   */
  stunAlternateAddress?: string;
  stunAlternatePort?: number;
  /** Signing key, or a key file (created 0600 if missing); default: a fresh in-memory key. */
  signingKey?: SigningKey;
  keyFile?: string;
  config?: Partial<DirectoryConfig>;
  logger?: Logger;
  /** Where logs go when no logger is given (default stdout). */
  logStream?: DestinationStream;
  logLevel?: string;
  now?: () => number;
  /**
   * This process is one of several cluster workers (see cluster.ts): without
   * Redis, push fan-out, token revocations and failure counters go through the
   * cluster primary so the workers act as one directory.
   */
  clusterWorker?: boolean;
}

export interface Directory {
  url: string;
  host: string;
  port: number;
  engine: Engine;
  publicKey: Uint8Array;
  /** The STUN UDP port, when STUN is served. */
  stunPort: number | undefined;
  /** The RFC 5780 alternate STUN address and port (OTHER-ADDRESS), when served. */
  stunAlternate: { address: string; port: number } | undefined;
  app: FastifyInstance;
  context: AppContext;
  logger: Logger;
  close(): Promise<void>;
}

/** Log redaction: no password, token or Authorization header ever reaches a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization',
  'password', 'oldPassword', 'newPassword', 'token',
  '*.password', '*.oldPassword', '*.newPassword', '*.token', 'body', '*.body',
];

export function makeLogger(stream?: DestinationStream, level = 'info'): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { svc: 'tincan-directory' } }, stream);
}

export async function startDirectory(opts: DirectoryOptions): Promise<Directory> {
  const config: DirectoryConfig = { ...DEFAULT_CONFIG, ...opts.config };
  const logger = opts.logger ?? makeLogger(opts.logStream, opts.logLevel);
  const now = opts.now ?? Date.now;
  const key = opts.signingKey ?? (opts.keyFile ? loadOrCreateSigningKey(opts.keyFile) : generateSigningKey());
  const opened = await openDatabase(opts.databaseUrl, { schema: opts.pgSchema, poolSize: opts.pgPoolSize });
  const hub = new PushHub(undefined, { now });
  let fanout: Fanout;
  try {
    fanout = opts.redisUrl
      ? await RedisFanout.connect(opts.redisUrl, hub, (e) => logger.warn({ err: e.message }, 'redis error'))
      : opts.clusterWorker ? new ClusterFanout(hub) : new LocalFanout(hub);
  } catch (e) {
    await opened.close();
    throw e;
  }
  const counter = (name: string, max: number, windowMs: number, redisKeys: string) => fanout instanceof RedisFanout
    ? new RedisFailureCounter(fanout.pub, max, windowMs, `${opts.redisPrefix ?? 'tincan:'}${redisKeys}`)
    : opts.clusterWorker ? ipcFailureCounter(name, max, windowMs)
      : memoryCounter(new FailureLimiter(max, windowMs));
  const metrics = new Metrics();
  const worker = opts.clusterWorker ? workerIndex() ?? 0 : 0;
  metrics.gauge('tincan_directory_worker', 'Index of the worker process that answered this scrape (0 without --workers; each worker keeps its own metrics).', () => worker);
  metrics.gauge('tincan_push_connections', 'Open push (WebSocket) connections on this instance.', () => hub.connections);
  metrics.gauge('tincan_push_replay_kept', 'Rendezvous kept for replay to a reopened push channel (unacknowledged, not expired) on this instance.', () => hub.replay.size);
  metrics.counterFrom('tincan_push_replay_evicted_total', 'Rendezvous dropped from the replay buffer by its bounds before they expired or were acknowledged.', () => hub.replay.evicted);
  // every committed write that changes a lookup answer invalidates the view caches of all instances before it returns
  const store = new DirectoryStore(opened.db, opened.namedQuery ?? opened.readQuery, (c) => fanout.publishControl({ type: 'views', ...c }));
  const views = new ViewCache(store, config.viewCacheMs);
  metrics.counterFrom('tincan_view_cache_hits_total', 'Presence / contact-list lookups answered from the view cache (this worker).', () => views.counters.hits);
  metrics.counterFrom('tincan_view_cache_partial_total', 'Presence lookups answered from the view cache after reloading a few contacts\' rows (this worker).', () => views.counters.partial);
  metrics.counterFrom('tincan_view_cache_misses_total', 'Presence / contact-list lookups that queried the database for the whole answer (this worker).', () => views.counters.misses);
  const ctx: AppContext = {
    store, views, fanout, hub, key, config, metrics, now,
    accountLimiter: counter('login-account', config.loginFailuresPerAccount, config.loginWindowMs, 'login:'),
    addressLimiter: counter('login-address', config.loginFailuresPerAddress, config.loginWindowMs, 'login:'),
    registrationLimiter: config.registrationsPerAddress > 0
      ? counter('registration', config.registrationsPerAddress, config.registrationWindowMs, 'register:')
      : { retryAfterMs: async () => 0, recordFailure: async () => {}, clear: async () => {} },
    authCache: new AuthCache(config.authCacheMs),
  };
  fanout.onControl((m) => {
    if (m.type === 'views') views.invalidate(m);
    else if (m.type === 'revoke-token') ctx.authCache.evictToken(m.tokenHash);
    else if (m.type === 'revoke-user') ctx.authCache.evictUser(m.userId, m.keepTokenHash);
    else if (m.type === 'delete-user') { ctx.authCache.evictUser(m.userId); hub.closeUser(m.userId, 4001, 'account deleted'); }
    else if (m.type === 'push-ack') hub.acked(m.deviceId, m.id);
    else if (m.type === 'push-open') hub.noteOpen(m.deviceId, m.channel);
    else if (m.type === 'push-close') hub.noteClosed(m.deviceId, m.channel);
  });
  const { app } = buildApp(ctx, logger);
  const push = attachPushServer(app.server, ctx, makeAuthenticator(ctx), (e) => logger.warn({ err: (e as Error).message }, 'push error'));
  const purge = setInterval(() => {
    ctx.store.purgeSupernodes(now() - config.supernodeTtlMs).catch((e: Error) => logger.warn({ err: e.message }, 'supernode purge failed'));
    ctx.store.purgeTokens(now() - 24 * 3600_000).catch((e: Error) => logger.warn({ err: e.message }, 'token purge failed'));
  }, config.supernodeTtlMs);
  purge.unref();

  const host = opts.host ?? '127.0.0.1';
  let stun: RunningStunServer | undefined;
  try {
    await app.listen({ host, port: opts.port ?? 0 });
    if (opts.stunPort !== undefined) {
      stun = await startStunServer({
        address: opts.stunHost ?? host, port: opts.stunPort, software: 'tincan-directory',
        ...(opts.stunAlternateAddress !== undefined ? { alternateAddress: opts.stunAlternateAddress, alternatePort: opts.stunAlternatePort } : {}),
      });
      const counters = stun.server.counters;
      const stunServer = stun.server;
      // the device names its candidates itself: no nudges into this host's loopback services
      // (unless STUN itself is on loopback), multicast or broadcast (push/nudge.ts)
      const loopbackOk = (opts.stunHost ?? host).startsWith('127.');
      ctx.nudge = (to) => { if (nudgeTargetAllowed(to.address, to.port, loopbackOk)) stunServer.nudge(to); };
      metrics.counterFrom('tincan_stun_nudges_total', 'STUN Binding indications sent to devices that did not acknowledge a rendezvous on their push channel.', () => counters.nudges ?? 0);
      metrics.counterFrom('tincan_stun_requests_total', 'STUN requests received.', () => counters.requests);
      metrics.counterFrom('tincan_stun_dropped_total', 'STUN datagrams dropped unanswered.', () => counters.dropped);
    }
  } catch (e) {
    clearInterval(purge); await push.close(); await app.close(); await fanout.close(); await opened.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  logger.info({ host, port, stunPort: stun?.port ?? null, stunAlternate: stun?.other ?? null, engine: opened.engine, database: engineOf(opts.databaseUrl) === 'postgres' ? redactUrl(opts.databaseUrl) : opts.databaseUrl, redis: opts.redisUrl ? redactUrl(opts.redisUrl) : null }, opts.clusterWorker ? 'directory worker listening' : 'directory listening');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${port}`, host, port, engine: opened.engine, publicKey: key.publicKey, stunPort: stun?.port,
    stunAlternate: stun?.other ? { address: stun.other.address, port: stun.other.port } : undefined, app, context: ctx, logger,
    close() {
      closing ??= (async () => {
        clearInterval(purge);
        await push.close();
        await app.close();
        await stun?.close();
        await fanout.close();
        await opened.close();
      })();
      return closing;
    },
  };
}
