// The packet-AEAD addon (src/session/native/tincan_aead.c) under AddressSanitizer +
// UndefinedBehaviorSanitizer, in CI. Mirrors test/datagram/native-asan.test.ts:
// builds every .c file of src/session/native with -fsanitize=address,undefined (cc
// directly: -O1 -fno-omit-frame-pointer, Node's headers in /usr/include/node, whose
// openssl/ are the headers of the OpenSSL that node links statically and exports; the
// EVP_* symbols stay undefined in the .node and resolve against the node binary at
// load, as in the node-gyp build) into a temporary directory, then runs the session
// tests that drive 1-RTT packets through it in a child vitest: packet-aead (byte
// equality with libsodium, seeded sizes 0..65,507, tampering, bad arguments, foreign
// and destroyed handles), packet-keys (anti-replay property, key generations, wiping),
// seal-into-transport (a lossy 400 kB transfer with key updates and tampering),
// transport-pair and noise-crypto; libasan preloaded (LD_PRELOAD;
// ASAN_OPTIONS=detect_leaks=0: Node itself leaks at exit; UBSan halts on the first
// error) and TINCAN_AEAD_ADDON pointing at that build. Passes when the child exits 0
// and its output has no sanitizer report; a first child checks the sanitized build
// is the one mapped (/proc/self/maps) and in use (it passed packet-aead.ts's
// self-check against libsodium, so packets do not silently fall back).
// Skips ("skipped: <reason>") off Linux, without cc, libasan or Node's headers.
// TINCAN_AEAD_ASAN_SRC=<dir> builds another source directory (to show the test fails
// on a planted out-of-bounds access without touching the real sources).
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const nativeDir = join(root, 'src', 'session', 'native');
const srcDir = process.env.TINCAN_AEAD_ASAN_SRC || nativeDir;
const NODE_HEADERS = '/usr/include/node';
const CHILD_TESTS = ['packet-aead', 'packet-keys', 'seal-into-transport', 'transport-pair', 'noise-crypto'].map((f) => join('test', 'session', `${f}.test.ts`));

function findLibasan(): { lib?: string; why?: string } {
  if (process.platform !== 'linux') return { why: `not Linux (${process.platform})` };
  const r = spawnSync('cc', ['-print-file-name=libasan.so'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return { why: 'no C compiler (cc)' };
  const lib = r.stdout.trim();
  if (!isAbsolute(lib) || !existsSync(lib)) return { why: 'libasan is not installed (cc -print-file-name=libasan.so)' };
  for (const h of ['node_api.h', 'openssl/evp.h']) if (!existsSync(join(NODE_HEADERS, h))) return { why: `no ${h} in ${NODE_HEADERS}` };
  return { lib };
}

const { lib, why } = findLibasan();
if (why) console.log(`skipped: packet AEAD addon under ASan+UBSan: ${why}`);

const SANITIZER_REPORT = /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer/;

describe('packet AEAD addon sources', () => {
  it('binding.gyp builds every .c file of src/session/native (the ASan build compiles the same set); the child runs existing tests', () => {
    const gyp = readFileSync(join(nativeDir, 'binding.gyp'), 'utf8');
    const listed = /"sources":\s*\[([^\]]*)\]/.exec(gyp)?.[1]?.match(/"[^"]+"/g)?.map((s) => s.slice(1, -1)).sort();
    const files = readdirSync(nativeDir).filter((f) => f.endsWith('.c')).sort();
    expect(listed).toEqual(files);
    for (const t of CHILD_TESTS) expect(existsSync(join(root, t)), t).toBe(true);
  });
});

describe('packet AEAD addon under ASan+UBSan', () => {
  it.skipIf(why !== undefined)(`builds with -fsanitize=address,undefined and the session packet tests pass on it with no sanitizer report${why ? ` (skipped: ${why})` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-aead-asan-'));
    try {
      const addonPath = join(dir, 'tincan_aead.node');
      const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).map((f) => join(srcDir, f));
      const cc = spawnSync('cc', [
        '-shared', '-fPIC', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer',
        '-O1', '-g', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-DOPENSSL_NO_PINSHARED', '-DOPENSSL_THREADS',
        `-I${NODE_HEADERS}`, '-Wall', ...sources, '-o', addonPath,
      ], { encoding: 'utf8', timeout: 60_000 });
      expect(cc.status, `cc failed: ${cc.stderr}`).toBe(0);

      const env: NodeJS.ProcessEnv = {
        ...process.env,
        LD_PRELOAD: lib,
        ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0',
        UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
        TINCAN_AEAD_ADDON: addonPath,
        NO_COLOR: '1',
      };
      delete env.TINCAN_PACKET_AEAD; // the addon, never the libsodium fallback
      delete env.FORCE_COLOR;
      delete env.NODE_OPTIONS;

      // 1. The sanitized build is the one packet-aead.ts loads, and it passed the self-check.
      const probe = `
        const m = await import(${JSON.stringify(join(root, 'src', 'session', 'noise', 'packet-aead.ts'))});
        const { readFileSync } = await import('node:fs');
        console.log(JSON.stringify({ backend: m.PACKET_AEAD_BACKEND, why: m.PACKET_AEAD_FALLBACK_REASON,
          mapped: readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(addonPath)}) }));`;
      const p = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
      const pout = `${p.stdout}\n${p.stderr}`;
      const preport = SANITIZER_REPORT.exec(pout);
      expect(preport?.[0] ?? null, preport ? pout.slice(Math.max(0, preport.index - 2000), preport.index + 6000) : '').toBeNull();
      expect(p.status, pout.slice(-6000)).toBe(0);
      expect(JSON.parse(p.stdout.trim().split('\n').at(-1)!)).toEqual({ backend: 'openssl', mapped: true });

      // 2. The session's packet tests on the sanitized build.
      const r = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=dot', ...CHILD_TESTS], {
        cwd: root, env, encoding: 'utf8', timeout: 150_000, maxBuffer: 64 << 20,
      });
      const out = `${r.stdout}\n${r.stderr}`;
      const report = SANITIZER_REPORT.exec(out);
      expect(report?.[0] ?? null, report ? out.slice(Math.max(0, report.index - 2000), report.index + 6000) : '').toBeNull();
      expect(r.status, `child vitest exit ${r.status ?? r.signal}:\n${out.slice(-6000)}`).toBe(0);
      expect(out, 'every child test file ran').toMatch(new RegExp(`Test Files\\s+${CHILD_TESTS.length} passed`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
