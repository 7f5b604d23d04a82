// The simulator's slab-backed packet builder is byte-identical to wire's buildUdpPacket.
import { describe, it, expect } from 'vitest';
import { buildPacket, allocPacket, PacketBuilder } from '../../src/sim/packet-alloc.ts';
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

  it('PacketBuilder (fields written directly, checksums from constant parts) matches buildUdpPacket for 20,000 packets (seed 22)', () => {
    const seed = 22;
    const rng = createRng(seed);
    const quad = (u: number) => `${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`;
    let mismatches = 0;
    for (let s = 0; s < 20; s++) {
      const src = { address: s === 0 ? '0.0.0.0' : s === 1 ? '255.255.255.255' : quad(rng.next()), port: 0 };
      const ttl = s === 2 ? 255 : s === 3 ? 1 : 64;
      const b = new PacketBuilder(ipv4ToU32(src.address), ttl);
      for (let i = 0; i < 1000; i++) {
        const len = i % 100 === 0 ? 9000 + rng.int(100) : i % 3 === 0 ? rng.int(8) : rng.int(1500);
        const payload = new Uint8Array(len).map(() => (i % 7 === 0 ? 0 : rng.int(256)));
        const dst = { address: i % 50 === 0 ? '255.255.255.255' : quad(rng.next()), port: rng.int(65536) };
        const srcPort = rng.int(65536);
        const id = i % 10 === 0 ? 65535 : rng.int(65536);
        const mine = b.build(srcPort, ipv4ToU32(dst.address), dst.port, payload, id);
        const theirs = buildUdpPacket({ address: src.address, port: srcPort }, dst, payload, { ttl, identification: id });
        if (!Buffer.from(mine).equals(Buffer.from(theirs))) mismatches++;
      }
    }
    expect(mismatches, `seed ${seed}`).toBe(0);
  });

  it('PacketBuilder sends a computed UDP checksum of 0 as 0xffff, like buildUdpPacket', () => {
    const b = new PacketBuilder(ipv4ToU32('192.0.2.1'), 64);
    const dst = ipv4ToU32('203.0.113.9');
    const probe = b.build(1000, dst, 2000, new Uint8Array(2), 7);
    const sum = ~((probe[26] << 8) | probe[27]) & 0xffff; // folded sum with a zero payload word
    const w = 0xffff - sum; // this payload word makes the sum 0xffff, i.e. checksum 0
    const payload = new Uint8Array([w >>> 8, w & 0xff]);
    const mine = b.build(1000, dst, 2000, payload, 7);
    expect([mine[26], mine[27]]).toEqual([0xff, 0xff]);
    const theirs = buildUdpPacket({ address: '192.0.2.1', port: 1000 }, { address: '203.0.113.9', port: 2000 }, payload, { identification: 7 });
    expect(Buffer.from(mine).equals(Buffer.from(theirs))).toBe(true);
  });

  it('hands out non-overlapping zeroed views', () => {
    const a = allocPacket(100);
    a.fill(0xff);
    const b = allocPacket(100);
    expect(b.every((x) => x === 0)).toBe(true);
    expect(a.every((x) => x === 0xff)).toBe(true);
  });
});
