// docs/protocol/ip-udp.md carries the same vectors the codec tests check.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { PcapWriter } from '../../src/wire/pcap.ts';
import { buildUdpPacket } from '../../src/wire/packet.ts';
import { CAPTURED_HEX, LOOPBACK_OFFLOADED_HEX, hex, toHex } from './fixtures.ts';

const doc = readFileSync(new URL('../../docs/protocol/ip-udp.md', import.meta.url), 'utf8');
/** Each fenced block as one hex string: the leading hex columns of every line, annotations dropped. */
const blocks = [...doc.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]
  .split('\n').map((l) => l.split(/\s{3,}/)[0].replace(/\s+/g, '').replace(/\+samepayload$/, '')).join(''));

describe('docs/protocol/ip-udp.md vectors', () => {
  it('the captured datagram equals what buildUdpPacket emits', () => {
    const built = toHex(buildUdpPacket({ address: '198.51.100.1', port: 45679 }, { address: '198.51.100.2', port: 45678 },
      new TextEncoder().encode('tincan wire fixture'), { ttl: 64, identification: 0x1527 }));
    expect(built).toBe(CAPTURED_HEX);
    expect(blocks).toContain(CAPTURED_HEX);
  });

  it('the loopback capture header and the pcap file layout', () => {
    expect(blocks).toContain(LOOPBACK_OFFLOADED_HEX.slice(0, 56));
    const w = new PcapWriter();
    w.addPacket(1500.25, hex(CAPTURED_HEX));
    const file = toHex(w.toBytes());
    // the documented block shows the headers and elides the 47-byte datagram after its first 4 bytes ("4500002f...")
    const documented = blocks.find((b) => b.startsWith('d4c3b2a1'));
    expect(documented).toBe(file.slice(0, 88) + '...');
  });
});
