// Builds one native addon (the binding.gyp in `dir`) with npm's bundled node-gyp against the
// local Node headers (--nodedir, never a download). Used by src/*/native/build.js, which the
// root "install" script runs on `npm ci`. Never fails the install: it prints whether
// build/Release/<file> was produced and exits 0 (the caller's fallback takes over, and that
// area's "addon loaded" test fails on Linux, so CI cannot silently run without it).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** @param {{ dir: string, file: string, label: string, fallback: string }} addon */
export function buildAddon({ dir, file, label, fallback }) {
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const gyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
  const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
  const args = ['rebuild', `--directory=${dir}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  const r = gyp
    ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' })
    : spawnSync('node-gyp', args, { stdio: 'inherit', shell: false });
  const built = join(dir, 'build', 'Release', file);
  if (r.status === 0 && existsSync(built)) {
    console.log(`tincan: ${label} built (${relative(process.cwd(), built)})`);
  } else {
    console.log(`tincan: ${label} build FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`}); ${fallback} will be used`);
  }
  process.exit(0);
}
