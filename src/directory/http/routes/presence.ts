// Presence: a device publishes status, candidate endpoints, NAT behaviour and
// supernode; mutual contacts read it and get it pushed. Contract: presence is
// per device; entries not refreshed within presenceTtlMs read as 'offline'.
import type { FastifyInstance } from 'fastify';
import { isIP } from 'node:net';
import type { AppContext } from '../context.ts';
import type { RouteTable } from '../route.ts';
import type { Candidate, Endpoint, NatBehaviour } from '../../store/store.ts';
import { obj, params, id, username, candidate, nat, endpoint } from '../schemas.ts';
import { badRequest, forbidden, notFound } from '../errors.ts';

export interface PresenceBody { deviceId: string; status: 'online' | 'away' | 'offline'; candidates: Candidate[]; nat?: NatBehaviour | null; supernode?: Endpoint | null }

/** Writes a device's presence and pushes it to the owner's online mutual contacts; 404 if the device is gone. */
export async function publishPresence(ctx: AppContext, user: { userId: string; username: string }, p: PresenceBody): Promise<void> {
  const now = ctx.now();
  const value = { status: p.status, candidates: p.candidates, nat: p.nat ?? null, supernode: p.supernode ?? null };
  if (!await ctx.store.setPresence(user.userId, p.deviceId, value, now)) throw notFound(`no device ${p.deviceId}`);
  const recipients = await ctx.views.mutualContactIds(user.userId, now);
  await ctx.fanout.publish(recipients, { type: 'presence', presence: { username: user.username, deviceId: p.deviceId, ...value, updatedAt: now } });
}

export function presenceRoutes(app: FastifyInstance, t: RouteTable, ctx: AppContext): void {
  t.add(app, {
    method: 'PUT', url: '/v1/presence', summary: "Set one of own devices' presence (pushed to online mutual contacts)", tag: 'presence', auth: true,
    body: obj({
      deviceId: id, status: { type: 'string', enum: ['online', 'away', 'offline'] },
      candidates: { type: 'array', maxItems: 16, items: candidate },
      nat: { anyOf: [nat, { type: 'null' }] }, supernode: { anyOf: [endpoint, { type: 'null' }] },
    }, ['deviceId', 'status', 'candidates']),
    responses: { 204: 'stored and pushed', 400: 'invalid field', 401: 'not logged in', 403: 'not your device', 404: 'no such device' },
    async handler(req, reply) {
      const b = req.body as PresenceBody;
      b.candidates.forEach((c, i) => { if (!isIP(c.address)) throw badRequest(`body/candidates/${i}/address is not an IP address`); });
      if (b.supernode && !isIP(b.supernode.address)) throw badRequest('body/supernode/address is not an IP address');
      const dev = await ctx.store.device(b.deviceId);
      if (!dev) throw notFound(`no device ${b.deviceId}`);
      if (dev.user_id !== req.user!.userId) throw forbidden(`device ${b.deviceId} is not yours`);
      await publishPresence(ctx, req.user!, b);
      return reply.code(204).send();
    },
  });

  t.add(app, {
    method: 'GET', url: '/v1/presence', summary: 'Presence of every device of every mutual contact', tag: 'presence', auth: true,
    responses: { 200: '{ presence: [presence] }', 401: 'not logged in' },
    async handler(req, reply) {
      const now = ctx.now();
      const list = await ctx.views.presenceOfContactsJson(req.user!.userId, now, now - ctx.config.presenceTtlMs);
      return reply.type('application/json; charset=utf-8').send(`{"presence":${list}}`);
    },
  });

  t.add(app, {
    method: 'GET', url: '/v1/presence/:username', summary: 'Presence of one mutual contact (or yourself)', tag: 'presence', auth: true,
    params: params({ username }),
    responses: { 200: '{ presence: [presence] }', 401: 'not logged in', 403: 'not a mutual contact', 404: 'no such user' },
    async handler(req) {
      const { username: name } = req.params as { username: string };
      const other = await ctx.store.userByName(name);
      if (!other) throw notFound(`no user ${name}`);
      if (other.id !== req.user!.userId && !await ctx.store.isMutual(req.user!.userId, other.id)) throw forbidden(`${name} is not a mutual contact`);
      return { presence: await ctx.store.presenceOfUsers([other.id], ctx.now() - ctx.config.presenceTtlMs) };
    },
  });
}
