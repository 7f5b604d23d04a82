// The packet-AEAD addon (src/session/native/tincan_aead.c) under AddressSanitizer +
// UndefinedBehaviorSanitizer, in CI. Mirrors test/datagram/native-asan.test.ts:
// builds every .c file of src/session/native with -fsanitize=address,undefined (cc
// directly: -O1 -fno-omit-frame-pointer, Node's headers in /usr/include/node, whose
// openssl/ are the headers of the OpenSSL that node links statically and exports; the
// EVP_* symbols stay undefined in the .node and resolve against the node binary at
// load, as in the node-gyp build) into a temporary directory, then runs the session
// tests that drive 1-RTT packets through it in a child vitest: packet-aead (byte
// equality with libsodium, seeded sizes 0..65,507, tampering, bad arguments, foreign
// and destroyed handles), packet-aead-direct (both addon paths, direct = OpenSSL's raw
// ChaCha20_ctr32/Poly1305 resolved with dlsym, every size 0..2,100 and up to 1 MiB,
// forgeries refused before decrypting), review-packet-aead (boundary sizes x AD lengths,
// overlaps, handle life cycle, loader fallback), review-packet-aead-args (non-uint32
// offsets/lengths refused), packet-keys (anti-replay property, key generations, wiping),
// seal-into-transport (a lossy 400 kB transfer with key updates and tampering),
// transport-pair and noise-crypto; libasan preloaded (LD_PRELOAD;
// ASAN_OPTIONS=detect_leaks=0: Node itself leaks at exit; UBSan halts on the first
// error) and TINCAN_AEAD_ADDON pointing at that build. Passes when the child exits 0
// and its output has no sanitizer report; a first child checks the sanitized build
// is the one mapped (/proc/self/maps) and in use (both its paths passed packet-aead.ts's
// self-check against libsodium and packets use the direct path, so they do not silently
// fall back), and that
// externals of another (sanitized) addon without the type tag, over 8 bytes or
// NULL, are refused by every entry point (misreading one would be a heap overflow).
// Also: the EVP-only variant (-DTINCAN_NO_DIRECT, what a non-POSIX/non-GCC build gets)
// compiles with -Werror and loads with `direct` false.
// Skips ("skipped: <reason>") off Linux, without cc, libasan or Node's headers.
// TINCAN_AEAD_ASAN_SRC=<dir> builds another source directory (to show the test fails
// on a planted out-of-bounds access without touching the real sources).
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { NODE_HEADERS, ROOT as root, compileSanitized, expectNoSanitizerReport, findLibasan, gypSourcesAndFiles, runChildVitest, sanitizedEnv } from '../native-asan.ts';

const nativeDir = join(root, 'src', 'session', 'native');
const srcDir = process.env.TINCAN_AEAD_ASAN_SRC || nativeDir;
const CHILD_TESTS = ['packet-aead', 'packet-aead-direct', 'review-packet-aead', 'review-packet-aead-args', 'packet-keys', 'seal-into-transport', 'transport-pair', 'noise-crypto'].map((f) => join('test', 'session', `${f}.test.ts`));

const { lib, why } = findLibasan(['node_api.h', 'openssl/evp.h']);
if (why) console.log(`skipped: packet AEAD addon under ASan+UBSan: ${why}`);

/** Another addon: small() an untagged external over 8 malloc'd non-zero bytes, nil() one over NULL. */
const FOREIGN_ADDON = `#include <node_api.h>
#include <stdlib.h>
#include <string.h>
static void fin(napi_env env, void *p, void *hint) { (void)env; (void)hint; free(p); }
static napi_value small(napi_env env, napi_callback_info info) {
  (void)info; napi_value v; void *p = malloc(8); if (p) memset(p, 1, 8); napi_create_external(env, p, fin, NULL, &v); return v;
}
static napi_value nil(napi_env env, napi_callback_info info) {
  (void)info; napi_value v; napi_create_external(env, NULL, NULL, NULL, &v); return v;
}
NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "small", NAPI_AUTO_LENGTH, small, NULL, &f); napi_set_named_property(env, exports, "small", f);
  napi_create_function(env, "nil", NAPI_AUTO_LENGTH, nil, NULL, &f); napi_set_named_property(env, exports, "nil", f);
  return exports;
}
`;

describe('packet AEAD addon sources', () => {
  it('binding.gyp builds every .c file of src/session/native (the ASan build compiles the same set); the child runs existing tests', () => {
    const { listed, files } = gypSourcesAndFiles(nativeDir);
    expect(listed).toEqual(files);
    for (const t of CHILD_TESTS) expect(existsSync(join(root, t)), t).toBe(true);
  });
});

