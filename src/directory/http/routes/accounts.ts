// Accounts: register, login (bearer token), logout, change password, profile,
// delete. Contract: passwords only ever reach scrypt; tokens are returned once
// and stored as SHA-256; failed logins count per account and per client
// address and answer 429 with Retry-After once over the limit; registrations
// count per client address (429 past registrationsPerAddress per window).
// Deleting an account needs the password again; a wrong one counts as a
// failed login.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import type { RouteTable } from '../route.ts';
import { obj, username, password } from '../schemas.ts';
import { HttpError, conflict, forbidden } from '../errors.ts';
import { hashPassword, verifyPassword } from '../../password.ts';
import { newToken, tokenHash } from '../../ids.ts';
import { sendCacheable } from '../caching.ts';

interface Credentials { username: string; password: string }

export function accountRoutes(app: FastifyInstance, t: RouteTable, ctx: AppContext): void {
  // A hash to verify against when the user does not exist, so timing does not reveal it.
  const dummyHash = hashPassword('not a real password', ctx.config.scrypt);

  t.add(app, {
    method: 'POST', url: '/v1/accounts', summary: 'Register an account', tag: 'accounts', auth: false,
    body: obj({ username, password }, ['username', 'password']),
    responses: { 201: 'created: { username, createdAt }', 400: 'invalid field', 409: 'username taken', 429: 'too many registrations from this address (Retry-After)' },
    async handler(req, reply) {
      const b = req.body as Credentials;
      const now = ctx.now();
      const addr = `addr:${req.ip}`;
      const wait = await ctx.registrationLimiter.retryAfterMs(addr, now);
      if (wait > 0) {
        ctx.metrics.count('tincan_registrations_throttled_total', 'Registrations refused with 429.');
        throw new HttpError(429, 'too_many_requests', 'too many registrations from this address; retry later', { 'retry-after': String(Math.ceil(wait / 1000)) });
      }
      await ctx.registrationLimiter.recordFailure(addr, now); // every attempt counts (a taken name too)
      const id = await ctx.store.createUser(b.username, await hashPassword(b.password, ctx.config.scrypt), now);
      if (!id) throw conflict(`username ${b.username} is taken`);
      return reply.code(201).send({ username: b.username, createdAt: now });
    },
  });

  t.add(app, {
    method: 'POST', url: '/v1/sessions', summary: 'Log in: exchange credentials for a bearer token', tag: 'accounts', auth: false,
    body: obj({ username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 } }, ['username', 'password']),
    responses: { 201: 'logged in: { token, expiresAt, username }', 401: 'wrong username or password', 429: 'too many failed logins (Retry-After)' },
    async handler(req, reply) {
      const b = req.body as Credentials;
      const now = ctx.now();
      const acct = `acct:${b.username}`, addr = `addr:${req.ip}`;
      const wait = Math.max(await ctx.accountLimiter.retryAfterMs(acct, now), await ctx.addressLimiter.retryAfterMs(addr, now));
      if (wait > 0) {
        ctx.metrics.count('tincan_login_throttled_total', 'Logins refused with 429.');
        throw new HttpError(429, 'too_many_requests', 'too many failed logins; retry later', { 'retry-after': String(Math.ceil(wait / 1000)) });
      }
      const user = await ctx.store.userByName(b.username);
      const ok = await verifyPassword(b.password, user?.password_hash ?? await dummyHash) && !!user;
      if (!ok || !user) {
        await Promise.all([ctx.accountLimiter.recordFailure(acct, now), ctx.addressLimiter.recordFailure(addr, now)]);
        ctx.metrics.count('tincan_login_failures_total', 'Failed logins.');
        throw new HttpError(401, 'unauthorized', 'wrong username or password', { 'www-authenticate': 'Bearer' });
      }
      await ctx.accountLimiter.clear(acct);
      const token = newToken();
      const expiresAt = now + ctx.config.tokenTtlMs;
      await ctx.store.insertToken(tokenHash(token), user.id, now, expiresAt);
      return reply.code(201).header('cache-control', 'no-store').send({ token, expiresAt, username: user.username });
    },
  });

  t.add(app, {
    method: 'DELETE', url: '/v1/sessions/current', summary: 'Log out: revoke this token', tag: 'accounts', auth: true,
    responses: { 204: 'revoked', 401: 'not logged in' },
    async handler(req, reply) {
      await ctx.store.revokeToken(req.user!.tokenHash, ctx.now());
      await ctx.fanout.publishControl({ type: 'revoke-token', tokenHash: req.user!.tokenHash });
      return reply.code(204).send();
    },
  });

  t.add(app, {
    method: 'PUT', url: '/v1/me/password', summary: 'Change password (revokes all other tokens)', tag: 'accounts', auth: true,
    body: obj({ oldPassword: { type: 'string', minLength: 1, maxLength: 256 }, newPassword: password }, ['oldPassword', 'newPassword']),
    responses: { 204: 'changed', 400: 'invalid field', 401: 'not logged in', 403: 'oldPassword is wrong' },
    async handler(req, reply) {
      const b = req.body as { oldPassword: string; newPassword: string };
      const user = await ctx.store.userById(req.user!.userId);
      if (!user || !await verifyPassword(b.oldPassword, user.password_hash)) throw forbidden('oldPassword is wrong');
      await ctx.store.setPassword(user.id, await hashPassword(b.newPassword, ctx.config.scrypt), req.user!.tokenHash, ctx.now());
      await ctx.fanout.publishControl({ type: 'revoke-user', userId: user.id, keepTokenHash: req.user!.tokenHash });
      return reply.code(204).send();
    },
  });

  t.add(app, {
    method: 'DELETE', url: '/v1/account', summary: 'Delete own account (password again): devices, contacts, presence, tokens, supernodes; contacts are told', tag: 'accounts', auth: true,
    body: obj({ password: { type: 'string', minLength: 1, maxLength: 256 } }, ['password']),
    responses: { 204: 'deleted', 400: 'invalid field', 401: 'not logged in', 403: 'password is wrong', 429: 'too many failed logins (Retry-After)' },
    async handler(req, reply) {
      const me = req.user!;
      const now = ctx.now();
      const acct = `acct:${me.username}`;
      const wait = await ctx.accountLimiter.retryAfterMs(acct, now);
      if (wait > 0) throw new HttpError(429, 'too_many_requests', 'too many failed logins; retry later', { 'retry-after': String(Math.ceil(wait / 1000)) });
      const user = await ctx.store.userById(me.userId);
      if (!user) throw new HttpError(401, 'unauthorized', 'account no longer exists');
      if (!await verifyPassword((req.body as { password: string }).password, user.password_hash)) {
        await ctx.accountLimiter.recordFailure(acct, now);
        ctx.metrics.count('tincan_login_failures_total', 'Failed logins.');
        throw forbidden('password is wrong');
      }
      const mutual = await ctx.store.mutualContactIds(me.userId);
      const r = await ctx.store.deleteUser(me.userId, now);
      await ctx.fanout.publishControl({ type: 'delete-user', userId: me.userId });
      // mutual contacts see every device go offline; everyone with a row towards us sees the contact vanish
      for (const deviceId of r.deviceIds) {
        await ctx.fanout.publish(mutual, { type: 'presence', presence: { username: me.username, deviceId, status: 'offline', candidates: [], nat: null, supernode: null, updatedAt: now } });
      }
      await ctx.fanout.publish(r.peerIds, { type: 'contact', username: me.username, state: 'none' });
      ctx.metrics.count('tincan_accounts_deleted_total', 'Accounts deleted.');
      return reply.code(204).send();
    },
  });

  t.add(app, {
    method: 'GET', url: '/v1/me', summary: 'Own profile (ETag / Last-Modified; conditional GET answers 304)', tag: 'accounts', auth: true,
    responses: { 200: '{ username, createdAt, updatedAt }', 304: 'not modified', 401: 'not logged in' },
    async handler(req, reply) {
      const user = await ctx.store.userById(req.user!.userId);
      if (!user) throw new HttpError(401, 'unauthorized', 'account no longer exists');
      return sendCacheable(req, reply, { username: user.username, createdAt: user.created_at, updatedAt: user.updated_at }, user.updated_at);
    },
  });
}
