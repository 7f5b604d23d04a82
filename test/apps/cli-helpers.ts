// Helpers for tests that run the real `tincan` CLI as child processes: run() to
// completion (stdin text, env), spawnLong() for daemons (waits for a line on stdout,
// stops by PID), and an in-process directory on loopback with cheap scrypt.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve, join } from 'node:path';
import { Writable } from 'node:stream';
import { startDirectory, makeLogger, type Directory } from '../../src/directory/server.ts';
import { TEST_SCRYPT } from '../../src/directory/password.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

export interface RunResult { code: number | null; stdout: string; stderr: string }

export function run(args: string[], opts: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += String(d); });
    child.stderr.on('data', (d) => { stderr += String(d); });
    const t = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`tincan ${args.join(' ')}: no exit in time\n${stdout}\n${stderr}`)); }, opts.timeoutMs ?? 60_000);
    child.on('exit', (code) => { clearTimeout(t); res({ code, stdout, stderr }); });
    child.stdin.end(opts.stdin ?? '');
  });
}

export interface LongRunning { child: ChildProcess; out: () => string; err: () => string; waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>; stop(): Promise<number | null> }

export function spawnLong(args: string[], env: Record<string, string> = {}, argv0: string[] = CLI): LongRunning {
  const child = spawn(process.execPath, [...argv0, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d) => { out += String(d); for (const l of listeners) l(); });
  child.stderr!.on('data', (d) => { err += String(d); for (const l of listeners) l(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => { for (const l of listeners) l(); r(code); }));
  return {
    child, out: () => out, err: () => err,
    waitFor(re, ms = 60_000) {
      return new Promise((res, rej) => {
        const check = () => {
          const m = out.match(re);
          if (m) { listeners.delete(check); clearTimeout(t); res(m); return; }
          if (child.exitCode !== null || child.signalCode !== null) { listeners.delete(check); clearTimeout(t); rej(new Error(`exited before ${re}:\n${out}\n${err}`)); }
        };
        const t = setTimeout(() => { listeners.delete(check); rej(new Error(`timed out waiting for ${re}:\n${out}\n${err}`)); }, ms);
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => { if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL'); }, 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export async function testDirectory(dataDir: string, stun = false): Promise<Directory> {
  return startDirectory({
    databaseUrl: join(dataDir, 'directory.sqlite'), host: '127.0.0.1', port: 0, ...(stun ? { stunPort: 0 } : {}),
    logger: makeLogger(new Writable({ write(_c, _e, cb) { cb(); } }), 'silent'),
    config: { scrypt: TEST_SCRYPT },
  });
}
