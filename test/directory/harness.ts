// Test harness: a real directory on 127.0.0.1 over a fresh database of the
// given engine (cheap scrypt), plus small fetch helpers that return status,
// headers and parsed JSON.
import { Writable } from 'node:stream';
import { startDirectory, makeLogger, type Directory, type DirectoryOptions } from '../../src/directory/server.ts';
import { TEST_SCRYPT } from '../../src/directory/password.ts';
import { freshDb, type EngineName, type TestDb } from './engines.ts';
import { performance } from 'node:perf_hooks';
import type { PushMessage } from '../../src/directory/client.ts';

export interface TestDirectory { dir: Directory; db: TestDb; logs: string[]; stop(): Promise<void> }

export async function startTestDirectory(engine: EngineName, opts: Partial<DirectoryOptions> = {}, db: TestDb = freshDb(engine)): Promise<TestDirectory> {
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const dir = await startDirectory({
    databaseUrl: db.url, pgSchema: db.schema, host: '127.0.0.1', port: 0,
    logger: makeLogger(sink, 'info'),
    ...opts,
    // suites register many users from 127.0.0.1: no registration limit unless a test sets one
    config: { scrypt: TEST_SCRYPT, registrationsPerAddress: 0, ...opts.config },
  });
  return { dir, db, logs, async stop() { await dir.close(); await db.cleanup(); } };
}

export interface Res<T = any> { status: number; headers: Headers; body: T; text: string } // eslint-disable-line @typescript-eslint/no-explicit-any

export async function call<T = any>(base: string, method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Res<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) { body = opts.raw; headers['content-type'] ??= 'application/json'; }
  else if (opts.body !== undefined) { body = JSON.stringify(opts.body); headers['content-type'] = 'application/json'; }
  const r = await fetch(base + path, { method, headers, body });
  const text = await r.text();
  let parsed: unknown = undefined;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
  return { status: r.status, headers: r.headers, body: parsed as T, text };
}

/** Registers and logs in; returns the token. */
export async function user(base: string, name: string, password = 'password-' + name): Promise<string> {
  const r1 = await call(base, 'POST', '/v1/accounts', { body: { username: name, password } });
  if (r1.status !== 201) throw new Error(`register ${name}: ${r1.status} ${r1.text}`);
  const r2 = await call(base, 'POST', '/v1/sessions', { body: { username: name, password } });
  if (r2.status !== 201) throw new Error(`login ${name}: ${r2.status} ${r2.text}`);
  return r2.body.token as string;
}

export const KEY_A = Buffer.alloc(32, 1).toString('base64url');
export const KEY_B = Buffer.alloc(32, 2).toString('base64url');

export async function device(base: string, token: string, name = 'laptop'): Promise<string> {
  const r = await call(base, 'POST', '/v1/devices', { token, body: { name, x25519: KEY_A, ed25519: KEY_B } });
  if (r.status !== 201) throw new Error(`device: ${r.status} ${r.text}`);
  return r.body.id as string;
}

export async function befriend(base: string, a: { token: string; name: string }, b: { token: string; name: string }): Promise<void> {
  const r1 = await call(base, 'POST', `/v1/contacts/${b.name}/request`, { token: a.token });
  const r2 = await call(base, 'POST', `/v1/contacts/${a.name}/accept`, { token: b.token });
  if (r1.status !== 200 || r2.status !== 200 || r2.body.state !== 'accepted') throw new Error(`befriend: ${r1.text} ${r2.text}`);
}

/** Collects push messages; waitFor resolves with the first match (bounded wait). */
export class Inbox {
  readonly messages: { at: number; m: PushMessage }[] = [];
  private waiters: (() => void)[] = [];
  push = (m: PushMessage) => { this.messages.push({ at: performance.now(), m }); for (const w of this.waiters.splice(0)) w(); };
  async waitFor(pred: (m: PushMessage) => boolean, timeoutMs = 2000): Promise<{ at: number; m: PushMessage }> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const hit = this.messages.find((x) => pred(x.m));
      if (hit) return hit;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no matching push message within ${timeoutMs} ms; got ${JSON.stringify(this.messages.map((x) => x.m.type))}`);
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, left); this.waiters.push(() => { clearTimeout(t); resolve(); }); });
    }
  }
}

