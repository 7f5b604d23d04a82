// Contacts: request / accept / decline / remove / block, and the own contact
// list (cacheable). The other side is told over the push channel.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import type { RouteTable } from '../route.ts';
import type { ContactAction } from '../../store/store.ts';
import { params, username } from '../schemas.ts';
import { HttpError, badRequest, notFound } from '../errors.ts';
import { sendCacheableJson } from '../caching.ts';

export function contactRoutes(app: FastifyInstance, t: RouteTable, ctx: AppContext): void {
  t.add(app, {
    method: 'GET', url: '/v1/contacts', summary: 'Own contact list with states (ETag / Last-Modified; conditional GET answers 304)', tag: 'contacts', auth: true,
    responses: { 200: '{ contacts: [{ username, state, updatedAt }] }', 304: 'not modified', 401: 'not logged in' },
    async handler(req, reply) {
      const list = await ctx.views.contactList(req.user!.userId, ctx.now());
      if (!list) throw new HttpError(401, 'unauthorized', 'account no longer exists');
      return sendCacheableJson(req, reply, list.json, list.lastModified, list.etag);
    },
  });

  const act = async (me: { userId: string; username: string }, name: string, action: ContactAction) => {
    const peer = await ctx.store.userByName(name);
    if (!peer) throw notFound(`no user ${name}`);
    const r = await ctx.store.contactAction(me.userId, peer.id, action, ctx.now());
    if (!r.ok) {
      if (r.reason === 'self') throw badRequest('username: cannot be yourself');
      throw new HttpError(409, 'conflict', `no pending request from ${name}`);
    }
    if (r.notifyPeer) {
      const theirState = action === 'remove' ? 'none' : r.state === 'outgoing' ? 'incoming' : r.state;
      await ctx.fanout.publish([peer.id], { type: 'contact', username: me.username, state: theirState });
    }
    return { username: name, state: r.state };
  };

  for (const action of ['request', 'accept', 'decline', 'block'] as const) {
    t.add(app, {
      method: 'POST', url: `/v1/contacts/:username/${action}`, summary: `Contact: ${action}`, tag: 'contacts', auth: true,
      params: params({ username }),
      responses: action === 'accept' || action === 'decline'
        ? { 200: '{ username, state }', 400: 'invalid username or yourself', 401: 'not logged in', 404: 'no such user', 409: 'no pending request' }
        : { 200: '{ username, state }', 400: 'invalid username or yourself', 401: 'not logged in', 404: 'no such user' },
      async handler(req) {
        return act(req.user!, (req.params as { username: string }).username, action);
      },
    });
  }

  t.add(app, {
    method: 'DELETE', url: '/v1/contacts/:username', summary: 'Remove a contact, cancel a request or unblock', tag: 'contacts', auth: true,
    params: params({ username }),
    responses: { 204: 'removed', 401: 'not logged in', 404: 'no such user' },
    async handler(req, reply) {
      await act(req.user!, (req.params as { username: string }).username, 'remove');
      return reply.code(204).send();
    },
  });
}
