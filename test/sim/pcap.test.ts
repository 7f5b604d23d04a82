// pcap export read back by tshark: zero malformed packets and every IPv4/UDP checksum
// good after routers and NATs rewrote packets in place. Skipped (with the reason
// printed) when tshark is not installed; CI installs it.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseScenario, runScenario, Network } from '../../src/sim/index.ts';
import { parsePcap, LINKTYPE_RAW } from '../../src/wire/pcap.ts';

const hasTshark = spawnSync('tshark', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasTshark) console.log('skipped: tshark is not installed (apt-get install tshark) — pcap files are not checked by tshark');

function tshark(file: string, extra: string[]): string[] {
  const r = spawnSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...extra], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

function checkWithTshark(bytes: Uint8Array, expectedPackets: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'tincan-pcap-'));
  try {
    const file = join(dir, 'capture.pcap');
    writeFileSync(file, bytes);
    expect(tshark(file, ['-T', 'fields', '-e', 'frame.number'])).toHaveLength(expectedPackets);
    const bad = tshark(file, ['-Y', '_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0 || udp.checksum.status == 0']);
    expect(bad).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('pcap export', () => {
  it('a link capture is a classic LINKTYPE_RAW pcap at virtual timestamps', () => {
    const json = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', '..', 'examples', 'two-nats.json'), 'utf8'));
    const r = runScenario(parseScenario(json));
    const file = parsePcap(r.pcap!.bytes);
    expect(file.linkType).toBe(LINKTYPE_RAW);
    expect(file.records).toHaveLength(r.pcap!.packets);
    const times = file.records.map((x) => x.timeMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[times.length - 1]).toBeLessThanOrEqual(10_000);
  });

  it.skipIf(!hasTshark)('tshark reads the NAT-translated link capture of examples/two-nats.json: 0 malformed, all checksums good', () => {
    const json = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', '..', 'examples', 'two-nats.json'), 'utf8'));
    const r = runScenario(parseScenario(json));
    checkWithTshark(r.pcap!.bytes, r.pcap!.packets);
  });

  it.skipIf(!hasTshark)('tshark reads a host capture (sent and received packets, routed over 3 hops)', () => {
    const net = new Network({ seed: 2 });
    const a = net.addHost('a', '192.0.2.10');
    const b = net.addHost('b', '203.0.113.9');
    const nat = net.addNat('nat', { externalAddress: '198.51.100.1' });
    const r1 = net.addRouter('r1');
    net.connect(a, nat.inside);
    net.connect(nat.outside, r1, { latencyMs: 10, jitterMs: 3 });
    net.connect(r1, b, { latencyMs: 4 });
    net.autoRoute();
    const cap = net.capture(b);
    const echo = b.bindUdp(7);
    echo.onDatagram((from, bytes) => echo.send(from, bytes));
    const s = a.bindUdp();
    for (let i = 0; i < 50; i++) net.at(i * 20, () => s.send({ address: b.address, port: 7 }, new Uint8Array(1 + i * 20).fill(i)));
    net.run(5000);
    expect(cap.packets).toBe(100);
    checkWithTshark(cap.toBytes(), 100);
  });
});
