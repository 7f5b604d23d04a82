// Rendezvous and relay tickets. Contract: a device asks to connect to a
// mutual contact's device; the directory pushes to BOTH users a 'rendezvous'
// message with the other side's candidates, NAT, keys, a relay ticket and a
// common start time (startAt, plus delayMs so peers need no synchronised
// clock), and answers the caller with its own copy; a callee that does not acknowledge
// its copy within 1 s gets a STUN nudge (push/nudge.ts). At most 6 rendezvous at
// once, then 1/s, per (caller, callee) pair on an instance (429 + Retry-After). Tickets are Ed25519-signed
// (src/wire/ticket.ts) and verifiable offline with GET /v1/directory-key.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import type { RouteTable, AuthUser } from '../route.ts';
import type { DeviceRow, PresenceRecord } from '../../store/store.ts';
import { obj, id, username } from '../schemas.ts';
import { HttpError, forbidden, notFound } from '../errors.ts';
import { signTicket } from '../../../wire/ticket.ts';
import { newId } from '../../ids.ts';
import { scheduleNudge } from '../../push/nudge.ts';

function issueTicket(ctx: AppContext, a: string, b: string): { ticket: string; issuedAt: number; expiresAt: number } {
  const issuedAt = ctx.now(), expiresAt = issuedAt + ctx.config.ticketTtlMs;
  const bytes = signTicket({ issuedAt, expiresAt, deviceA: Buffer.from(a, 'hex'), deviceB: Buffer.from(b, 'hex') }, ctx.key.secretKey);
  return { ticket: Buffer.from(bytes).toString('base64url'), issuedAt, expiresAt };
}

async function ownDevice(ctx: AppContext, user: AuthUser, deviceId: string): Promise<DeviceRow> {
  const d = await ctx.store.device(deviceId);
  if (!d) throw notFound(`no device ${deviceId}`);
  if (d.user_id !== user.userId) throw forbidden(`device ${deviceId} is not yours`);
  return d;
}

/** Rendezvous per (caller user, callee user) on this instance: a burst of PAIR_BURST, then PAIR_PER_S per second. */
const PAIR_BURST = 6;
const PAIR_PER_S = 1;
const MAX_PAIRS = 100_000;

/** Token buckets per pair, least recently used first; returns the wait in ms (0: allowed, a token taken). */
function pairLimiter(): (key: string, now: number) => number {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (key, now) => {
    const b = buckets.get(key) ?? { tokens: PAIR_BURST, at: now };
    b.tokens = Math.min(PAIR_BURST, b.tokens + (Math.max(0, now - b.at) / 1000) * PAIR_PER_S);
    b.at = now;
    buckets.delete(key);
    buckets.set(key, b);
    if (buckets.size > MAX_PAIRS) buckets.delete(buckets.keys().next().value!);
    if (b.tokens < 1) return Math.ceil(((1 - b.tokens) / PAIR_PER_S) * 1000);
    b.tokens -= 1;
    return 0;
  };
}

