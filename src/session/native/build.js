// Builds the session's packet-AEAD addon (binding.gyp beside this file) with npm's
// bundled node-gyp against the local Node headers (--nodedir, never a download).
// Run by the root "install" script on `npm ci` / `npm install`, or by hand:
// `node src/session/native/build.js`. Never fails the install: on a failed build
// it says so and exits 0, and src/session/noise/packet-aead.ts falls back to
// libsodium (same AEAD, same bytes, ~2x slower per byte); on Linux
// test/session/packet-aead.test.ts then FAILS (unless TINCAN_PACKET_AEAD=libsodium),
// so CI cannot silently run without it.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon } from '../../../scripts/build-addon.js';

buildAddon({ dir: dirname(fileURLToPath(import.meta.url)), file: 'tincan_aead.node', label: 'packet AEAD addon', fallback: 'libsodium' });
