// Builds the native batched UDP addon (binding.gyp beside this file) with npm's
// bundled node-gyp against the local Node headers (--nodedir, never a download).
// Run by the root "install" script on `npm ci` / `npm install`, or by hand:
// `node src/datagram/native/build.js`. Linux only. Never fails the install: on a
// failed build it says so and exits 0, and src/datagram/udp.ts falls back to
// node:dgram — test/datagram/native-udp.test.ts then FAILS on Linux (unless
// TINCAN_UDP=dgram), so CI cannot silently run without it.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../../../scripts/build-addon.js';

if (process.platform !== 'linux') {
  console.log(`tincan: native UDP addon skipped (${process.platform}: node:dgram is used)`);
  process.exit(0);
}
buildAddon({ dir: dirname(fileURLToPath(import.meta.url)), file: 'tincan_udp.node', label: 'native UDP addon', fallback: 'node:dgram' });
