// Shared by the native addons' ASan+UBSan CI tests (test/datagram/native-asan.test.ts,
// test/session/packet-aead-asan.test.ts): finding libasan and Node's headers (or the reason
// to skip), compiling C sources with the sanitizers into a .node, the environment a child
// needs (libasan preloaded, leaks off, UBSan halting), running a child vitest, and checking
// output for a sanitizer report.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const NODE_HEADERS = '/usr/include/node';
export const SANITIZER_REPORT = /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer/;

/** libasan's path, or why the sanitizer test must skip (not Linux, no cc, no libasan, a header missing). */
export function findLibasan(headers: string[] = ['node_api.h']): { lib?: string; why?: string } {
  if (process.platform !== 'linux') return { why: `not Linux (${process.platform})` };
  const r = spawnSync('cc', ['-print-file-name=libasan.so'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return { why: 'no C compiler (cc)' };
  const lib = r.stdout.trim();
  if (!isAbsolute(lib) || !existsSync(lib)) return { why: 'libasan is not installed (cc -print-file-name=libasan.so)' };
  for (const h of headers) if (!existsSync(join(NODE_HEADERS, h))) return { why: `no ${h} in ${NODE_HEADERS}` };
  return { lib };
}

/** The .c files binding.gyp lists and those in the directory, both sorted (they must be equal). */
export function gypSourcesAndFiles(nativeDir: string): { listed: string[] | undefined; files: string[] } {
  const gyp = readFileSync(join(nativeDir, 'binding.gyp'), 'utf8');
  const listed = /"sources":\s*\[([^\]]*)\]/.exec(gyp)?.[1]?.match(/"[^"]+"/g)?.map((s) => s.slice(1, -1)).sort();
  return { listed, files: readdirSync(nativeDir).filter((f) => f.endsWith('.c')).sort() };
}

/** Compile `sources` into the shared object `out` with -fsanitize=address,undefined; asserts cc succeeded. */
export function compileSanitized(sources: string[], out: string, flags: string[]): void {
  const cc = spawnSync('cc', [
    '-shared', '-fPIC', '-fsanitize=address,undefined', '-fno-omit-frame-pointer', '-O1', '-g', ...flags,
    `-I${NODE_HEADERS}`, ...sources, '-o', out,
  ], { encoding: 'utf8', timeout: 60_000 });
  expect(cc.status, `cc failed: ${cc.stderr}`).toBe(0);
}

/** The child's environment: libasan preloaded, `set` added, `unset` removed (plus colour and NODE_OPTIONS). */
export function sanitizedEnv(lib: string, set: Record<string, string>, unset: string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LD_PRELOAD: lib,
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0', // Node itself leaks at exit
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    NO_COLOR: '1',
    ...set,
  };
  for (const k of [...unset, 'FORCE_COLOR', 'NODE_OPTIONS']) delete env[k];
  return env;
}

/** Asserts `out` holds no sanitizer report (the message shows the report's context). */
export function expectNoSanitizerReport(out: string): void {
  const report = SANITIZER_REPORT.exec(out);
  expect(report?.[0] ?? null, report ? out.slice(Math.max(0, report.index - 2000), report.index + 6000) : '').toBeNull();
}

/** Runs `tests` in a child vitest with `env`; asserts no sanitizer report and exit 0; returns its output. */
export function runChildVitest(tests: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=dot', ...tests], {
    cwd: ROOT, env, encoding: 'utf8', timeout: 150_000, maxBuffer: 64 << 20,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  expectNoSanitizerReport(out);
  expect(r.status, `child vitest exit ${r.status ?? r.signal}:\n${out.slice(-6000)}`).toBe(0);
  return out;
}
