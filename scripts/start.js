#!/usr/bin/env node
// The main-job command (`npm start`): installs the npm packages when they are
// missing or older than package-lock.json (`npm ci`), then runs `tincan demo`
// (directory, supernode and two demo users on this machine). Plain Node, no
// dependencies, so it runs on a fresh clone. Extra arguments go to `tincan demo`.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

const lock = 'package-lock.json';
// npm ci writes node_modules/.package-lock.json; we stamp the lockfile hash it was installed from.
const stamp = join('node_modules', '.tincan-install-stamp');
const lockHash = createHash('sha256').update(readFileSync(lock)).digest('hex');
const installed = existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === lockHash && existsSync(join('node_modules', '.package-lock.json'));

if (!installed) {
  console.log('start: installing npm packages (npm ci) ...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`start: npm ci failed (exit ${r.status ?? r.signal}); fix the error above and run npm start again`);
    process.exit(1);
  }
  writeFileSync(stamp, `${lockHash}\n`);
} else {
  console.log('start: npm packages up to date (package-lock.json unchanged since the last install)');
}

// Ctrl-C reaches the demo too (same process group); it shuts down cleanly and
// we exit with its status once it has.
const demo = spawn(process.execPath, ['bin/tincan.js', 'demo', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { if (sig === 'SIGTERM') demo.kill('SIGTERM'); });
demo.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
