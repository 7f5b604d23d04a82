// Service endpoints: OpenAPI document, directory public key, Prometheus
// metrics, health. None needs a token.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import type { RouteTable } from '../route.ts';
import { sendCacheable } from '../caching.ts';

export function metaRoutes(app: FastifyInstance, t: RouteTable, ctx: AppContext, startedAt: number): void {
  t.add(app, {
    method: 'GET', url: '/v1/directory-key', summary: "The directory's Ed25519 public key (verifies relay tickets)", tag: 'meta', auth: false,
    responses: { 200: '{ algorithm: "Ed25519", publicKey (base64url), publicKeyHex }', 304: 'not modified' },
    async handler(req, reply) {
      const pk = Buffer.from(ctx.key.publicKey);
      return sendCacheable(req, reply, { algorithm: 'Ed25519', publicKey: pk.toString('base64url'), publicKeyHex: pk.toString('hex') }, startedAt);
    },
  });

  t.add(app, {
    method: 'GET', url: '/metrics', summary: 'Prometheus metrics (text format 0.0.4)', tag: 'meta', auth: false,
    responses: { 200: 'metrics' },
    async handler(_req, reply) {
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(ctx.metrics.render());
    },
  });

  t.add(app, {
    method: 'GET', url: '/healthz', summary: 'Liveness', tag: 'meta', auth: false,
    responses: { 200: '{ ok: true }' },
    async handler() { return { ok: true }; },
  });

  let doc: string | undefined;
  t.add(app, {
    method: 'GET', url: '/openapi.json', summary: 'This OpenAPI 3.1 document', tag: 'meta', auth: false,
    responses: { 200: 'OpenAPI document', 304: 'not modified' },
    async handler(req, reply) {
      doc ??= JSON.stringify(t.openapi('tincan directory', '1'));
      return sendCacheable(req, reply, JSON.parse(doc), startedAt);
    },
  });
}
