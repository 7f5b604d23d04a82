// Codec properties: varint round trips and limits, packet-number recovery,
// coalesced datagrams, and hostile input (only DecodeError, sizes capped).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Reader, Writer, varintLen } from '../../src/transport/wire/cursor.ts';
import { DecodeError } from '../../src/transport/wire/errors.ts';
import { crc32 } from '../../src/transport/wire/crc32.ts';
import { decodeFrames, encodeFrames, type Frame } from '../../src/transport/wire/frames.ts';
import { decodePacketNumber, encodeLongPacket, parseDatagram } from '../../src/transport/wire/header.ts';

const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

describe('varint', () => {
  it('round-trips values of every length, shortest form', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
      const buf = new Uint8Array(varintLen(v));
      new Writer(buf).varint(v);
      const r = new Reader(buf);
      expect(r.varint('v')).toBe(v);
      expect(r.remaining).toBe(0);
    }));
    expect(new Reader(h('9d7f3e7d')).varint('v')).toBe(494878333);
    expect(new Reader(h('7bbd')).varint('v')).toBe(15293);
    expect(new Reader(h('25')).varint('v')).toBe(37);
    expect(new Reader(h('4025')).varint('v')).toBe(37);
  });
  it('rejects truncation and values above 2^53-1 with DecodeError', () => {
    expect(() => new Reader(h('9d7f')).varint('v')).toThrow(DecodeError);
    expect(() => new Reader(h('ffffffffffffffff')).varint('v')).toThrow(DecodeError);
  });
});

describe('crc32', () => {
  it('check value', () => expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926));
});

describe('packet numbers', () => {
  it('RFC 9000 §A.3 example scaled to 32 bits and wrap-around', () => {
    expect(decodePacketNumber(0xa82f30ea, 0xa82f9b32)).toBe(0xa82f9b32);
    expect(decodePacketNumber(0xa82f30ea, 0x9b32)).toBe(0x1_0000_9b32);
    expect(decodePacketNumber(0xffff_fff0, 0x0000_0005)).toBe(0x1_0000_0005);
    expect(decodePacketNumber(0x1_0000_0002, 0xffff_fffe)).toBe(0xffff_fffe);
    expect(decodePacketNumber(-1, 0)).toBe(0);
  });
  it('recovers any pn within +-2^31 of the expected one', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), (largest, delta) => {
      const pn = largest + 1 + delta;
      if (pn < 0) return;
      expect(decodePacketNumber(largest, pn % 2 ** 32)).toBe(pn);
    }));
  });
});

describe('datagrams', () => {
  it('parses coalesced Initial + Handshake', () => {
    const a = encodeLongPacket({ type: 'initial', dcid: h('01'), scid: h('02'), pn: 0, payload: h('01') });
    const b = encodeLongPacket({ type: 'handshake', dcid: h('01'), scid: h('02'), pn: 1, payload: h('01') });
    const both = new Uint8Array([...a, ...b]);
    expect(parseDatagram(both).map((p) => p.form === 'long' && p.type)).toEqual(['initial', 'handshake']);
  });
  it('detects a flipped bit in a long-header packet (CRC)', () => {
    const a = encodeLongPacket({ type: 'handshake', dcid: h('01'), scid: h('02'), pn: 7, payload: h('0101') });
    for (let i = 0; i < a.length * 8; i++) {
      const c = a.slice(); c[i >> 3] ^= 1 << (i & 7);
      expect(() => parseDatagram(c)).toThrow(DecodeError);
    }
  });
  it('random bytes throw only DecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try { parseDatagram(bytes); } catch (e) { expect(e).toBeInstanceOf(DecodeError); }
      try { decodeFrames(bytes); } catch (e) { expect(e).toBeInstanceOf(DecodeError); }
    }), { numRuns: 20000 });
  });
});

describe('frames', () => {
  const arbFrame: fc.Arbitrary<Frame> = fc.oneof(
    fc.constant<Frame>({ type: 'ping' }),
    fc.record({ id: fc.nat(), offset: fc.nat(), data: fc.uint8Array({ maxLength: 50 }), fin: fc.boolean() }).map((f): Frame => ({ type: 'stream', ...f })),
    fc.record({ offset: fc.nat(), data: fc.uint8Array({ maxLength: 50 }) }).map((f): Frame => ({ type: 'crypto', ...f })),
    fc.record({ max: fc.nat() }).map((f): Frame => ({ type: 'max_data', ...f })),
    fc.record({ id: fc.nat(), max: fc.nat() }).map((f): Frame => ({ type: 'max_stream_data', ...f })),
    fc.record({ id: fc.nat(), code: fc.nat(), finalSize: fc.nat() }).map((f): Frame => ({ type: 'reset_stream', ...f })),
    fc.uint8Array({ maxLength: 50 }).map((data): Frame => ({ type: 'datagram', data })),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 20 }).map((pairs): Frame => {
      let hi = 1000; const ranges = [];
      for (const [gap, len] of pairs) { const lo = hi - len; ranges.push({ lo, hi }); hi = lo - gap - 2; }
      return { type: 'ack', ackDelayUs: 25, ranges };
    }),
  );
  it('round-trip arbitrary frame sequences', () => {
    fc.assert(fc.property(fc.array(arbFrame, { maxLength: 10 }), (frames) => {
      expect(decodeFrames(encodeFrames(frames))).toEqual(frames);
    }));
  });
  it('caps peer-controlled sizes', () => {
    expect(() => decodeFrames(h('02' + '05' + '00' + '8000ffff' + '00'))).toThrow(/ack.range_count/); // 65535 ranges
    expect(() => decodeFrames(h('1c00004fff'))).toThrow(/close.reason_len/);
    expect(() => decodeFrames(h('0a00' + '4100' + '00'))).toThrow(/stream.len/); // length 256 > remaining
    expect(() => decodeFrames(h('3f'))).toThrow(/unknown frame type/);
    expect(() => decodeFrames(h('0205000006'))).toThrow(/first_range/);
  });
});
