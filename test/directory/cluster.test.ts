// `tincan directory --workers 2` on SQLite, no Redis: two worker processes on
// one port behave as one directory. Every request below opens a fresh TCP
// connection (the cluster hands connections to workers in turn), so each check
// runs on both workers: /metrics names the worker that answered; a presence
// change reaches a push subscriber whichever worker holds it and the very next
// lookup on either worker (each caches answers); a logout
// revokes the token on every worker; login failures are counted once for the
// whole directory; SIGTERM stops every worker and the primary exits 0.
import { describe, it, expect, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryClient, type PushMessage } from '../../src/directory/client.ts';
import { Inbox, KEY_A } from './harness.ts';
import { startWorkersDirectory } from './workers-process.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One request on its own connection (no keep-alive pool). */
function fresh(base: string, method: string, path: string, o: { token?: string; body?: unknown } = {}): Promise<{ status: number; text: string }> {
  const u = new URL(path, base);
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((res, rej) => {
    const r = request({ host: u.hostname, port: u.port, path: u.pathname, method, agent: false, headers: {
      connection: 'close', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}),
    } }, (m) => { let text = ''; m.on('data', (d) => { text += String(d); }); m.on('end', () => res({ status: m.statusCode ?? 0, text })); });
    r.on('error', rej);
    r.end(body);
  });
}

describe('tincan directory --workers 2', () => {
  it('acts as one directory across workers: push, revocation, login limits; stops cleanly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tincan-cluster-')); dirs.push(dataDir);
    const started = await startWorkersDirectory(dataDir, children);
    const { child, exit } = started;
    expect(started.workers).toBe(2);
    const base = `http://127.0.0.1:${started.port}`;

    // both workers answer
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add(/^tincan_directory_worker (\d+)$/m.exec((await fresh(base, 'GET', '/metrics')).text)?.[1] ?? '?');
    expect([...seen].sort()).toEqual(['0', '1']);

    // two mutual contacts; bob listens for pushes on whichever worker his socket lands on
    const alice = new DirectoryClient(base), bob = new DirectoryClient(base);
    await alice.register('alice', 'alice-password'); await alice.login('alice', 'alice-password');
    await bob.register('bob', 'bob-password'); await bob.login('bob', 'bob-password');
    await alice.requestContact('bob'); await bob.acceptContact('alice');
    const dev = await alice.registerDevice({ name: 'a1', x25519: Buffer.from(KEY_A, 'base64url') });
    const inbox = new Inbox();
    const ch = await bob.openPush({ onMessage: inbox.push });
    for (let port = 1; port <= 4; port++) {
      const r = await fresh(base, 'PUT', '/v1/presence', { token: alice.token, body: { deviceId: dev.id, status: 'online', candidates: [{ kind: 'host', address: '192.0.2.7', port }] } });
      expect(r.status).toBe(204);
      await inbox.waitFor((m: PushMessage) => m.type === 'presence' && m.presence.candidates[0]?.port === port, 5000);
      // both workers cache bob's presence answer; the write above returned only after both forgot it
      for (let i = 0; i < 4; i++) {
        const g = await fresh(base, 'GET', '/v1/presence', { token: bob.token });
        expect((JSON.parse(g.text) as { presence: { candidates: { port: number }[] }[] }).presence[0].candidates[0].port).toBe(port);
      }
    }
    ch.close();

    // a token revoked through one worker is refused by all (they cache tokens)
    const session = await new DirectoryClient(base).login('alice', 'alice-password');
    for (let i = 0; i < 4; i++) expect((await fresh(base, 'GET', '/v1/contacts', { token: session.token })).status).toBe(200);
    expect((await fresh(base, 'DELETE', '/v1/sessions/current', { token: session.token })).status).toBe(204);
    for (let i = 0; i < 4; i++) expect((await fresh(base, 'GET', '/v1/contacts', { token: session.token })).status).toBe(401);

    // login failures are counted by the primary: 5 failures over both workers -> 429 everywhere
    for (let i = 0; i < 5; i++) expect((await fresh(base, 'POST', '/v1/sessions', { body: { username: 'bob', password: `wrong-${i}-password` } })).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await fresh(base, 'POST', '/v1/sessions', { body: { username: 'bob', password: 'bob-password' } })).status).toBe(429);

    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(started.out()).toContain('"msg":"stopped"');
    expect(started.out().match(/"msg":"worker stopped"/g)).toHaveLength(2);
  });
});
