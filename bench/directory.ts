// `npm run bench:directory`: authenticated lookups against a real directory
// process (`tincan directory`, request logging off) on SQLite and on
// PostgreSQL in the same run, driven by two load generators on the same
// machine: autocannon (Node, in this process) and wrk (native, Debian `wrk`,
// with a generated Lua script rotating the users' bearer tokens per request).
// Prints one JSON document: per engine, worker count, workload and load
// generator, requests/s and latency percentiles (ms) and the server's CPU time
// per request, plus (baselineNoDb) the same server answering GET /healthz —
// the ceiling of this machine for any route.
// Workloads: presence lookups (GET /v1/presence), contact lists (GET
// /v1/contacts), and presence mixed with writes (--mix % of requests are
// PUT /v1/presence of the requesting user's device with a new port, the rest
// lookups) so that anything cached is invalidated under load.
// Goal (issue 5): >= 5,000 req/s with p99 <= 20 ms.
// Server CPU per request counts the directory's processes and threads only
// (not PostgreSQL's backends, not the load generator).
// Options: --duration <s> (default 5), --connections <n> (default 10),
//          --users <n> (default 200), --contacts <n> per user (default 20),
//          --engines sqlite,postgres (default both),
//          --workers 1,2 (directory worker processes, `tincan directory --workers`; default both),
//          --loadgen autocannon,wrk (default both; wrk missing -> reported skipped),
//          --mix <percent of writes> (default 5; 0: no mixed workload),
//          --log-requests (the server logs one line per request, its default; off otherwise).
// PostgreSQL: TINCAN_BENCH_PG_URL or TINCAN_TEST_PG_URL, else the local
// default; a fresh schema is created and dropped. Unreachable -> reported skipped.
import autocannon from 'autocannon';
import pg from 'pg';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';

const ROOT = resolve(import.meta.dirname, '..');
const arg = (name: string, def: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def; };
const LOG_REQUESTS = process.argv.includes('--log-requests');
const DURATION = arg('duration', 5), CONNECTIONS = arg('connections', 10), USERS = arg('users', 200), CONTACTS = arg('contacts', 20);
const PG_URL = process.env.TINCAN_BENCH_PG_URL ?? process.env.TINCAN_TEST_PG_URL ?? 'postgres://tincan:tincan@127.0.0.1:5432/tincan_test';

async function startDirectory(databaseUrl: string, dataDir: string, workers: number): Promise<{ child: ChildProcess; base: string }> {
  const nodeArgs = (process.env.TINCAN_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'directory', '--data-dir', dataDir, '--database', databaseUrl,
    '--port', '0', '--no-stun', '--workers', String(workers), '--registration-limit', '0', '--scrypt-n', '1024', ...(LOG_REQUESTS ? [] : ['--no-log-requests']), '--log-level', 'info'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill('SIGKILL'));
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error('directory did not start')), 60_000);
    child.on('exit', (c) => rej(new Error(`directory exited ${c}`)));
    const lines = createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const j = JSON.parse(l) as { msg?: string; port?: number };
        // then the server's log lines are read and dropped unparsed (as a log file would take them)
        if (j.msg === 'directory listening') { clearTimeout(t); lines.close(); child.stdout!.resume(); res(j.port!); }
      } catch { /* */ }
    });
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

