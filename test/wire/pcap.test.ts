// Classic pcap (LINKTYPE_RAW): byte layout, round trip, and the real tshark reads our files cleanly.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeError } from '../../src/wire/errors.ts';
import { LINKTYPE_RAW, parsePcap, PcapWriter } from '../../src/wire/pcap.ts';
import { buildUdpPacket } from '../../src/wire/packet.ts';
import { CAPTURED_HEX, hex, toHex } from './fixtures.ts';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasTshark) console.log('skipped: tshark is not installed (apt-get install tshark); pcap files not checked by tshark');

/** The file documented in docs/protocol/ip-udp.md: one record, the captured packet at t = 1500.25 ms. */
const ONE_PACKET_PCAP_HEX =
  'd4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '65000000' + // global header
  '01000000' + '1aa20700' + '2f000000' + '2f000000' + // record: 1 s, 500250 us, incl 47, orig 47
  CAPTURED_HEX;

describe('pcap writer', () => {
  it('writes the documented byte layout', () => {
    const w = new PcapWriter();
    w.addPacket(1500.25, hex(CAPTURED_HEX));
    expect(toHex(w.toBytes())).toBe(ONE_PACKET_PCAP_HEX);
  });

  it('round-trips through parsePcap', () => {
    const w = new PcapWriter();
    const packets = [hex(CAPTURED_HEX), buildUdpPacket({ address: '192.0.2.1', port: 5 }, { address: '203.0.113.9', port: 6 }, new Uint8Array(0))];
    w.addPacket(0, packets[0]);
    w.addPacket(2_000_000.001, packets[1]);
    const f = parsePcap(w.toBytes());
    expect([f.linkType, f.snaplen, f.nanosecond]).toEqual([LINKTYPE_RAW, 65535, false]);
    expect(f.records.map((r) => toHex(r.bytes))).toEqual(packets.map(toHex));
    expect(f.records[1].timeMs).toBeCloseTo(2_000_000.001, 6);
  });

  it('parsePcap names the problem', () => {
    const file = hex(ONE_PACKET_PCAP_HEX);
    expect(() => parsePcap(file.subarray(0, 10))).toThrow('pcap: truncated: 10 bytes, the global header needs 24');
    expect(() => parsePcap(file.subarray(0, file.length - 1))).toThrow('pcap: truncated record at offset 24: needs 47 bytes');
    const badMagic = file.slice();
    badMagic[0] = 0;
    expect(() => parsePcap(badMagic)).toThrow(DecodeError);
  });

  it.skipIf(!hasTshark)('tshark reads our file with zero malformed packets and correct checksums', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-pcap-'));
    try {
      const w = new PcapWriter();
      w.addPacket(0, hex(CAPTURED_HEX));
      for (let i = 0; i < 5; i++) {
        w.addPacket(10 * i + 0.5, buildUdpPacket({ address: '192.0.2.' + (i + 1), port: 40000 + i }, { address: '198.51.100.7', port: 3478 }, new Uint8Array(i * 300).fill(i), { identification: i }));
      }
      const file = join(dir, 'x.pcap');
      writeFileSync(file, w.toBytes());
      const args = ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-T', 'fields',
        '-e', 'frame.number', '-e', 'ip.src', '-e', 'udp.dstport', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', '_ws.malformed'];
      const r = spawnSync('tshark', args, { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
      expect(rows.length).toBe(6);
      expect(rows[0].slice(0, 3)).toEqual(['1', '198.51.100.1', '45678']);
      expect(rows[3].slice(0, 3)).toEqual(['4', '192.0.2.3', '3478']);
      for (const row of rows) {
        expect(row[3], `ip checksum status ${row.join(' ')}`).toBe('1'); // 1 = Good (0 Bad, 2 Unverified)
        expect(row[4], `udp checksum status ${row.join(' ')}`).toBe('1');
        expect(row[5] ?? '', `malformed ${row.join(' ')}`).toBe('');
      }
      const malformed = spawnSync('tshark', ['-r', file, '-Y', '_ws.malformed || _ws.expert.severity >= "error"'], { encoding: 'utf8', timeout: 30_000 });
      expect(malformed.stdout.trim()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
