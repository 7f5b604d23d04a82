// `tincan directory --workers 2` as a child process for tests: SQLite in `dataDir`, HTTP
// and STUN on ephemeral ports, scrypt cheap, no request logs. Resolves once the primary logs
// "directory listening" (rejects after 60 s with the output so far); `out()` is everything
// the process printed, `exit` its exit code. The caller kills it (children list) at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface WorkersDirectory {
  readonly child: ChildProcess;
  readonly port: number;
  readonly workers: number;
  out(): string;
  readonly exit: Promise<number | null>;
}

export async function startWorkersDirectory(dataDir: string, children: ChildProcess[]): Promise<WorkersDirectory> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'directory', '--data-dir', dataDir, '--port', '0',
    '--stun-port', '0', '--scrypt-n', '1024', '--workers', '2', '--no-log-requests'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += String(d); });
  child.stderr!.on('data', (d) => { out += String(d); });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const started = await new Promise<{ port: number; workers: number }>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no start in 60 s: ${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const line = out.split('\n').find((l) => l.includes('"msg":"directory listening"'));
      if (line) { clearTimeout(t); res(JSON.parse(line) as { port: number; workers: number }); }
    });
  });
  return { child, port: started.port, workers: started.workers, out: () => out, exit };
}
