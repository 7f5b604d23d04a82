// Crash safety: the directory runs as a child process (`tincan directory`) on
// a SQLite file; concurrent clients write (accounts, devices) while the
// process is killed with SIGKILL at random moments; after each restart every
// write that was acknowledged with 2xx must be there. Seeded: a failure prints
// the seed; TINCAN_CRASH_SEED=<n> reproduces the kill timings.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SEED = Number(process.env.TINCAN_CRASH_SEED ?? (Date.now() % 1_000_000));

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

const children = new Set<ChildProcess>();
afterAll(() => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

async function startChild(dataDir: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'directory', '--data-dir', dataDir, '--port', '0', '--no-stun', '--scrypt-n', '1024', '--device-limit', '0', '--no-log-requests', '--log-level', 'info'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += String(d); });
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`directory did not start in 30 s; stderr: ${stderr}`)), 30_000);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`directory exited ${code}: ${stderr}`)); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const j = JSON.parse(line) as { msg?: string; port?: number };
        if (j.msg === 'directory listening' && j.port) { clearTimeout(timer); resolvePort(j.port); }
      } catch { /* not JSON */ }
    });
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

async function post(base: string, path: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() as Record<string, unknown> };
}

describe('crash safety (SQLite, kill -9)', () => {
  it('every acknowledged write survives kill -9 at random moments', async () => {
    const rnd = mulberry32(SEED);
    const dataDir = mkdtempSync(join(tmpdir(), 'tincan-crash-'));
    const ackedDevices: string[] = [];
    const ackedUsers: string[] = [];
    let token = '';
    try {
      for (let round = 0; round < 3; round++) {
        const { child, base } = await startChild(dataDir);
        // every write acknowledged in earlier rounds is present
        if (round === 0) {
          expect((await post(base, '/v1/accounts', { username: 'owner', password: 'owner-password' })).status).toBe(201);
        }
        const login = await post(base, '/v1/sessions', { username: 'owner', password: 'owner-password' });
        expect(login.status).toBe(201);
        token = login.json.token as string;
        const listed = await fetch(base + '/v1/devices', { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json()) as { devices: { id: string }[] };
        const present = new Set(listed.devices.map((d) => d.id));
        const lostDevices = ackedDevices.filter((id) => !present.has(id));
        expect(lostDevices, `seed ${SEED}: acknowledged devices lost`).toEqual([]);
        for (const u of ackedUsers) expect((await post(base, '/v1/sessions', { username: u, password: 'pw-' + u + '-x' })).status, `seed ${SEED}: user ${u}`).toBe(201);

        // writers run until the process dies
        let dead = false;
        const writer = async (w: number) => {
          for (let i = 0; !dead && i < 10_000; i++) {
            try {
              if (i % 4 === 3) {
                const name = `u${round}w${w}n${i}`;
                const r = await post(base, '/v1/accounts', { username: name, password: 'pw-' + name + '-x' });
                if (r.status === 201) ackedUsers.push(name);
              } else {
                const r = await post(base, '/v1/devices', { name: `r${round}w${w}n${i}`, x25519: Buffer.alloc(32, i % 256).toString('base64url') }, token);
                if (r.status === 201) ackedDevices.push(r.json.id as string);
              }
            } catch { return; /* connection died with the process: not acknowledged */ }
          }
        };
        const writers = Array.from({ length: 6 }, (_, w) => writer(w));
        await new Promise((r) => setTimeout(r, 150 + Math.floor(rnd() * 600)));
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
        dead = true;
        await Promise.all(writers);
      }
      // final check after the last kill
      const { child, base } = await startChild(dataDir);
      const listed = await fetch(base + '/v1/devices', { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json()) as { devices: { id: string }[] };
      const present = new Set(listed.devices.map((d) => d.id));
      expect(ackedDevices.filter((id) => !present.has(id)), `seed ${SEED}: acknowledged devices lost`).toEqual([]);
      for (const u of ackedUsers) expect((await post(base, '/v1/sessions', { username: u, password: 'pw-' + u + '-x' })).status, `seed ${SEED}: user ${u}`).toBe(201);
      expect(ackedDevices.length, 'the test must actually write').toBeGreaterThan(10);
      console.log(`crash test seed ${SEED}: ${ackedDevices.length} devices and ${ackedUsers.length} accounts acknowledged across 3 kill -9, all present`);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