async function req(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Record<string, unknown>> {
  const r = await fetch(base + path, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? {} : await r.json() as Record<string, unknown>;
}

interface Population { tokens: string[]; deviceIds: string[] }

const presenceBody = (deviceId: string, i: number, port: number) => ({ deviceId, status: 'online', candidates: [{ kind: 'host', address: '192.0.2.1', port }, { kind: 'srflx', address: '203.0.113.1', port: 20000 + i }], nat: { mapping: 'endpoint-independent', filtering: 'address-dependent' }, supernode: null });

/** USERS users with one device and presence each; user i befriends i+1..i+CONTACTS (mod USERS). */
async function populate(base: string): Promise<Population> {
  const tokens: string[] = [], deviceIds: string[] = [];
  const names = Array.from({ length: USERS }, (_, i) => `user${i}`);
  const pool = async <T>(items: T[], f: (x: T, i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => { while (next < items.length) { const i = next++; await f(items[i], i); } }));
  };
  await pool(names, async (n, i) => {
    await req(base, 'POST', '/v1/accounts', { username: n, password: `pw-${n}-long` });
    tokens[i] = (await req(base, 'POST', '/v1/sessions', { username: n, password: `pw-${n}-long` })).token as string;
    const dev = await req(base, 'POST', '/v1/devices', { name: 'd', x25519: randomBytes(32).toString('base64url') }, tokens[i]);
    deviceIds[i] = dev.id as string;
    await req(base, 'PUT', '/v1/presence', presenceBody(deviceIds[i], i, 1000 + i), tokens[i]);
  });
  const half = Math.floor(CONTACTS / 2);
  await pool(names, async (_n, i) => {
    for (let k = 1; k <= half; k++) {
      const j = (i + k) % USERS;
      await req(base, 'POST', `/v1/contacts/${names[j]}/request`, undefined, tokens[i]);
      await req(base, 'POST', `/v1/contacts/${names[i]}/accept`, undefined, tokens[j]);
    }
  });
  return { tokens, deviceIds };
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

/** What to request: GET `path` as user i (token rotated per request); with writePct, that share of requests are presence updates. */
interface Workload { path: string; writePct: number }
type LoadGen = 'autocannon' | 'wrk';

/** One run; with `serverPid`, also the server's CPU time per request (µs) — robust to a noisy machine. */
async function run(gen: LoadGen, base: string, w: Workload, pop: Population, duration: number, serverPid?: number): Promise<Figures> {
  const cpu0 = serverPid ? treeCpuMs(serverPid) : 0;
  const f = gen === 'wrk' ? await runWrk(base, w, pop, duration) : await runCannon(base, w, pop, duration);
  if (serverPid) f.serverCpuUsPerRequest = Math.round((treeCpuMs(serverPid) - cpu0) * 1000 / Math.max(1, f.requests));
  return f;
}

/** The requests one autocannon connection cycles through: user i's lookup; every (100/writePct)th one a presence write of user i's device. */
function cannonRequests(w: Workload, pop: Population): autocannon.Request[] {
  const out: autocannon.Request[] = [];
  let acc = 0;
  for (let i = 0; i < Math.max(pop.tokens.length, 1) * 20; i++) {
    const u = i % Math.max(pop.tokens.length, 1);
    const auth = pop.tokens[u] ? { authorization: `Bearer ${pop.tokens[u]}` } : {};
    acc += w.writePct;
    if (acc >= 100) {
      acc -= 100;
      out.push({ method: 'PUT', path: '/v1/presence', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(presenceBody(pop.deviceIds[u], u, 30000 + (i % 30000))) });
    } else out.push({ method: 'GET', path: w.path, headers: auth });
    if (w.writePct === 0 && i + 1 >= pop.tokens.length) break;
  }
  return out;
}

function runCannon(base: string, w: Workload, pop: Population, duration: number): Promise<Figures> {
  return new Promise((res, rej) => {
    autocannon({ url: base, connections: CONNECTIONS, duration, pipelining: 1, requests: cannonRequests(w, pop) }, (err, r) => {
      if (err) return rej(err);
      res({ requestsPerSec: Math.round(r.requests.average), p50Ms: r.latency.p50, p90Ms: r.latency.p90, p99Ms: r.latency.p99, maxMs: r.latency.max, requests: r.requests.total, errors: r.errors, non2xx: r.non2xx, timeouts: r.timeouts });
    });
  });
}

// wrk: one Lua state per thread; request() rotates users, done() prints the figures as one JSON line.
const WRK_SCRIPT = `
local tokens, devices, path, writePct = {}, {}, "/", 0
local i, acc = 0, 0
function init(args)
  for line in io.lines(args[1]) do
    local t, d = line:match("^(%S*) ?(%S*)$")
    tokens[#tokens + 1] = t; devices[#devices + 1] = d
  end
  path = args[2]; writePct = tonumber(args[3])
  i = tonumber(args[4] or "0")
end
function request()
  local n = #tokens
  local u = (i % n) + 1
  i = i + 1
  local headers = {}
  if tokens[u] ~= "" then headers["Authorization"] = "Bearer " .. tokens[u] end
  acc = acc + writePct
  if acc >= 100 then
    acc = acc - 100
    headers["Content-Type"] = "application/json"
    local body = '{"deviceId":"' .. devices[u] .. '","status":"online","candidates":[{"kind":"host","address":"192.0.2.1","port":' .. (30000 + i % 30000) ..
      '},{"kind":"srflx","address":"203.0.113.1","port":' .. (20000 + u - 1) .. '}],"nat":{"mapping":"endpoint-independent","filtering":"address-dependent"},"supernode":null}'
    return wrk.format("PUT", "/v1/presence", headers, body)
  end
  return wrk.format("GET", path, headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('TINCAN_WRK {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"non2xx":%d,"timeouts":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

let wrkDir: string | undefined;
/** Why wrk cannot be used here, or undefined when it can. */
const wrkMissing = (() => {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return r.error ? 'wrk not found on PATH (Debian: apt-get install wrk); only autocannon measured' : undefined;
})();

function runWrk(base: string, w: Workload, pop: Population, duration: number): Promise<Figures> {
  wrkDir ??= mkdtempSync(join(tmpdir(), 'tincan-bench-wrk-'));
  const script = join(wrkDir, 'lookups.lua'), users = join(wrkDir, 'users.txt');
  writeFileSync(script, WRK_SCRIPT);
  writeFileSync(users, pop.tokens.map((t, i) => `${t} ${pop.deviceIds[i] ?? ''}`).join('\n') + '\n');
  return new Promise((res, rej) => {
    // one thread: the client must leave the cores to the server; 10 connections like autocannon
    const child = spawn('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${duration}s`, '--timeout', '10s', '-s', script, base, '--', users, w.path, String(w.writePct)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', rej);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('TINCAN_WRK '));
      if (code !== 0 || !line) return rej(new Error(`wrk exited ${code}: ${out.slice(0, 500)}`));
      const j = JSON.parse(line.slice('TINCAN_WRK '.length)) as Record<string, number>;
      const ms = (us: number) => Math.round(us / 10) / 100;
      res({
        requestsPerSec: Math.round(j.requests / (j.durationUs / 1e6)), p50Ms: ms(j.p50Us), p90Ms: ms(j.p90Us), p99Ms: ms(j.p99Us), maxMs: ms(j.maxUs),
        requests: j.requests, errors: j.connectErrors + j.readErrors + j.writeErrors, non2xx: j.non2xx, timeouts: j.timeouts,
      });
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
    const pop = await populate(base);
    if (schema) {
      // steady state: planner statistics as autovacuum would have gathered them
      const c = new pg.Client({ connectionString: databaseUrl }); await c.connect(); await c.query('ANALYZE'); await c.end();
    }
    const setupMs = Date.now() - t0;
    const out: Record<string, unknown> = { setupMs };
    const workloads: [string, Workload, Population][] = [];
    // ceiling of this machine for the same server with no auth and no database work
    if (engine === 'sqlite') workloads.push(['baselineNoDb', { path: '/healthz', writePct: 0 }, { tokens: [''], deviceIds: [''] }]);
    workloads.push(['presenceOfContacts', { path: '/v1/presence', writePct: 0 }, pop], ['contactList', { path: '/v1/contacts', writePct: 0 }, pop]);
    if (MIX > 0) workloads.push([`presenceMixed${MIX}pctWrites`, { path: '/v1/presence', writePct: MIX }, pop]);
    for (const [name, w, p] of workloads) {
      const per: Record<string, unknown> = { path: w.path, ...(w.writePct ? { writePct: w.writePct, write: 'PUT /v1/presence (own device, new port)' } : {}) };
      // the load generators alternate on the same server, in the same run
      for (const gen of LOADGENS) {
        if (gen === 'wrk' && wrkMissing) { per.wrk = { skipped: wrkMissing }; continue; }
        await run(gen, base, w, p, 2); // warm-up
        per[gen] = await run(gen, base, w, p, DURATION, child.pid);
      }
      out[name] = per;
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
const LOADGENS = list('loadgen', 'autocannon,wrk') as LoadGen[];
const MIX = arg('mix', 5);
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
  params: { durationS: DURATION, connections: CONNECTIONS, users: USERS, contactsPerUser: CONTACTS, serverRequestLogging: LOG_REQUESTS, clientInSameMachine: true, workers: WORKERS, loadGenerators: LOADGENS, mixedWritePct: MIX },
  goal: { requestsPerSec: 5000, p99Ms: 20 },
  sqlite: await perWorkers('sqlite'),
  postgres: await perWorkers('postgres'),
  // other work on the machine while measuring (1-minute load average; 2 cores are saturated at 2)
  loadAverage: { atStart: Number(loadAtStart.toFixed(2)), atEnd: Number(loadavg()[0].toFixed(2)) },
};
if (wrkDir) rmSync(wrkDir, { recursive: true, force: true });
console.log(JSON.stringify(result, null, 2));
