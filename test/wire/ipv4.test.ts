// IPv4 (RFC 791) view, repr, emit/parse: fixtures both ways and every error case.
import { describe, it, expect } from 'vitest';
import { DecodeError, EncodeError } from '../../src/wire/errors.ts';
import { ipv4ToU32, u32ToIpv4, isIpv4 } from '../../src/wire/ipv4-address.ts';
import { emitIpv4, Ipv4View, parseIpv4, ipv4BufferLen, type Ipv4Repr } from '../../src/wire/ipv4.ts';
import { internetChecksum } from '../../src/wire/checksum.ts';
import { CAPTURED_HEX, hex, toHex } from './fixtures.ts';

function expectDecodeError(f: () => unknown, message: string): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DecodeError);
  expect((caught as Error).message).toBe(message);
}

/** Recompute the header checksum after a test edited header bytes. */
function fixChecksum(b: Uint8Array): Uint8Array {
  const hl = (b[0] & 15) * 4;
  b[10] = 0;
  b[11] = 0;
  const c = internetChecksum(b, 0, Math.min(hl, b.length));
  b[10] = c >> 8;
  b[11] = c & 0xff;
  return b;
}

const capturedRepr: Ipv4Repr = {
  src: '198.51.100.1', dst: '198.51.100.2', protocol: 17, ttl: 64, identification: 0x1527,
  dontFragment: true, dscp: 0, ecn: 0,
};

