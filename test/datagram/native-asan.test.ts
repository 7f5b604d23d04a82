// The native UDP addon under AddressSanitizer + UndefinedBehaviorSanitizer, in CI.
// Builds every .c file of src/datagram/native with -fsanitize=address,undefined
// (cc directly: -O1 -fno-omit-frame-pointer, Node headers in /usr/include/node) into
// a temporary directory, then runs the other test/datagram/*.test.ts files (GSO/GRO
// bursts, mixed sizes and destinations, hostile and random send metadata, EAGAIN
// queue, close mid-batch, open/close cycles, ...) in a child vitest with libasan
// preloaded (LD_PRELOAD; ASAN_OPTIONS=detect_leaks=0: Node itself leaks at exit;
// UBSan halts on the first error) and TINCAN_UDP_ADDON pointing at that build.
// Passes when the child exits 0 and its output has no sanitizer report; a first
// child checks the sanitized build is the one loaded (/proc/self/maps).
// Skips ("skipped: <reason>") off Linux, without cc, libasan or Node's headers.
// TINCAN_UDP_ASAN_SRC=<dir> builds another source directory (to show the test fails
// on a planted out-of-bounds read without touching the real sources).
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const nativeDir = join(root, 'src', 'datagram', 'native');
const srcDir = process.env.TINCAN_UDP_ASAN_SRC || nativeDir;
const NODE_HEADERS = '/usr/include/node';

function findLibasan(): { lib?: string; why?: string } {
  if (process.platform !== 'linux') return { why: `not Linux (${process.platform})` };
  const r = spawnSync('cc', ['-print-file-name=libasan.so'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return { why: 'no C compiler (cc)' };
  const lib = r.stdout.trim();
  if (!isAbsolute(lib) || !existsSync(lib)) return { why: 'libasan is not installed (cc -print-file-name=libasan.so)' };
  if (!existsSync(join(NODE_HEADERS, 'node_api.h'))) return { why: `no Node headers in ${NODE_HEADERS}` };
  return { lib };
}

const { lib, why } = findLibasan();
if (why) console.log(`skipped: native addon under ASan+UBSan: ${why}`);

const SANITIZER_REPORT = /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer/;

describe('native UDP addon sources', () => {
  it('binding.gyp builds every .c file of src/datagram/native (the ASan build compiles the same set)', () => {
    const gyp = readFileSync(join(nativeDir, 'binding.gyp'), 'utf8');
    const listed = /"sources":\s*\[([^\]]*)\]/.exec(gyp)?.[1]?.match(/"[^"]+"/g)?.map((s) => s.slice(1, -1)).sort();
    const files = readdirSync(nativeDir).filter((f) => f.endsWith('.c')).sort();
    expect(listed).toEqual(files);
  });
});

describe('native UDP addon under ASan+UBSan', () => {
  it.skipIf(why !== undefined)(`builds with -fsanitize=address,undefined and the datagram tests pass on it with no sanitizer report${why ? ` (skipped: ${why})` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-asan-'));
    try {
      const addonPath = join(dir, 'tincan_udp.node');
      const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).map((f) => join(srcDir, f));
      const cc = spawnSync('cc', [
        '-shared', '-fPIC', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer',
        '-O1', '-g', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-D_GNU_SOURCE', `-I${NODE_HEADERS}`, '-Wall',
        ...sources, '-o', addonPath,
      ], { encoding: 'utf8', timeout: 60_000 });
      expect(cc.status, `cc failed: ${cc.stderr}`).toBe(0);

      const env: NodeJS.ProcessEnv = {
        ...process.env,
        LD_PRELOAD: lib,
        ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0',
        UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
        TINCAN_UDP_ADDON: addonPath,
        NO_COLOR: '1',
      };
      delete env.TINCAN_UDP; // the native socket, never node:dgram
      delete env.FORCE_COLOR;
      delete env.NODE_OPTIONS;

      // 1. The sanitized build is the one native-udp.ts loads, and it works.
      const probe = `
        const { nativeUdp } = await import(${JSON.stringify(join(root, 'src', 'datagram', 'native-udp.ts'))});
        const { readFileSync } = await import('node:fs');
        console.log(JSON.stringify({ available: nativeUdp.available, loadError: nativeUdp.loadError,
          mapped: readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(addonPath)}) }));`;
      const p = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
      expect(p.stderr).not.toMatch(SANITIZER_REPORT);
      expect(p.status, p.stderr).toBe(0);
      expect(JSON.parse(p.stdout.trim().split('\n').at(-1)!)).toEqual({ available: true, mapped: true });

      // 2. The datagram tests (except this one) on the sanitized build.
      const tests = readdirSync(here).filter((f) => f.endsWith('.test.ts') && f !== 'native-asan.test.ts').map((f) => join('test', 'datagram', f));
      const r = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=dot', ...tests], {
        cwd: root, env, encoding: 'utf8', timeout: 150_000, maxBuffer: 64 << 20,
      });
      const out = `${r.stdout}\n${r.stderr}`;
      const report = SANITIZER_REPORT.exec(out);
      expect(report?.[0] ?? null, report ? out.slice(Math.max(0, report.index - 2000), report.index + 6000) : '').toBeNull();
      expect(r.status, `child vitest exit ${r.status ?? r.signal}:\n${out.slice(-6000)}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
