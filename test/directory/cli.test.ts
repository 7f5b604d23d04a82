// `tincan directory` as an operator runs it: starts on a fresh data dir,
// creates the signing key 0600 and publishes it, answers STUN Binding on UDP,
// serves /metrics, refuses a key file readable by others, and shuts down
// gracefully (exit 0, "stopped") on SIGTERM.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { encodeStun, decodeStun, STUN_METHOD_BINDING } from '../../src/wire/stun.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const args = (dataDir: string, extra: string[] = []) => ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'directory', '--data-dir', dataDir, '--port', '0', '--stun-port', '0', '--scrypt-n', '1024', ...extra];

describe('tincan directory (CLI)', () => {
  it('runs, publishes its 0600 key, answers STUN and metrics, stops gracefully on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tincan-cli-')); dirs.push(dataDir);
    const child = spawn(process.execPath, args(dataDir), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => { out += String(d); });
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const started = await new Promise<{ port: number; stunPort: number }>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no start in 30 s: ${out}`)), 30_000);
      child.stdout!.on('data', () => {
        const line = out.split('\n').find((l) => l.includes('"directory listening"'));
        if (line) { clearTimeout(t); res(JSON.parse(line) as { port: number; stunPort: number }); }
      });
    });
    // key file: 0600, and its public key is what the API publishes
    const keyFile = join(dataDir, 'directory-key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    const base = `http://127.0.0.1:${started.port}`;
    const key = await fetch(base + '/v1/directory-key').then((r) => r.json()) as { publicKeyHex: string };
    expect(out).toContain(`"publicKeyHex":"${key.publicKeyHex}"`);
    expect((await fetch(base + '/metrics')).status).toBe(200);
    let metricsText = '';
    // STUN Binding on the UDP port
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const txid = new Uint8Array(randomBytes(12));
    const reply = new Promise<Buffer>((r) => sock.once('message', (m) => r(m)));
    sock.send(encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: txid }, { fingerprint: true }), started.stunPort, '127.0.0.1');
    const msg = decodeStun(new Uint8Array(await reply));
    const localPort = sock.address().port;
    sock.close();
    expect(msg.class).toBe('success');
    expect(Buffer.from(msg.transactionId).equals(Buffer.from(txid))).toBe(true);
    expect(msg.xorMappedAddress).toMatchObject({ address: '127.0.0.1', port: localPort });
    metricsText = await fetch(base + '/metrics').then((r) => r.text());
    expect(metricsText).toMatch(/^tincan_stun_requests_total 1$/m);
    // graceful shutdown
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(out).toContain('"msg":"stopped"');
    expect(metricsText).toMatch(/^# TYPE tincan_stun_requests_total counter$/m);
  });

  it('refuses a key file readable by group or others, and bad flags', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tincan-cli-')); dirs.push(dataDir);
    writeFileSync(join(dataDir, 'directory-key'), '00'.repeat(32) + '\n', { mode: 0o644 });
    const r = spawnSync(process.execPath, args(dataDir), { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('must be 0600');
    const bad = spawnSync(process.execPath, args(dataDir, ['--port', '70000']), { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--port must be an integer 0..65535');
    const alt = spawnSync(process.execPath, args(dataDir, ['--stun-alternate-port', '5000']), { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(alt.status).toBe(1);
    expect(alt.stderr).toContain('--stun-alternate-port needs --stun-alternate-address');
  });
});