describe('ipv4 addresses', () => {
  it('converts both ways', () => {
    expect(ipv4ToU32('198.51.100.1')).toBe(0xc6336401);
    expect(ipv4ToU32('0.0.0.0')).toBe(0);
    expect(ipv4ToU32('255.255.255.255')).toBe(0xffffffff);
    expect(u32ToIpv4(0xc6336401)).toBe('198.51.100.1');
    expect(u32ToIpv4(-1)).toBe('255.255.255.255');
    expect(isIpv4('10.0.0.1')).toBe(true);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1.2.3.-4', '::1', '1.2.3.4/24'])(
    'rejects %j with DecodeError', (s) => {
      expect(() => ipv4ToU32(s)).toThrow(DecodeError);
      expect(() => ipv4ToU32(s)).toThrow(/^ipv4-address: not a dotted-quad IPv4 address/);
    },
  );
});

describe('ipv4 header', () => {
  it('parses the real captured packet', () => {
    const bytes = hex(CAPTURED_HEX);
    const v = Ipv4View.checked(bytes);
    expect([v.version, v.headerLength, v.totalLength, v.identification]).toEqual([4, 20, 47, 0x1527]);
    expect([v.dontFragment, v.moreFragments, v.fragmentOffset, v.ttl, v.protocol, v.checksum]).toEqual([true, false, 0, 64, 17, 0xd12c]);
    expect([v.src, v.dst, v.srcU32, v.dstU32]).toEqual(['198.51.100.1', '198.51.100.2', 0xc6336401, 0xc6336402]);
    expect(v.payload().length).toBe(27);
    const p = parseIpv4(bytes);
    expect(p.repr).toEqual(capturedRepr);
    expect(p.optionsLength).toBe(0);
    expect(toHex(p.payload)).toBe(CAPTURED_HEX.slice(40));
  });

  it('emits exactly the captured bytes from the repr', () => {
    const payload = hex(CAPTURED_HEX.slice(40));
    expect(toHex(emitIpv4(capturedRepr, payload))).toBe(CAPTURED_HEX);
    expect(ipv4BufferLen(27)).toBe(47);
  });

  it('round-trips dscp/ecn and options length from IHL', () => {
    const repr = { ...capturedRepr, dscp: 46, ecn: 1, dontFragment: false };
    const b = emitIpv4(repr, hex('0102'));
    expect(parseIpv4(b).repr).toEqual(repr);
    // header with 4 bytes of options (IHL 6): NOP NOP NOP EOL
    const withOpts = hex('4600001a0000000040110000c6336401c633640201010100abcd');
    fixChecksum(withOpts);
    const p = parseIpv4(withOpts);
    expect(p.optionsLength).toBe(4);
    expect(toHex(p.payload)).toBe('abcd');
  });

  it('ignores bytes after total length (link padding)', () => {
    const b = new Uint8Array(60);
    b.set(hex(CAPTURED_HEX));
    expect(parseIpv4(b).payload.length).toBe(27);
  });

  it('setters keep the header checksum valid', () => {
    const b = hex(CAPTURED_HEX);
    const v = Ipv4View.checked(b);
    expect(v.decrementTtl()).toBe(63);
    expect(() => Ipv4View.checked(b)).not.toThrow();
    v.setTtl(1);
    expect(v.decrementTtl()).toBe(0);
    expect(v.decrementTtl()).toBe(0);
    v.setSrcU32(ipv4ToU32('203.0.113.77'));
    v.setDstU32(ipv4ToU32('192.0.2.9'));
    const again = Ipv4View.checked(b);
    expect([again.src, again.dst, again.ttl]).toEqual(['203.0.113.77', '192.0.2.9', 0]);
  });

  describe('errors', () => {
    const base = () => hex(CAPTURED_HEX);
    it('truncated', () => expectDecodeError(() => Ipv4View.checked(base().slice(0, 19)), 'ipv4: truncated: 19 bytes, a header needs at least 20'));
    it('wrong version', () => {
      const b = base();
      b[0] = 0x65;
      expectDecodeError(() => Ipv4View.checked(fixChecksum(b)), 'ipv4: wrong version 6, expected 4');
    });
    it('IHL < 5', () => {
      const b = base();
      b[0] = 0x44;
      expectDecodeError(() => parseIpv4(b), 'ipv4: IHL 4 is below the minimum 5');
    });
    it('header longer than the buffer', () => {
      const b = base().slice(0, 30);
      b[0] = 0x4f;
      expectDecodeError(() => parseIpv4(b), 'ipv4: truncated: header length 60 exceeds 30 bytes');
    });
    it('total length below header', () => {
      const b = base();
      b[2] = 0;
      b[3] = 19;
      expectDecodeError(() => parseIpv4(fixChecksum(b)), 'ipv4: total length 19 is smaller than the header length 20');
    });
    it('total length beyond the buffer', () => {
      expectDecodeError(() => parseIpv4(base().slice(0, 46)), 'ipv4: truncated: total length 47 exceeds 46 bytes');
    });
    it('bad header checksum', () => {
      const b = base();
      b[8] = 63; // TTL changed without fixing the checksum
      expectDecodeError(() => parseIpv4(b), 'ipv4: bad header checksum 0xd12c');
    });
    it('buffer over 65535 bytes', () => {
      const b = new Uint8Array(65536);
      b.set(base());
      expectDecodeError(() => parseIpv4(b), 'ipv4: too large: 65536 bytes, the maximum is 65535');
    });
    it('fragments are rejected by parseIpv4 (the view still reads them)', () => {
      const b = base();
      b[6] = 0x20; // MF
      b[7] = 0x02; // offset 2 * 8
      fixChecksum(b);
      expect(Ipv4View.checked(b).fragmentOffset).toBe(16);
      expectDecodeError(() => parseIpv4(b), 'ipv4: fragments are not supported (MF=1, offset 16)');
    });
  });

  it('emit rejects a datagram over 65535 bytes and bad fields with EncodeError', () => {
    expect(emitIpv4(capturedRepr, new Uint8Array(65515)).length).toBe(65535);
    expect(() => emitIpv4(capturedRepr, new Uint8Array(65516))).toThrow(EncodeError);
    expect(() => emitIpv4(capturedRepr, new Uint8Array(65516))).toThrow('ipv4: total length 65536 exceeds 65535');
    expect(() => emitIpv4({ ...capturedRepr, ttl: 256 }, new Uint8Array(0))).toThrow('ipv4: ttl 256 is outside 0..255');
    expect(() => emitIpv4({ ...capturedRepr, dscp: 64 }, new Uint8Array(0))).toThrow(EncodeError);
  });
});
