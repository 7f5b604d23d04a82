// `npm run bench:directory`: authenticated lookups against a real directory
// process (`tincan directory`, request logging off) on SQLite and on
// PostgreSQL in the same run, driven by autocannon from this process.
// Prints one JSON document: per engine and per lookup, requests/s and latency
// percentiles (ms), plus (sqlite.workersN.baselineNoDb) the same server answering
// GET /healthz — the ceiling of this machine for any route.
// Goal (issue 5): >= 5,000 req/s with p99 <= 20 ms.
// Options: --duration <s> (default 10), --connections <n> (default 10),
//          --users <n> (default 200), --contacts <n> per user (default 20),
//          --engines sqlite,postgres (default both),
//          --workers 1,2 (directory worker processes, `tincan directory --workers`; default both).
// PostgreSQL: TINCAN_BENCH_PG_URL or TINCAN_TEST_PG_URL, else the local
// default; a fresh schema is created and dropped. Unreachable -> reported skipped.
import autocannon from 'autocannon';
import pg from 'pg';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';

const ROOT = resolve(import.meta.dirname, '..');
const arg = (name: string, def: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def; };
const DURATION = arg('duration', 10), CONNECTIONS = arg('connections', 10), USERS = arg('users', 200), CONTACTS = arg('contacts', 20);
const PG_URL = process.env.TINCAN_BENCH_PG_URL ?? process.env.TINCAN_TEST_PG_URL ?? 'postgres://tincan:tincan@127.0.0.1:5432/tincan_test';

