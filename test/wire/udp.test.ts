// UDP (RFC 768) over IPv4: pseudo-header checksum, fixtures both ways, error cases.
import { describe, it, expect } from 'vitest';
import { DecodeError, EncodeError } from '../../src/wire/errors.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { ipv4ToU32 } from '../../src/wire/ipv4-address.ts';
import { emitUdp, parseUdp, UdpView } from '../../src/wire/udp.ts';
import { CAPTURED_HEX, LOOPBACK_OFFLOADED_HEX, hex, toHex } from './fixtures.ts';

const SRC = 0xc6336401;
const DST = 0xc6336402;
const captured = () => hex(CAPTURED_HEX).subarray(20);

function decodeMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as Error).message;
  }
  throw new Error('expected a DecodeError');
}

describe('udp', () => {
  it('parses the UDP part of the real captured packet', () => {
    const v = UdpView.checked(captured());
    expect([v.srcPort, v.dstPort, v.length, v.checksum]).toEqual([45679, 45678, 27, 0x59d9]);
    const p = parseUdp(SRC, DST, captured());
    expect(p.repr).toEqual({ srcPort: 45679, dstPort: 45678 });
    expect(Buffer.from(p.payload).toString()).toBe('tincan wire fixture');
  });

  it('emits exactly the captured bytes', () => {
    const out = emitUdp(SRC, DST, { srcPort: 45679, dstPort: 45678 }, Buffer.from('tincan wire fixture'));
    expect(toHex(out)).toBe(CAPTURED_HEX.slice(40));
  });

  it('rejects the real loopback capture whose checksum the kernel left to offload', () => {
    const ip = parseIpv4(hex(LOOPBACK_OFFLOADED_HEX));
    const lo = ipv4ToU32('127.0.0.1');
    expect(decodeMessage(() => parseUdp(lo, lo, ip.payload))).toBe('udp: bad checksum 0xfe2e');
  });

  it('accepts checksum 0 (none) over IPv4', () => {
    const b = captured().slice();
    b[6] = 0;
    b[7] = 0;
    expect(parseUdp(SRC, DST, b).payload.length).toBe(19);
  });

  it('sends a computed checksum of 0 as 0xffff', () => {
    // Find a payload whose checksum computes to 0; then the field must read 0xffff and verify.
    for (let x = 0; x < 0x10000; x++) {
      const payload = Uint8Array.of(x >> 8, x & 0xff);
      const out = emitUdp(SRC, DST, { srcPort: 1, dstPort: 2 }, payload);
      if (out[6] === 0xff && out[7] === 0xff) {
        expect(parseUdp(SRC, DST, out).payload).toEqual(payload);
        return;
      }
    }
    throw new Error('no zero-checksum payload found');
  });

  it('checks the pseudo-header: a different address fails', () => {
    expect(decodeMessage(() => parseUdp(SRC, DST + 1, captured()))).toBe('udp: bad checksum 0x59d9');
  });

  it('errors: truncated, length mismatch, bad checksum', () => {
    expect(decodeMessage(() => UdpView.checked(captured().subarray(0, 7)))).toBe('udp: truncated: 7 bytes, a header needs 8');
    expect(decodeMessage(() => parseUdp(SRC, DST, captured().subarray(0, 26)))).toBe('udp: length field 27 does not match the 26 bytes received');
    const longer = new Uint8Array(28);
    longer.set(captured());
    expect(decodeMessage(() => parseUdp(SRC, DST, longer))).toBe('udp: length field 27 does not match the 28 bytes received');
    const flipped = captured().slice();
    flipped[10] ^= 1;
    expect(decodeMessage(() => parseUdp(SRC, DST, flipped))).toBe('udp: bad checksum 0x59d9');
  });

  it('emit rejects oversize datagrams and bad ports with EncodeError', () => {
    expect(() => emitUdp(SRC, DST, { srcPort: 1, dstPort: 2 }, new Uint8Array(65528))).toThrow(EncodeError);
    expect(() => emitUdp(SRC, DST, { srcPort: 65536, dstPort: 2 }, new Uint8Array(0))).toThrow('udp: srcPort 65536 is outside 0..65535');
  });
});
