// Devices: a user registers device public keys (X25519 static for Noise,
// optional Ed25519); mutual contacts (and the owner) may fetch them. A user has at
// most config.maxDevicesPerUser devices (default 16): beyond it POST /v1/devices
// answers 409 device_limit naming the limit (devices are free otherwise, and each
// one can hold relay tickets and relay sessions of its own).
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import type { RouteTable } from '../route.ts';
import type { DeviceRow } from '../../store/store.ts';
import { obj, params, id, key32, username } from '../schemas.ts';
import { forbidden, notFound, HttpError } from '../errors.ts';

export const deviceJson = (d: DeviceRow) => ({ id: d.id, name: d.name, x25519: d.x25519, ed25519: d.ed25519, createdAt: d.created_at });

export function deviceRoutes(app: FastifyInstance, t: RouteTable, ctx: AppContext): void {
  t.add(app, {
    method: 'POST', url: '/v1/devices', summary: 'Register a device and its public keys', tag: 'devices', auth: true,
    body: obj({ name: { type: 'string', minLength: 1, maxLength: 64 }, x25519: key32, ed25519: key32 }, ['name', 'x25519']),
    responses: { 201: 'device: { id, name, x25519, ed25519, createdAt }', 400: 'invalid field', 401: 'not logged in', 409: 'device_limit: the user already has the maximum number of devices' },
    async handler(req, reply) {
      const b = req.body as { name: string; x25519: string; ed25519?: string };
      const max = ctx.config.maxDevicesPerUser;
      // checked before the insert, not in one transaction: concurrent registrations may pass it by a few
      if (max > 0 && (await ctx.store.devicesOf(req.user!.userId)).length >= max) {
        throw new HttpError(409, 'device_limit', `a user may register at most ${max} devices; delete one (DELETE /v1/devices/{deviceId}) first`);
      }
      const d = await ctx.store.addDevice(req.user!.userId, b.name, b.x25519, b.ed25519 ?? null, ctx.now());
      return reply.code(201).send(deviceJson(d));
    },
  });

  t.add(app, {
    method: 'GET', url: '/v1/devices', summary: 'List own devices', tag: 'devices', auth: true,
    responses: { 200: '{ devices: [device] }', 401: 'not logged in' },
    async handler(req) {
      return { devices: (await ctx.store.devicesOf(req.user!.userId)).map(deviceJson) };
    },
  });

  t.add(app, {
    method: 'DELETE', url: '/v1/devices/:deviceId', summary: 'Delete one of own devices', tag: 'devices', auth: true,
    params: params({ deviceId: id }),
    responses: { 204: 'deleted', 401: 'not logged in', 404: 'no such device of yours' },
    async handler(req, reply) {
      const { deviceId } = req.params as { deviceId: string };
      if (!await ctx.store.deleteDevice(req.user!.userId, deviceId)) throw notFound(`no device ${deviceId} of yours`);
      return reply.code(204).send();
    },
  });

  t.add(app, {
    method: 'GET', url: '/v1/users/:username/devices', summary: "A mutual contact's device keys", tag: 'devices', auth: true,
    params: params({ username }),
    responses: { 200: '{ username, devices: [device] }', 401: 'not logged in', 403: 'not a mutual contact', 404: 'no such user' },
    async handler(req) {
      const { username: name } = req.params as { username: string };
      const other = await ctx.store.userByName(name);
      if (!other) throw notFound(`no user ${name}`);
      if (other.id !== req.user!.userId && !await ctx.store.isMutual(req.user!.userId, other.id)) throw forbidden(`${name} is not a mutual contact`);
      return { username: name, devices: (await ctx.store.devicesOf(other.id)).map(deviceJson) };
    },
  });
}
