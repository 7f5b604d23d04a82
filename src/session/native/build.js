// Builds the session's packet-AEAD addon (binding.gyp beside this file) with npm's
// bundled node-gyp against the local Node headers (--nodedir, never a download).
// Run by the root "install" script on `npm ci` / `npm install`, or by hand:
// `node src/session/native/build.js`. Never fails the install: on a failed build
// it says so and exits 0, and src/session/noise/packet-aead.ts falls back to
// libsodium (same AEAD, same bytes, ~2x slower per byte); on Linux
// test/session/packet-aead.test.ts then FAILS (unless TINCAN_PACKET_AEAD=libsodium),
// so CI cannot silently run without it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
const args = ['rebuild', `--directory=${here}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' })
  : spawnSync('node-gyp', args, { stdio: 'inherit', shell: false });
if (r.status === 0 && existsSync(join(here, 'build', 'Release', 'tincan_aead.node'))) {
  console.log('tincan: packet AEAD addon built (src/session/native/build/Release/tincan_aead.node)');
} else {
  console.log(`tincan: packet AEAD addon build FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`}); libsodium will be used`);
}
process.exit(0);
