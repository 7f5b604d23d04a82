// Whole IPv4+UDP packets: build/parse fixture, NAT rewrites and TTL keep both checksums valid.
import { describe, it, expect } from 'vitest';
import { DecodeError, EncodeError } from '../../src/wire/errors.ts';
import { ipv4ToU32, u32ToIpv4 } from '../../src/wire/ipv4-address.ts';
import { internetChecksum } from '../../src/wire/checksum.ts';
import {
  buildUdpPacket, checkUdpPacket, decrementTtl, packetDstPort, packetDstU32, packetPayloadLength, packetSrcPort,
  packetSrcU32, parseUdpPacket, rewriteDestination, rewriteSource, UDP_PACKET_MAX_PAYLOAD,
} from '../../src/wire/packet.ts';
import { CAPTURED_HEX, hex, prng, randomBytes, toHex } from './fixtures.ts';

const A = { address: '198.51.100.1', port: 45679 };
const B = { address: '198.51.100.2', port: 45678 };

describe('udp packet', () => {
  it('buildUdpPacket reproduces the real captured packet byte for byte', () => {
    const b = buildUdpPacket(A, B, Buffer.from('tincan wire fixture'), { ttl: 64, identification: 0x1527 });
    expect(toHex(b)).toBe(CAPTURED_HEX);
  });

  it('parseUdpPacket reads it back', () => {
    const p = parseUdpPacket(hex(CAPTURED_HEX));
    expect(p.src).toEqual(A);
    expect(p.dst).toEqual(B);
    expect(p.ttl).toBe(64);
    expect(Buffer.from(p.payload).toString()).toBe('tincan wire fixture');
    const b = hex(CAPTURED_HEX);
    expect([u32ToIpv4(packetSrcU32(b)), packetSrcPort(b), u32ToIpv4(packetDstU32(b)), packetDstPort(b), packetPayloadLength(b)])
      .toEqual([A.address, A.port, B.address, B.port, 19]);
  });

  it('handles empty and maximum payloads', () => {
    expect(parseUdpPacket(buildUdpPacket(A, B, new Uint8Array(0))).payload.length).toBe(0);
    const max = buildUdpPacket(A, B, new Uint8Array(UDP_PACKET_MAX_PAYLOAD).fill(7));
    expect(max.length).toBe(65535);
    expect(parseUdpPacket(max).payload.length).toBe(65507);
    expect(() => buildUdpPacket(A, B, new Uint8Array(UDP_PACKET_MAX_PAYLOAD + 1))).toThrow(EncodeError);
    expect(() => buildUdpPacket({ address: 'x', port: 1 }, B, new Uint8Array(0))).toThrow(DecodeError);
  });

  it('rejects a non-UDP protocol and fragments', () => {
    const b = hex(CAPTURED_HEX);
    b[9] = 6;
    b[10] = 0; b[11] = 0;
    const c = internetChecksum(b, 0, 20);
    b[10] = c >> 8; b[11] = c & 0xff;
    expect(() => parseUdpPacket(b)).toThrow('ipv4: protocol 6 is not UDP (17)');
  });

  it('NAT rewrites and TTL decrement equal a full rebuild (10,000 seeded cases)', () => {
    const seed = 4787;
    const rand = prng(seed);
    const addr = () => u32ToIpv4((rand() * 2 ** 32) >>> 0);
    const port = () => (rand() * 65536) | 0;
    for (let i = 0; i < 10_000; i++) {
      const src = { address: addr(), port: port() };
      const dst = { address: addr(), port: port() };
      const payload = randomBytes(rand, (rand() * 64) | 0);
      const ttl = 1 + ((rand() * 255) | 0);
      const b = buildUdpPacket(src, dst, payload, { ttl, identification: i & 0xffff });
      const newSrc = { address: addr(), port: port() };
      const newDst = { address: addr(), port: port() };
      const which = rand();
      if (which < 0.4) rewriteSource(b, ipv4ToU32(newSrc.address), newSrc.port);
      else if (which < 0.8) rewriteDestination(b, ipv4ToU32(newDst.address), newDst.port);
      const newTtl = decrementTtl(b);
      const expected = buildUdpPacket(which < 0.4 ? newSrc : src, which >= 0.4 && which < 0.8 ? newDst : dst, payload, {
        ttl: newTtl, identification: i & 0xffff,
      });
      if (toHex(b) !== toHex(expected)) throw new Error(`seed ${seed} iteration ${i}: rewritten ${toHex(b)} != rebuilt ${toHex(expected)}`);
      checkUdpPacket(b);
    }
  });

  it('rewrites keep checksum 0 ("none") as 0', () => {
    const b = hex(CAPTURED_HEX);
    b[26] = 0; b[27] = 0;
    rewriteSource(b, 0xcb00710a, 40000);
    expect([b[26], b[27]]).toEqual([0, 0]);
    expect(parseUdpPacket(b).src).toEqual({ address: '203.0.113.10', port: 40000 });
  });

  it('rewrite refuses a buffer too short to be a packet', () => {
    expect(() => rewriteSource(new Uint8Array(10), 1, 1)).toThrow(DecodeError);
  });
});
