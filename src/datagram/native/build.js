// Builds the native batched UDP addon (binding.gyp beside this file) with npm's
// bundled node-gyp against the local Node headers (--nodedir, never a download).
// Run by the root "install" script on `npm ci` / `npm install`, or by hand:
// `node src/datagram/native/build.js`. Linux only. Never fails the install: on a
// failed build it says so and exits 0, and src/datagram/udp.ts falls back to
// node:dgram — test/datagram/native-udp.test.ts then FAILS on Linux (unless
// TINCAN_UDP=dgram), so CI cannot silently run without it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (process.platform !== 'linux') {
  console.log(`tincan: native UDP addon skipped (${process.platform}: node:dgram is used)`);
  process.exit(0);
}
const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
const args = ['rebuild', `--directory=${here}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' })
  : spawnSync('node-gyp', args, { stdio: 'inherit', shell: false });
if (r.status === 0 && existsSync(join(here, 'build', 'Release', 'tincan_udp.node'))) {
  console.log('tincan: native UDP addon built (src/datagram/native/build/Release/tincan_udp.node)');
} else {
  console.log(`tincan: native UDP addon build FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`}); node:dgram will be used`);
}
process.exit(0);
