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
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT as root, compileSanitized, expectNoSanitizerReport, findLibasan, gypSourcesAndFiles, runChildVitest, sanitizedEnv } from '../native-asan.ts';

const here = dirname(fileURLToPath(import.meta.url));
const nativeDir = join(root, 'src', 'datagram', 'native');
const srcDir = process.env.TINCAN_UDP_ASAN_SRC || nativeDir;

const { lib, why } = findLibasan();
if (why) console.log(`skipped: native addon under ASan+UBSan: ${why}`);

describe('native UDP addon sources', () => {
  it('binding.gyp builds every .c file of src/datagram/native (the ASan build compiles the same set)', () => {
    const { listed, files } = gypSourcesAndFiles(nativeDir);
    expect(listed).toEqual(files);
  });
});

describe('native UDP addon under ASan+UBSan', () => {
  it.skipIf(why !== undefined)(`builds with -fsanitize=address,undefined and the datagram tests pass on it with no sanitizer report${why ? ` (skipped: ${why})` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-asan-'));
    try {
      const addonPath = join(dir, 'tincan_udp.node');
      const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).map((f) => join(srcDir, f));
      compileSanitized(sources, addonPath, ['-fno-sanitize-recover=undefined', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-D_GNU_SOURCE', '-Wall']);
      // TINCAN_UDP unset: the native socket, never node:dgram
      const env = sanitizedEnv(lib!, { TINCAN_UDP_ADDON: addonPath }, ['TINCAN_UDP']);

      // 1. The sanitized build is the one native-udp.ts loads, and it works.
      const probe = `
        const { nativeUdp } = await import(${JSON.stringify(join(root, 'src', 'datagram', 'native-udp.ts'))});
        const { readFileSync } = await import('node:fs');
        console.log(JSON.stringify({ available: nativeUdp.available, loadError: nativeUdp.loadError,
          mapped: readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(addonPath)}) }));`;
      const p = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
      expectNoSanitizerReport(p.stderr);
      expect(p.status, p.stderr).toBe(0);
      expect(JSON.parse(p.stdout.trim().split('\n').at(-1)!)).toEqual({ available: true, mapped: true });

      // 2. The datagram tests (except this one) on the sanitized build.
      const tests = readdirSync(here).filter((f) => f.endsWith('.test.ts') && f !== 'native-asan.test.ts').map((f) => join('test', 'datagram', f));
      runChildVitest(tests, env);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
