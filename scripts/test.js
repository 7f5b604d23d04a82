#!/usr/bin/env node
// The test command (`npm test`): lint, typecheck, then every vitest suite.
// Lint and typecheck count as one check each. Closing line: "N passed, N failed".
// Extra arguments are passed to vitest (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = (name) => join('node_modules', '.bin', name);
let passed = 0;
let failed = 0;
let skipped = 0;

function check(name, cmd, args) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status === 0) { passed++; console.log(`=== ${name}: ok`); }
  else { failed++; console.log(`=== ${name}: FAILED (exit ${r.status ?? r.signal})`); }
}

check('lint', bin('eslint'), ['.']);
check('typecheck', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);

const dir = mkdtempSync(join(tmpdir(), 'tincan-test-'));
const out = join(dir, 'vitest.json');
console.log('\n=== vitest');
const r = spawnSync(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)], { stdio: 'inherit' });
try {
  const report = JSON.parse(readFileSync(out, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  // A suite that failed to load has no tests but is a failure.
  const brokenSuites = (report.testResults ?? []).filter((s) => s.status === 'failed' && s.assertionResults.length === 0);
  for (const s of brokenSuites) console.log(`suite failed to run: ${s.name}: ${s.message}`);
  failed += brokenSuites.length;
} catch (e) {
  console.log(`vitest produced no report (exit ${r.status ?? r.signal}): ${e.message}`);
  failed++;
}
rmSync(dir, { recursive: true, force: true });
if (r.status !== 0 && failed === 0) { console.log(`vitest exited ${r.status ?? r.signal} with no failed test`); failed++; }
if (skipped) console.log(`${skipped} skipped (each prints its reason)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
