// The simulator's slab-backed packet builder is byte-identical to wire's buildUdpPacket.
import { describe, it, expect } from 'vitest';
import { buildPacket, allocPacket, HeaderTemplates } from '../../src/sim/packet-alloc.ts';
import { buildUdpPacket } from '../../src/wire/packet.ts';
import { ipv4ToU32 } from '../../src/wire/ipv4-address.ts';
import { createRng } from '../../src/sim/rng.ts';

describe('packet-alloc', () => {
  it('matches buildUdpPacket for 300 random packets (seed 21), small and large', () => {
    const seed = 21;
    const rng = createRng(seed);
    for (let i = 0; i < 300; i++) {
      const len = i % 50 === 0 ? 3000 + rng.int(5000) : rng.int(1500);
      const payload = new Uint8Array(len).map(() => rng.int(256));
      const src = { address: `198.51.100.${rng.int(256)}`, port: rng.int(65536) };
      const dst = { address: `203.0.113.${rng.int(256)}`, port: rng.int(65536) };
      const ttl = 1 + rng.int(255);
      const id = rng.int(65536);
      const mine = buildPacket(src.address, ipv4ToU32(src.address), src.port, dst.address, ipv4ToU32(dst.address), dst.port, payload, ttl, id);
      const theirs = buildUdpPacket(src, dst, payload, { ttl, identification: id });
      expect(Buffer.from(mine).equals(Buffer.from(theirs)), `seed ${seed} packet ${i}`).toBe(true);
    }
  });

  it('HeaderTemplates (cached header, patched length/id/checksum) matches buildUdpPacket for 3,000 packets (seed 22)', () => {
    const seed = 22;
    const rng = createRng(seed);
    const src = { address: '192.0.2.77', port: 0 };
    const t = new HeaderTemplates(src.address, ipv4ToU32(src.address), 64);
    let mismatches = 0;
    for (let i = 0; i < 3000; i++) {
      const payload = new Uint8Array(rng.int(i % 100 === 0 ? 9000 : 1500)).map(() => rng.int(256));
      const dst = { address: `203.0.113.${rng.int(8)}`, port: 1 + rng.int(65535) };
      const srcPort = rng.int(65536);
      const id = rng.int(65536);
      const mine = t.build(srcPort, dst.address, ipv4ToU32(dst.address), dst.port, payload, id);
      const theirs = buildUdpPacket({ address: src.address, port: srcPort }, dst, payload, { ttl: 64, identification: id });
      if (!Buffer.from(mine).equals(Buffer.from(theirs))) mismatches++;
    }
    expect(mismatches, `seed ${seed}`).toBe(0);
  });

  it('hands out non-overlapping zeroed views', () => {
    const a = allocPacket(100);
    a.fill(0xff);
    const b = allocPacket(100);
    expect(b.every((x) => x === 0)).toBe(true);
    expect(a.every((x) => x === 0xff)).toBe(true);
  });
});