async function startDirectory(databaseUrl: string, dataDir: string, workers: number): Promise<{ child: ChildProcess; base: string }> {
  const nodeArgs = (process.env.TINCAN_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'directory', '--data-dir', dataDir, '--database', databaseUrl,
    '--port', '0', '--no-stun', '--workers', String(workers), '--registration-limit', '0', '--scrypt-n', '1024', '--no-log-requests', '--log-level', 'info'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill('SIGKILL'));
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error('directory did not start')), 60_000);
    child.on('exit', (c) => rej(new Error(`directory exited ${c}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try { const j = JSON.parse(l) as { msg?: string; port?: number }; if (j.msg === 'directory listening') { clearTimeout(t); res(j.port!); } } catch { /* */ }
    });
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

async function req(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Record<string, unknown>> {
  const r = await fetch(base + path, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? {} : await r.json() as Record<string, unknown>;
}

/** USERS users with one device and presence each; user i befriends i+1..i+CONTACTS (mod USERS). */
async function populate(base: string): Promise<string[]> {
  const tokens: string[] = [];
  const names = Array.from({ length: USERS }, (_, i) => `user${i}`);
  const pool = async <T>(items: T[], f: (x: T, i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => { while (next < items.length) { const i = next++; await f(items[i], i); } }));
  };
  await pool(names, async (n, i) => {
    await req(base, 'POST', '/v1/accounts', { username: n, password: `pw-${n}-long` });
    tokens[i] = (await req(base, 'POST', '/v1/sessions', { username: n, password: `pw-${n}-long` })).token as string;
    const dev = await req(base, 'POST', '/v1/devices', { name: 'd', x25519: randomBytes(32).toString('base64url') }, tokens[i]);
    await req(base, 'PUT', '/v1/presence', { deviceId: dev.id, status: 'online', candidates: [{ kind: 'host', address: '192.0.2.1', port: 1000 + i }, { kind: 'srflx', address: '203.0.113.1', port: 20000 + i }], nat: { mapping: 'endpoint-independent', filtering: 'address-dependent' }, supernode: null }, tokens[i]);
  });
  const half = Math.floor(CONTACTS / 2);
  await pool(names, async (_n, i) => {
    for (let k = 1; k <= half; k++) {
      const j = (i + k) % USERS;
      await req(base, 'POST', `/v1/contacts/${names[j]}/request`, undefined, tokens[i]);
      await req(base, 'POST', `/v1/contacts/${names[i]}/accept`, undefined, tokens[j]);
    }
  });
  return tokens;
}

/** CPU time (ms, user+system) used so far by process `root` and its descendants (Linux /proc; cluster workers included). */
function treeCpuMs(root: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const raw = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch { /* exited */ }
  }
  let ticks = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [p, s] of stats) if (s.ppid === pid) todo.push(p);
  }
  return ticks * 10; // USER_HZ = 100
}

interface Figures { requestsPerSec: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number; requests: number; errors: number; non2xx: number; timeouts: number; serverCpuUsPerRequest?: number }

/** One autocannon run; with `serverPid`, also the server's CPU time per request (µs) — robust to a noisy machine. */
async function run(base: string, path: string, tokens: string[], duration: number, serverPid?: number): Promise<Figures> {
  const cpu0 = serverPid ? treeCpuMs(serverPid) : 0;
  const f = await runCannon(base, path, tokens, duration);
  if (serverPid) f.serverCpuUsPerRequest = Math.round((treeCpuMs(serverPid) - cpu0) * 1000 / Math.max(1, f.requests));
  return f;
}

function runCannon(base: string, path: string, tokens: string[], duration: number): Promise<Figures> {
  return new Promise((res, rej) => {
    autocannon({
      url: base, connections: CONNECTIONS, duration, pipelining: 1,
      requests: tokens.map((t) => ({ method: 'GET', path, headers: t ? { authorization: `Bearer ${t}` } : {} })),
    }, (err, r) => {
      if (err) return rej(err);
      res({ requestsPerSec: Math.round(r.requests.average), p50Ms: r.latency.p50, p90Ms: r.latency.p90, p99Ms: r.latency.p99, maxMs: r.latency.max, requests: r.requests.total, errors: r.errors, non2xx: r.non2xx, timeouts: r.timeouts });
    });
  });
}

async function benchEngine(engine: 'sqlite' | 'postgres', workers: number): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tincan-bench-'));
  let databaseUrl = join(dataDir, 'directory.sqlite');
  let schema: string | undefined;
  if (engine === 'postgres') {
    schema = `bench_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try { await c.connect(); await c.query(`CREATE SCHEMA ${schema}`); } catch (e) {
      rmSync(dataDir, { recursive: true, force: true });
      return { skipped: `PostgreSQL at ${PG_URL.replace(/:[^:@/]+@/, ':***@')} unreachable: ${(e as Error).message}` };
    } finally { await c.end().catch(() => {}); }
    databaseUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }
  const { child, base } = await startDirectory(databaseUrl, dataDir, workers);
  try {
    const t0 = Date.now();
    const tokens = await populate(base);
    if (schema) {
      // steady state: planner statistics as autovacuum would have gathered them
      const c = new pg.Client({ connectionString: databaseUrl }); await c.connect(); await c.query('ANALYZE'); await c.end();
    }
    const setupMs = Date.now() - t0;
    const out: Record<string, unknown> = { setupMs };
    if (engine === 'sqlite') {
      // ceiling of this machine for the same server with no auth and no database work
      await run(base, '/healthz', [''], 2);
      out.baselineNoDb = { path: '/healthz', ...await run(base, '/healthz', [''], DURATION, child.pid) };
    }
    for (const [name, path] of [['presenceOfContacts', '/v1/presence'], ['contactList', '/v1/contacts']] as const) {
      await run(base, path, tokens, 2); // warm-up
      out[name] = { path, ...await run(base, path, tokens, DURATION, child.pid) };
    }
    return out;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
    if (schema) { const c = new pg.Client({ connectionString: PG_URL }); await c.connect(); await c.query(`DROP SCHEMA ${schema} CASCADE`); await c.end(); }
  }
}

const list = (name: string, def: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : def).split(',');
const ENGINES = list('engines', 'sqlite,postgres');
const WORKERS = list('workers', '1,2').map(Number);
const perWorkers = async (engine: 'sqlite' | 'postgres') => {
  if (!ENGINES.includes(engine)) return { skipped: 'not selected (--engines)' };
  const out: Record<string, unknown> = {};
  for (const w of WORKERS) out[`workers${w}`] = await benchEngine(engine, w);
  return out;
};
const loadAtStart = loadavg()[0];
const result = {
  bench: 'directory',
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  params: { durationS: DURATION, connections: CONNECTIONS, users: USERS, contactsPerUser: CONTACTS, serverRequestLogging: false, clientInSameMachine: true, workers: WORKERS },
  goal: { requestsPerSec: 5000, p99Ms: 20 },
  sqlite: await perWorkers('sqlite'),
  postgres: await perWorkers('postgres'),
  // other work on the machine while measuring (1-minute load average; 2 cores are saturated at 2)
  loadAverage: { atStart: Number(loadAtStart.toFixed(2)), atEnd: Number(loadavg()[0].toFixed(2)) },
};
console.log(JSON.stringify(result, null, 2));