describe('packet AEAD addon without its direct path', () => {
  it.skipIf(why !== undefined)(`the EVP-only variant (-DTINCAN_NO_DIRECT: what non-POSIX / non-GCC builds get) compiles warning-free and loads with direct false${why ? ` (skipped: ${why})` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-aead-evp-'));
    try {
      const out = join(dir, 'tincan_aead.node');
      const cc = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror', '-DTINCAN_NO_DIRECT', '-DNAPI_VERSION=8',
        `-I${NODE_HEADERS}`, ...readdirSync(srcDir).filter((f) => f.endsWith('.c')).map((f) => join(srcDir, f)), '-o', out], { encoding: 'utf8', timeout: 60_000 });
      expect(cc.status, cc.stderr).toBe(0);
      const a = createRequire(import.meta.url)(out) as { direct: boolean; create(k: Uint8Array, e: boolean, p?: number): object; path(h: object): number; keyPages(): number[] };
      expect(a.direct).toBe(false);
      expect(a.path(a.create(new Uint8Array(32), true))).toBe(2);
      expect(() => a.create(new Uint8Array(32), true, 1)).toThrow(/direct path is unavailable/);
      expect(a.keyPages()).toEqual([0, 0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('packet AEAD addon under ASan+UBSan', () => {
  it.skipIf(why !== undefined)(`builds with -fsanitize=address,undefined and the session packet tests pass on it with no sanitizer report${why ? ` (skipped: ${why})` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-aead-asan-'));
    try {
      const addonPath = join(dir, 'tincan_aead.node');
      const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).map((f) => join(srcDir, f));
      compileSanitized(sources, addonPath, ['-fno-sanitize-recover=undefined', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-DOPENSSL_NO_PINSHARED', '-DOPENSSL_THREADS', '-Wall']);
      // TINCAN_PACKET_AEAD unset: the addon, never the libsodium fallback
      const env = sanitizedEnv(lib!, { TINCAN_AEAD_ADDON: addonPath }, ['TINCAN_PACKET_AEAD']);

      // A second, sanitized addon whose externals carry no type tag and point at 8 bytes
      // (a Handle is 16): misreading one as a Handle would be a heap overflow ASan reports.
      const foreignPath = join(dir, 'foreign.node');
      writeFileSync(join(dir, 'foreign.c'), FOREIGN_ADDON);
      compileSanitized([join(dir, 'foreign.c')], foreignPath, ['-DNAPI_VERSION=8']);

      // 1. The sanitized build is the one packet-aead.ts loads, and it passed the self-check;
      //    untagged externals (8-byte and NULL data) are refused by every entry point.
      const probe = `
        const m = await import(${JSON.stringify(join(root, 'src', 'session', 'noise', 'packet-aead.ts'))});
        const { readFileSync } = await import('node:fs');
        const { createRequire } = await import('node:module');
        const f = createRequire(import.meta.url)(${JSON.stringify(foreignPath)});
        const a = m.nativePacketAeadAddon, ad = new Uint8Array(13);
        const refused = [f.small(), f.nil()].map((h) => [
          a.sealInPlace(h, new Uint8Array(64), 0, 10, ad, 1), a.seal(h, new Uint8Array(26), new Uint8Array(10), ad, 1),
          a.openInPlace(h, new Uint8Array(26), ad, 1), a.open(h, new Uint8Array(10), new Uint8Array(26), ad, 1),
          a.path(h), a.decryptedBytes(h), a.nop(h), a.destroy(h),
        ].every((r) => r === -2));
        console.log(JSON.stringify({ backend: m.PACKET_AEAD_BACKEND, impl: m.PACKET_AEAD_IMPL, paths: m.PACKET_AEAD_ADDON_PATHS,
          why: m.PACKET_AEAD_FALLBACK_REASON, evpWhy: m.PACKET_AEAD_EVP_REASON, refused,
          mapped: readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(addonPath)}) }));`;
      const p = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
      const pout = `${p.stdout}\n${p.stderr}`;
      expectNoSanitizerReport(pout);
      expect(p.status, pout.slice(-6000)).toBe(0);
      // both paths passed the self-check on the sanitized build and packets use the direct one
      expect(JSON.parse(p.stdout.trim().split('\n').at(-1)!)).toEqual({ backend: 'openssl', impl: 'openssl-direct', paths: ['direct', 'evp'], refused: [true, true], mapped: true });

      // 2. The session's packet tests on the sanitized build.
      const out = runChildVitest(CHILD_TESTS, env);
      expect(out, 'every child test file ran').toMatch(new RegExp(`Test Files\\s+${CHILD_TESTS.length} passed`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
