// Conditional GET (RFC 9110 §8.8, §13): strong ETag from the body's SHA-256,
// Last-Modified from the resource's change time (second precision).
// Contract: If-None-Match takes precedence over If-Modified-Since; a match
// answers 304 with ETag/Last-Modified and no body.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** Sends `value` as JSON with validators, or 304 if the client's copy is current. */
export function sendCacheable(req: FastifyRequest, reply: FastifyReply, value: unknown, lastModifiedMs: number): FastifyReply {
  return sendCacheableJson(req, reply, JSON.stringify(value), lastModifiedMs);
}

/** sendCacheable for a body that is already JSON text (`etag`: etagOf(body), when already known). */
export function sendCacheableJson(req: FastifyRequest, reply: FastifyReply, body: string, lastModifiedMs: number, etag = etagOf(body)): FastifyReply {
  const lastModifiedS = Math.floor(lastModifiedMs / 1000);
  reply.header('etag', etag).header('last-modified', new Date(lastModifiedS * 1000).toUTCString()).header('cache-control', 'private, no-cache');
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  let fresh = false;
  if (typeof inm === 'string') fresh = matchesEtag(inm, etag);
  else if (typeof ims === 'string') {
    const t = Date.parse(ims);
    fresh = Number.isFinite(t) && lastModifiedS <= Math.floor(t / 1000);
  }
  if (fresh) return reply.code(304).send();
  return reply.code(200).type('application/json; charset=utf-8').send(body);
}
