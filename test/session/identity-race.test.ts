// First run in several processes at once: loadOrCreateIdentity writes a
// private temporary file and links it into place, so exactly one key wins and
// every process (winners and losers of the race) ends up with that key; no
// temporary file is left behind and the key file is 0600. Children start
// together behind a barrier (a file the parent creates once all are ready).
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { IDENTITY_FILE } from '../../src/session/index.ts';

const CHILDREN = 4;
const identityModule = resolve(import.meta.dirname, '../../src/session/identity.ts');

const childSource = (dir: string, go: string) => `
import { existsSync } from 'node:fs';
import { loadOrCreateIdentity } from ${JSON.stringify(identityModule)};
process.stdout.write('ready\\n');
const wait = new Int32Array(new SharedArrayBuffer(4));
const t0 = Date.now();
while (!existsSync(${JSON.stringify(go)})) { if (Date.now() - t0 > 60000) process.exit(3); Atomics.wait(wait, 0, 0, 1); }
const id = loadOrCreateIdentity(${JSON.stringify(dir)});
process.stdout.write('pk ' + Buffer.from(id.publicKey).toString('hex') + '\\n');
`;

describe('identity creation race', () => {
  it(`${CHILDREN} processes creating the identity at once all get the same key; no temporary files remain`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'tincan-idrace-'));
    const dir = join(root, 'state'), go = join(root, 'go');
    try {
      const script = join(root, 'child.mts');
      writeFileSync(script, childSource(dir, go));
      let ready = 0;
      const results = await new Promise<string[]>((resolveAll, reject) => {
        const keys: string[] = [];
        let exited = 0;
        for (let i = 0; i < CHILDREN; i++) {
          const c = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '', err = '';
          c.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('ready\n') && !out.includes('counted')) { out += 'counted'; if (++ready === CHILDREN) writeFileSync(go, ''); }
          });
          c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
          c.on('exit', (code) => {
            const m = /pk ([0-9a-f]{64})/.exec(out);
            if (code !== 0 || !m) { reject(new Error(`child ${i} exited ${code}: ${err.slice(0, 500)}`)); return; }
            keys.push(m[1]);
            if (++exited === CHILDREN) resolveAll(keys);
          });
        }
      });
      expect(results).toHaveLength(CHILDREN);
      expect(new Set(results).size).toBe(1);
      expect(readdirSync(dir)).toEqual([IDENTITY_FILE]);
      expect(statSync(join(dir, IDENTITY_FILE)).mode & 0o777).toBe(0o600);
      expect(existsSync(go)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
