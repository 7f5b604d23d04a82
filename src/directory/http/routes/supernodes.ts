// Supernode registry: register (public address, capacity), heartbeat (load),
// list nearest first, then least loaded (see proximity.ts: nearness is the
// address prefix shared with the client — the `near` parameter, else the
// request's source address). Entries without a heartbeat for
// supernodeTtlMs disappear from lists and are purged.
import type { FastifyInstance } from 'fastify';
import { isIP } from 'node:net';
import type { AppContext } from '../context.ts';
import type { RouteTable } from '../route.ts';
import { obj, params, id, ipAddress, port } from '../schemas.ts';
import { badRequest, forbidden, notFound } from '../errors.ts';
import { orderNearest } from '../../proximity.ts';

/** How many live supernodes (least loaded first) are ranked by nearness per list request. */
const RANKED = 500;

const count = { type: 'integer', minimum: 0, maximum: 1_000_000 } as const;

export function supernodeRoutes(app: FastifyInstance, t: RouteTable, ctx: AppContext): void {
  t.add(app, {
    method: 'POST', url: '/v1/supernodes', summary: 'Register a supernode', tag: 'supernodes', auth: true,
    body: obj({ address: ipAddress, port, capacity: { ...count, minimum: 1 }, load: count }, ['address', 'port', 'capacity']),
    responses: { 201: '{ id, heartbeatIntervalMs, expiresAfterMs }', 400: 'invalid field', 401: 'not logged in' },
    async handler(req, reply) {
      const b = req.body as { address: string; port: number; capacity: number; load?: number };
      if (!isIP(b.address)) throw badRequest('body/address is not an IP address');
      const sid = await ctx.store.registerSupernode(req.user!.userId, { address: b.address, port: b.port, capacity: b.capacity, load: b.load ?? 0 }, ctx.now());
      return reply.code(201).send({ id: sid, heartbeatIntervalMs: Math.floor(ctx.config.supernodeTtlMs / 3), expiresAfterMs: ctx.config.supernodeTtlMs });
    },
  });

  t.add(app, {
    method: 'POST', url: '/v1/supernodes/:supernodeId/heartbeat', summary: 'Heartbeat with current load', tag: 'supernodes', auth: true,
    params: params({ supernodeId: id }), body: obj({ load: count }, ['load']),
    responses: { 204: 'refreshed', 400: 'invalid field', 401: 'not logged in', 403: 'not your supernode', 404: 'unknown or expired (register again)' },
    async handler(req, reply) {
      const { supernodeId } = req.params as { supernodeId: string };
      const now = ctx.now();
      const r = await ctx.store.heartbeatSupernode(req.user!.userId, supernodeId, (req.body as { load: number }).load, now, now - ctx.config.supernodeTtlMs);
      if (r === 'missing') throw notFound(`no live supernode ${supernodeId}`);
      if (r === 'forbidden') throw forbidden(`supernode ${supernodeId} is not yours`);
      return reply.code(204).send();
    },
  });

  t.add(app, {
    method: 'GET', url: '/v1/supernodes', summary: 'Live supernodes, nearest (longest shared address prefix) first, then least loaded (load/capacity)', tag: 'supernodes', auth: true,
    querystring: obj({
      limit: { type: 'string', pattern: '^([1-9]|[1-4][0-9]|50)$', description: '1..50, default 8' },
      near: { ...ipAddress, description: "the client's public address (e.g. its server-reflexive candidate); default: the request's source address" },
    }, []),
    responses: { 200: '{ near, supernodes: [{ id, address, port, capacity, load, lastHeartbeat, prefixBits }] }', 400: 'invalid limit or near', 401: 'not logged in' },
    async handler(req) {
      const q = req.query as { limit?: string; near?: string };
      if (q.near !== undefined && !isIP(q.near)) throw badRequest('querystring/near is not an IP address');
      const limit = Number(q.limit ?? 8);
      const near = q.near ?? req.ip;
      const live = await ctx.store.listSupernodes(ctx.now() - ctx.config.supernodeTtlMs, RANKED);
      return { near, supernodes: orderNearest(live, near).slice(0, limit) };
    },
  });
}