export function rendezvousRoutes(app: FastifyInstance, t: RouteTable, ctx: AppContext): void {
  const pairWait = pairLimiter();
  t.add(app, {
    method: 'POST', url: '/v1/tickets', summary: 'Relay ticket for one of own devices and a mutual contact\'s device', tag: 'rendezvous', auth: true,
    body: obj({ deviceId: id, peerDeviceId: id }, ['deviceId', 'peerDeviceId']),
    responses: { 201: '{ ticket (base64url, 113 bytes), issuedAt, expiresAt }', 400: 'invalid field', 401: 'not logged in', 403: 'not your device / not a mutual contact', 404: 'no such device' },
    async handler(req, reply) {
      const b = req.body as { deviceId: string; peerDeviceId: string };
      await ownDevice(ctx, req.user!, b.deviceId);
      const peer = await ctx.store.device(b.peerDeviceId);
      if (!peer) throw notFound(`no device ${b.peerDeviceId}`);
      if (peer.user_id !== req.user!.userId && !await ctx.store.isMutual(req.user!.userId, peer.user_id)) throw forbidden('peerDeviceId does not belong to a mutual contact');
      return reply.code(201).send(issueTicket(ctx, b.deviceId, b.peerDeviceId));
    },
  });

  t.add(app, {
    method: 'POST', url: '/v1/rendezvous', summary: "Ask to connect to a mutual contact's device; both sides get a 'rendezvous' push", tag: 'rendezvous', auth: true,
    body: obj({ deviceId: id, username, peerDeviceId: id }, ['deviceId', 'username']),
    responses: { 200: 'the caller\'s rendezvous message (same shape as the push)', 400: 'invalid field', 401: 'not logged in', 403: 'not your device / not a mutual contact', 404: 'no such user or device', 409: 'contact has no online device', 429: 'too many calls to this user (Retry-After)' },
    async handler(req) {
      const b = req.body as { deviceId: string; username: string; peerDeviceId?: string };
      const me = req.user!;
      const myDevice = await ownDevice(ctx, me, b.deviceId);
      const peerUser = await ctx.store.userByName(b.username);
      if (!peerUser) throw notFound(`no user ${b.username}`);
      if (!await ctx.store.isMutual(me.userId, peerUser.id)) throw forbidden(`${b.username} is not a mutual contact`);
      const now = ctx.now();
      const stale = now - ctx.config.presenceTtlMs;
      const [theirs, mine] = await Promise.all([ctx.store.presenceOfUsers([peerUser.id], stale), ctx.store.presenceOfUsers([me.userId], stale)]);
      const target = theirs.filter((p) => p.status !== 'offline' && (!b.peerDeviceId || p.deviceId === b.peerDeviceId))
        .sort((x, y) => y.updatedAt - x.updatedAt)[0];
      if (!target) throw new HttpError(409, 'conflict', `${b.username} has no online device${b.peerDeviceId ? ` ${b.peerDeviceId}` : ''}`);
      // (Only calls that reach a device count.) Each rendezvous signs a ticket and makes the callee bind at a relay and check our candidates.
      const wait = pairWait(`${me.userId}>${peerUser.id}`, now);
      if (wait > 0) {
        ctx.metrics.count('tincan_rendezvous_throttled_total', 'Rendezvous refused with 429 (too many for one pair of users).');
        throw new HttpError(429, 'too_many_requests', `too many calls to ${b.username}; retry later`, { 'retry-after': String(Math.ceil(wait / 1000)) });
      }
      const peerDevice = await ctx.store.device(target.deviceId);
      if (!peerDevice) throw notFound(`no device ${target.deviceId}`);
      const myPresence: PresenceRecord = mine.find((p) => p.deviceId === b.deviceId)
        ?? { username: me.username, deviceId: b.deviceId, status: 'online', candidates: [], nat: null, supernode: null, updatedAt: now };
      const rid = newId();
      const startAt = now + ctx.config.punchDelayMs;
      const ticket = issueTicket(ctx, b.deviceId, target.deviceId);
      const side = (self: string, p: PresenceRecord, d: DeviceRow) => ({
        type: 'rendezvous', id: rid, serverTime: now, startAt, delayMs: ctx.config.punchDelayMs, deviceId: self,
        peer: { username: p.username, deviceId: p.deviceId, x25519: d.x25519, ed25519: d.ed25519, candidates: p.candidates, nat: p.nat, supernode: p.supernode },
        ticket: ticket.ticket, ticketExpiresAt: ticket.expiresAt,
      });
      const forCaller = side(b.deviceId, target, peerDevice);
      const forPeer = side(target.deviceId, myPresence, myDevice);
      await Promise.all([ctx.fanout.publish([peerUser.id], forPeer), ctx.fanout.publish([me.userId], forCaller)]);
      // Not acknowledged soon (its push channel may be dead): nudge the callee over UDP (push/nudge.ts).
      scheduleNudge({ nudge: ctx.nudge, pending: (d, i) => ctx.hub.replay.has(d, i), now: ctx.now }, target.deviceId, rid, target.candidates);
      return forCaller;
    },
  });
}
