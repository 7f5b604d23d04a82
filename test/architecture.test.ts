// Enforces docs/architecture.md: imports point down the layer table only, and
// the sans-IO layers use no sockets, wall-clock time, timers or Math.random.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';

const SRC = resolve(import.meta.dirname, '..', 'src');

/** layer -> layers it may import (besides itself). Keep in sync with docs/architecture.md. */
export const ALLOWED: Record<string, string[]> = {
  wire: [],
  sim: ['wire'],
  datagram: ['wire'],
  transport: ['wire', 'datagram'],
  session: ['wire', 'datagram', 'transport'],
  directory: ['wire'],
  overlay: ['wire', 'datagram', 'transport', 'session', 'directory'],
  apps: ['wire', 'datagram', 'transport', 'session', 'overlay', 'directory'],
  cli: ['wire', 'sim', 'datagram', 'transport', 'session', 'overlay', 'apps', 'directory'],
};
const SANS_IO = ['wire', 'sim', 'transport', 'session'];
const FORBIDDEN_IN_SANS_IO: [RegExp, string][] = [
  [/\bDate\.now\s*\(/, 'Date.now()'],
  [/\bnew Date\s*\(\s*\)/, 'new Date()'],
  [/\bMath\.random\s*\(/, 'Math.random()'],
  [/\bsetTimeout\s*\(|\bsetInterval\s*\(|\bsetImmediate\s*\(/, 'timers'],
  [/\bperformance\.now\s*\(/, 'performance.now()'],
  [/from\s+['"](node:)?(dgram|net)['"]/, 'sockets'],
];

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const layerOf = (file: string) => relative(SRC, file).split(sep)[0];
const files = walk(SRC);

describe('architecture', () => {
  it('every directory under src/ is a known layer', () => {
    for (const f of files) expect(Object.keys(ALLOWED), `${relative(SRC, f)}`).toContain(layerOf(f));
  });

  it('imports point down the layer table only', () => {
    const violations: string[] = [];
    for (const f of files) {
      const from = layerOf(f);
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2];
        const target = resolve(dirname(f), spec);
        if (!target.startsWith(SRC + sep)) { violations.push(`${relative(SRC, f)} imports outside src: ${spec}`); continue; }
        const to = layerOf(target);
        if (to !== from && !ALLOWED[from]?.includes(to)) violations.push(`${relative(SRC, f)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('sans-IO layers use no sockets, clocks, timers or Math.random', () => {
    const violations: string[] = [];
    for (const f of files) {
      if (!SANS_IO.includes(layerOf(f))) continue;
      const text = readFileSync(f, 'utf8');
      if (/^\/\/ sans-io: exempt/m.test(text)) continue;
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      for (const [re, what] of FORBIDDEN_IN_SANS_IO) if (re.test(code)) violations.push(`${relative(SRC, f)} uses ${what}`);
    }
    expect(violations).toEqual([]);
  });

  it('the check itself catches a violation', () => {
    // sim may not import transport: the rule table must say so.
    expect(ALLOWED.sim).not.toContain('transport');
    expect(ALLOWED.directory).not.toContain('transport');
    expect(FORBIDDEN_IN_SANS_IO.some(([re]) => re.test('const t = Date.now();'))).toBe(true);
  });
});
