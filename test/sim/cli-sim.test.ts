// `tincan sim` end to end: the real CLI on the shipped example writes a pcap and prints
// a readable summary; a bad scenario exits 1 naming the field.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const tincan = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'tincan.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

describe('tincan sim', () => {
  it('runs examples/two-nats.json, prints the outcome and writes the pcap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-sim-'));
    try {
      const pcap = join(dir, 'out.pcap');
      const r = tincan(['sim', 'examples/two-nats.json', '--pcap', pcap]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/direct connection FAILED — data went through the relay/);
      expect(r.stdout).toMatch(/nat-b \(203\.0\.113\.1\): symmetric/);
      expect(r.stdout).toMatch(/Packets: \d+ sent by hosts/);
      expect(existsSync(pcap) && statSync(pcap).size > 1000).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 with the bad field named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-sim-'));
    try {
      const f = join(dir, 'bad.json');
      writeFileSync(f, JSON.stringify({ seed: 1, durationMs: 10, hosts: [{ name: 'a', address: '300.1.2.3' }] }));
      const r = tincan(['sim', f]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/hosts\[0\]\.address: must be an IPv4 address/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
