// `tincan supernode --directory`: the real CLI process logs in (creating its account),
// fetches the directory key, registers at the directory and shows up in the list peers
// read (GET /v1/supernodes); it answers STUN on the registered port. Loopback only.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { startDirectory, makeLogger } from '../../src/directory/server.ts';
import { TEST_SCRYPT } from '../../src/directory/password.ts';
import { DirectoryClient } from '../../src/directory/client.ts';
import { bindUdp } from '../../src/datagram/udp.ts';
import { StunBindings } from '../../src/overlay/stun-bindings.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

describe('tincan supernode --directory', () => {
  it('registers at the directory; peers find it in the list and it answers STUN there', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tincan-sn-cli-'));
    const dir = await startDirectory({
      databaseUrl: join(tmp, 'directory.sqlite'), host: '127.0.0.1', port: 0,
      logger: makeLogger(new Writable({ write(_c, _e, cb) { cb(); } }), 'warn'), config: { scrypt: TEST_SCRYPT, logRequests: false },
    });
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'supernode', '--directory', dir.url, '--user', 'relay-one', '--create-account',
      '--bind', '127.0.0.1', '--port', '0', '--allow-loopback', '--stats-interval', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TINCAN_SUPERNODE_PASSWORD: 'a long supernode password' } });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    try {
      const registered = await new Promise<{ id: string; port: number }>((res, rej) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          for (const l of out.split('\n')) if (l.includes('"registered"')) res(JSON.parse(l) as { id: string; port: number });
        });
        child.on('exit', (code) => rej(new Error(`supernode exited ${code}: ${out}${err}`)));
      });
      const peer = new DirectoryClient(dir.url);
      await peer.register('somebody', 'somebody long password');
      await peer.login('somebody', 'somebody long password');
      const list = await peer.supernodes();
      expect(list).toEqual([expect.objectContaining({ id: registered.id, address: '127.0.0.1', port: registered.port, capacity: 1000 })]);
      const sock = await bindUdp({ address: '127.0.0.1' });
      try {
        const b = new StunBindings();
        const answer = new Promise((res) => sock.onDatagram((from, bytes) => res(b.handle(from, bytes))));
        const tx = randomBytes(12).toString('hex');
        const to = { address: '127.0.0.1', port: registered.port };
        sock.send(to, b.encode(tx, to));
        expect(await answer).toEqual({ txId: tx, mapped: sock.local, from: to });
      } finally {
        sock.close();
      }
    } finally {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
      await dir.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 30_000);

  it('--busy-poll: adaptive by default (env TINCAN_RELAY_ADAPTIVE_BUSY_POLL=0: off), off, microseconds; anything else refused', async () => {
    const key = randomBytes(32).toString('hex');
    const run = (args: string[], env: Record<string, string> = {}) => new Promise<string>((res) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'supernode', '--directory-key', key, '--bind', '127.0.0.1', '--port', '0', '--no-tcp', '--stats-interval', '0', ...args],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TINCAN_RELAY_ADAPTIVE_BUSY_POLL: '', ...env } });
      let all = '';
      const done = (s: string) => { if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGTERM'); res(s); };
      child.stdout.setEncoding('utf8').on('data', (d: string) => { all += d; const m = /\{"event":"listening"[^\n]*\}/.exec(all); if (m) done(String((JSON.parse(m[0]) as { busyPoll: string }).busyPoll)); });
      child.stderr.setEncoding('utf8').on('data', (d: string) => { all += d; });
      child.on('exit', () => res(`exited: ${all}`));
    });
    const [dflt, envOff, off, us, bad] = await Promise.all([run([]), run([], { TINCAN_RELAY_ADAPTIVE_BUSY_POLL: '0' }), run(['--busy-poll', 'off']), run(['--busy-poll', '50']), run(['--busy-poll', 'fast'])]);
    expect([dflt, envOff, off, us]).toEqual(['adaptive', 'off', 'off', '50']);
    expect(bad).toMatch(/^exited: .*--busy-poll must be adaptive, off or 0\.\.1000/s);
  }, 30_000);
});
