// Builds the directory's Fastify app: JSON routes with schema validation,
// bearer authentication, uniform JSON errors, Server header, metrics.
// Contract: every response carries Date, Server, Content-Type and
// Content-Length (204/304 carry no body, hence no Content-Type/Length, as RFC
// 9110 requires); validation failures are 400 naming the field; unknown routes
// 404; bodies over bodyLimitBytes 413. No handler ever logs a body or header.
import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { AppContext } from './context.ts';
import { RouteTable, type AuthUser } from './route.ts';
import { HttpError } from './errors.ts';
import { accountRoutes } from './routes/accounts.ts';
import { deviceRoutes } from './routes/devices.ts';
import { contactRoutes } from './routes/contacts.ts';
import { presenceRoutes } from './routes/presence.ts';
import { supernodeRoutes } from './routes/supernodes.ts';
import { rendezvousRoutes } from './routes/rendezvous.ts';
import { metaRoutes } from './routes/meta.ts';
import { tokenHash } from '../ids.ts';

const BEARER = /^Bearer ([A-Za-z0-9_-]{16,128})$/;

/**
 * The cached user of "Bearer <token>" without touching the database:
 * the user, `undefined` for a malformed header, or `null` when the token must
 * be looked up (see makeAuthenticator). `tokenHash` receives the hash.
 */
function cachedUser(ctx: AppContext, authorization: string | undefined, out: { tokenHash: string }): AuthUser | undefined | null {
  const m = BEARER.exec(authorization ?? '');
  if (!m) return undefined;
  out.tokenHash = tokenHash(m[1]);
  return ctx.authCache.get(out.tokenHash, ctx.now()) ?? null;
}

async function lookupUser(ctx: AppContext, th: string): Promise<AuthUser | undefined> {
  const now = ctx.now();
  const r = await ctx.store.authenticate(th, now);
  if (!r) return undefined;
  const user = { userId: r.userId, username: r.username, tokenHash: th };
  ctx.authCache.set(user, r.expiresAt, now);
  return user;
}

/** Resolves "Bearer <token>" to its user, or undefined. */
export function makeAuthenticator(ctx: AppContext): (authorization: string | undefined) => Promise<AuthUser | undefined> {
  return async (authorization) => {
    const out = { tokenHash: '' };
    const hit = cachedUser(ctx, authorization, out);
    return hit === null ? lookupUser(ctx, out.tokenHash) : hit;
  };
}

export function buildApp(ctx: AppContext, logger: Logger): { app: FastifyInstance; routes: RouteTable } {
  const app = Fastify({
    loggerInstance: logger,
    // request logging is one line per request, written in onResponse below (Fastify's own writes two)
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.bodyLimitBytes,
    routerOptions: { maxParamLength: 100 },
    return503OnClosing: true,
    trustProxy: ctx.config.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Errors raised before routing (bad URL, over-long parameter, bad content type): same JSON shape, no URL echo.
    frameworkErrors: (err, _req, rawReply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      (rawReply as unknown as FastifyReply).code(status).header('server', ctx.config.serverName)
        .send({ error: status === 414 ? 'uri_too_long' : 'bad_request', message: err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : err.message.slice(0, 200) });
    },
  }) as unknown as FastifyInstance;
  const routes = new RouteTable();
  const startedAt = ctx.now();

  app.decorateRequest('user', undefined);

  const unauthorized = () => new HttpError(401, 'unauthorized', 'missing, invalid, expired or revoked bearer token', { 'www-authenticate': 'Bearer' });
  // A cached token is resolved synchronously (no promise); otherwise one store lookup.
  app.addHook('onRequest', (req, _reply, done) => {
    if (!req.routeOptions.config.auth) return done();
    const out = { tokenHash: '' };
    const hit = cachedUser(ctx, req.headers.authorization, out);
    if (hit) { req.user = hit; return done(); }
    if (hit === undefined) return done(unauthorized());
    lookupUser(ctx, out.tokenHash).then((user) => {
      if (!user) return done(unauthorized());
      req.user = user;
      done();
    }, (e: Error) => done(e));
  });

  // Callback-style hooks: no promise per request on the hot path.
  app.addHook('onSend', (_req, reply, payload, done) => {
    reply.header('server', ctx.config.serverName);
    done(null, payload);
  });

  const logRequests = ctx.config.logRequests;
  app.addHook('onResponse', (req, reply, done) => {
    const ms = reply.elapsedTime;
    ctx.metrics.observeRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, ms / 1000);
    if (logRequests) req.log.info({ req: { method: req.method, url: req.url, remoteAddress: req.ip }, res: { statusCode: reply.statusCode }, responseTime: ms }, 'request completed');
    done();
  });

  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return reply.code(err.statusCode).send({ error: err.code, message: err.message });
    }
    const status = err.statusCode ?? 500;
    if (err.validation) return reply.code(400).send({ error: 'bad_request', message: err.message });
    if (status >= 400 && status < 500) {
      const code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'bad_request';
      return reply.code(status).send({ error: code, message: err.message });
    }
    req.log.error({ err: { message: err.message, stack: err.stack } }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    return reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${path.slice(0, 200)}` });
  });

  accountRoutes(app, routes, ctx);
  deviceRoutes(app, routes, ctx);
  contactRoutes(app, routes, ctx);
  presenceRoutes(app, routes, ctx);
  supernodeRoutes(app, routes, ctx);
  rendezvousRoutes(app, routes, ctx);
  metaRoutes(app, routes, ctx, startedAt);
  return { app, routes };
}
