// STUN codec (RFC 8489, RFC 5780 attributes) against every RFC 5769 sample message,
// plus encode round trips, error cases and 100k hostile inputs.
import { describe, it, expect } from 'vitest';
import { DecodeError, EncodeError } from '../../src/wire/errors.ts';
import { bytesToIp, ipToBytes } from '../../src/wire/ip-address.ts';
import { crc32 } from '../../src/wire/crc32.ts';
import {
  decodeStun, encodeStun, getStunAttribute, isStunMessage, longTermKey, shortTermKey, StunAttr, stunMessageType,
  verifyStunFingerprint, verifyStunIntegrity, type StunClass,
} from '../../src/wire/stun.ts';
import { hex, mutate, prng, randomBytes, toHex } from './fixtures.ts';

// RFC 5769 ("Test Vectors for STUN", 2010), sections 2.1-2.4, byte for byte as printed
// in the RFC (the 0x20 padding after SOFTWARE/USERNAME in 2.1-2.3 is in the RFC).
const RFC5769_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);
const RFC5769_IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);
const RFC5769_IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);
const RFC5769_LONG_TERM = hex(`
  00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
  00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
  00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
  00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
  00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66`);
const PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';
const TID = hex('b7e7a701bc34d686fa87dfae');

function decodeMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as Error).message;
  }
  throw new Error('expected a DecodeError');
}

describe('STUN against the RFC 5769 sample messages', () => {
  it('2.1 sample request: attributes, short-term MESSAGE-INTEGRITY, FINGERPRINT', () => {
    const m = decodeStun(RFC5769_REQUEST);
    expect([m.method, m.class]).toEqual([1, 'request']);
    expect(toHex(m.transactionId)).toBe(toHex(TID));
    expect(m.software).toBe('STUN test client');
    expect(m.username).toBe('evtj:h6vY');
    expect(toHex(getStunAttribute(m, StunAttr.PRIORITY)!.value)).toBe('6e0001ff');
    expect(toHex(getStunAttribute(m, StunAttr.ICE_CONTROLLED)!.value)).toBe('932ff9b151263b36');
    expect(m.unknownRequired).toEqual([]);
    expect(verifyStunIntegrity(RFC5769_REQUEST, m, shortTermKey(PASSWORD))).toBe(true);
    expect(verifyStunIntegrity(RFC5769_REQUEST, m, shortTermKey('wrong'))).toBe(false);
    expect(verifyStunFingerprint(RFC5769_REQUEST, m)).toBe(true);
    expect(isStunMessage(RFC5769_REQUEST)).toBe(true);
  });

  it('2.2 IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853', () => {
    const m = decodeStun(RFC5769_IPV4_RESPONSE);
    expect([m.method, m.class, m.software]).toEqual([1, 'success', 'test vector']);
    expect(m.xorMappedAddress).toEqual({ family: 4, address: '192.0.2.1', port: 32853 });
    expect(verifyStunIntegrity(RFC5769_IPV4_RESPONSE, m, shortTermKey(PASSWORD))).toBe(true);
    expect(verifyStunFingerprint(RFC5769_IPV4_RESPONSE, m)).toBe(true);
    // our encoder produces the same XOR-MAPPED-ADDRESS value
    const ours = decodeStun(encodeStun({ method: 1, class: 'success', transactionId: TID, attributes: [{ type: 'xor-mapped-address', address: m.xorMappedAddress! }] }));
    expect(toHex(getStunAttribute(ours, StunAttr.XOR_MAPPED_ADDRESS)!.value)).toBe('0001a147e112a643');
  });

  it('2.3 IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const m = decodeStun(RFC5769_IPV6_RESPONSE);
    expect(m.xorMappedAddress).toEqual({ family: 6, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
    expect(verifyStunIntegrity(RFC5769_IPV6_RESPONSE, m, shortTermKey(PASSWORD))).toBe(true);
    expect(verifyStunFingerprint(RFC5769_IPV6_RESPONSE, m)).toBe(true);
    const ours = decodeStun(encodeStun({ method: 1, class: 'success', transactionId: TID, attributes: [{ type: 'xor-mapped-address', address: m.xorMappedAddress! }] }));
    expect(toHex(getStunAttribute(ours, StunAttr.XOR_MAPPED_ADDRESS)!.value)).toBe('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9');
  });

  it('2.4 request with long-term authentication: verifies, and re-encodes byte for byte', () => {
    const m = decodeStun(RFC5769_LONG_TERM);
    const username = '\u30de\u30c8\u30ea\u30c3\u30af\u30b9';
    expect([m.username, m.nonce, m.realm]).toEqual([username, 'f//499k954d6OL34oL9FSTvy64sA', 'example.org']);
    expect(m.fingerprintOffset).toBeUndefined();
    // password "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep is "TheMatrIX" (we take prepared strings)
    const key = longTermKey(username, 'example.org', 'TheMatrIX');
    expect(verifyStunIntegrity(RFC5769_LONG_TERM, m, key)).toBe(true);
    expect(verifyStunIntegrity(RFC5769_LONG_TERM, m, longTermKey(username, 'example.org', 'thematrix'))).toBe(false);
    expect(verifyStunFingerprint(RFC5769_LONG_TERM, m)).toBe(false);
    const again = encodeStun({
      method: 1, class: 'request', transactionId: m.transactionId,
      attributes: [{ type: 'username', value: username }, { type: 'nonce', value: m.nonce! }, { type: 'realm', value: 'example.org' }],
    }, { integrityKey: key });
    expect(toHex(again)).toBe(toHex(RFC5769_LONG_TERM));
  });

  it('a flipped bit breaks integrity and fingerprint', () => {
    const b = RFC5769_IPV4_RESPONSE.slice();
    b[24] ^= 1; // inside SOFTWARE
    const m = decodeStun(b);
    expect(verifyStunIntegrity(b, m, shortTermKey(PASSWORD))).toBe(false);
    expect(verifyStunFingerprint(b, m)).toBe(false);
  });
});

describe('STUN encoding', () => {
  it('message type interleaves method and class bits', () => {
    expect(stunMessageType(1, 'request')).toBe(0x0001);
    expect(stunMessageType(1, 'success')).toBe(0x0101);
    expect(stunMessageType(1, 'error')).toBe(0x0111);
    expect(stunMessageType(1, 'indication')).toBe(0x0011);
    expect(stunMessageType(0xfff, 'error')).toBe(0x3fff);
    for (const cls of ['request', 'indication', 'success', 'error'] as StunClass[]) {
      for (const method of [1, 3, 0x0a5, 0xfff]) {
        const m = decodeStun(encodeStun({ method, class: cls, transactionId: TID }));
        expect([m.method, m.class]).toEqual([method, cls]);
      }
    }
  });

  it('a Binding request with no attributes is the bare 20-byte header', () => {
    expect(toHex(encodeStun({ method: 1, class: 'request', transactionId: TID }))).toBe('000100002112a442b7e7a701bc34d686fa87dfae');
  });

  it('round-trips every supported attribute with integrity and fingerprint', () => {
    const key = shortTermKey('secret');
    const b = encodeStun({
      method: 1, class: 'error', transactionId: TID,
      attributes: [
        { type: 'error-code', code: 420, reason: 'Unknown Attribute' },
        { type: 'unknown-attributes', types: [0x0003, 0x7fff, 0x0027] },
        { type: 'mapped-address', address: { family: 4, address: '203.0.113.5', port: 1 } },
        { type: 'xor-mapped-address', address: { family: 6, address: '2001:db8::1', port: 65535 } },
        { type: 'response-origin', address: { family: 4, address: '198.51.100.1', port: 3478 } },
        { type: 'other-address', address: { family: 4, address: '198.51.100.2', port: 3479 } },
        { type: 'change-request', changeIp: true, changePort: false },
        { type: 'software', value: 'tincan' },
        { type: 'raw', attrType: 0xc001, value: Uint8Array.of(1, 2, 3) },
      ],
    }, { integrityKey: key, fingerprint: true });
    const m = decodeStun(b);
    expect(m.errorCode).toEqual({ code: 420, reason: 'Unknown Attribute' });
    expect(m.unknownAttributes).toEqual([3, 0x7fff, 0x27]);
    expect(m.mappedAddress).toEqual({ family: 4, address: '203.0.113.5', port: 1 });
    expect(m.xorMappedAddress).toEqual({ family: 6, address: '2001:db8::1', port: 65535 });
    expect(m.responseOrigin).toEqual({ family: 4, address: '198.51.100.1', port: 3478 });
    expect(m.otherAddress).toEqual({ family: 4, address: '198.51.100.2', port: 3479 });
    expect(m.changeRequest).toEqual({ changeIp: true, changePort: false });
    expect(m.software).toBe('tincan');
    expect(toHex(getStunAttribute(m, 0xc001)!.value)).toBe('010203');
    expect(verifyStunIntegrity(b, m, key)).toBe(true);
    expect(verifyStunFingerprint(b, m)).toBe(true);
    expect(m.attributes.at(-1)!.type).toBe(StunAttr.FINGERPRINT);
  });

  it('RESPONSE-PORT is a port followed by 2 bytes of padding', () => {
    const b = encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'response-port', port: 0xb211 }] });
    expect(toHex(b.subarray(20))).toBe('00270004b2110000');
    expect(decodeStun(b).responsePort).toBe(0xb211);
    const bad = encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'raw', attrType: StunAttr.RESPONSE_PORT, value: Uint8Array.of(1, 2) }] });
    expect(decodeMessage(() => decodeStun(bad))).toBe('stun: RESPONSE-PORT has length 2, expected 4');
  });

  it('CHANGE-REQUEST flags are bits 0x4 (IP) and 0x2 (port)', () => {
    const b = encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'change-request', changeIp: false, changePort: true }] });
    expect(toHex(b.subarray(20))).toBe('0003000400000002');
  });

  it('FINGERPRINT is CRC-32 xor 0x5354554e (CRC-32 check value)', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('rejects what the format cannot carry with EncodeError', () => {
    expect(() => encodeStun({ method: 1, class: 'request', transactionId: new Uint8Array(11) })).toThrow(EncodeError);
    expect(() => encodeStun({ method: 0x1000, class: 'request', transactionId: TID })).toThrow(EncodeError);
    expect(() => encodeStun({ method: 1, class: 'error', transactionId: TID, attributes: [{ type: 'error-code', code: 200, reason: '' }] })).toThrow('stun: error code 200 is outside 300..699');
    expect(() => encodeStun({ method: 1, class: 'success', transactionId: TID, attributes: [{ type: 'xor-mapped-address', address: { family: 4, address: '::1', port: 1 } }] })).toThrow(EncodeError);
    expect(() => encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'software', value: 'x'.repeat(764) }] })).toThrow(EncodeError);
  });
});

describe('STUN decoding errors', () => {
  const good = () => RFC5769_IPV4_RESPONSE.slice();
  it('names each problem', () => {
    expect(decodeMessage(() => decodeStun(good().subarray(0, 19)))).toBe('stun: truncated: 19 bytes, the header needs 20');
    const top = good();
    top[0] |= 0x80;
    expect(decodeMessage(() => decodeStun(top))).toBe('stun: not STUN: the top two bits of the message type are not zero');
    const cookie = good();
    cookie[4] = 0;
    expect(decodeMessage(() => decodeStun(cookie))).toBe('stun: bad magic cookie 0x0012a442 (RFC 3489 messages are not supported)');
    const odd = good();
    odd[3] = 0x3d;
    expect(decodeMessage(() => decodeStun(odd))).toBe('stun: message length 61 is not a multiple of 4');
    expect(decodeMessage(() => decodeStun(good().subarray(0, 76)))).toBe('stun: message length 60 does not match the 56 bytes after the header');
    const over = good();
    over[22] = 0x00;
    over[23] = 0xff; // SOFTWARE claims 255 bytes
    expect(decodeMessage(() => decodeStun(over))).toBe('stun: attribute 0x8022 at offset 20 has length 255, beyond the message end');
    const afterFp = new Uint8Array(good().length + 8);
    afterFp.set(good());
    afterFp.set(hex('80220004746f6f21'), good().length);
    afterFp[3] += 8;
    expect(decodeMessage(() => decodeStun(afterFp))).toBe('stun: attribute 0x8022 follows FINGERPRINT, which must be last');
    const badFamily = good();
    badFamily[41] = 3; // XOR-MAPPED-ADDRESS family (attribute at offset 36, value at 40)
    expect(decodeMessage(() => decodeStun(badFamily))).toBe('stun: XOR-MAPPED-ADDRESS has unknown address family 3');
    const badUtf8 = encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'raw', attrType: StunAttr.SOFTWARE, value: Uint8Array.of(0xff, 0xfe) }] });
    expect(decodeMessage(() => decodeStun(badUtf8))).toBe('stun: SOFTWARE is not valid UTF-8');
    const badCode = encodeStun({ method: 1, class: 'error', transactionId: TID, attributes: [{ type: 'raw', attrType: StunAttr.ERROR_CODE, value: Uint8Array.of(0, 0, 2, 0) }] });
    expect(decodeMessage(() => decodeStun(badCode))).toBe('stun: ERROR-CODE class 2 number 0 is not a valid code');
  });

  it('ignores attributes after MESSAGE-INTEGRITY except FINGERPRINT, and reports unknown required ones', () => {
    const key = shortTermKey('k');
    const signed = encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'raw', attrType: 0x7abc, value: Uint8Array.of(1) }] }, { integrityKey: key });
    const tail = hex('80220004746f6f21'); // SOFTWARE "too!" after MESSAGE-INTEGRITY
    const b = new Uint8Array(signed.length + tail.length);
    b.set(signed);
    b.set(tail, signed.length);
    b[3] += tail.length;
    const m = decodeStun(b);
    expect(m.software).toBeUndefined();
    expect(m.unknownRequired).toEqual([0x7abc]);
    expect(verifyStunIntegrity(b, m, key)).toBe(true);
  });

  it('takes the first of repeated attributes', () => {
    const b = encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'software', value: 'one' }, { type: 'software', value: 'two' }] });
    expect(decodeStun(b).software).toBe('one');
  });
});

describe('IP address text', () => {
  it.each([
    ['2001:db8::1', '2001:db8::1'], ['2001:0DB8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], ['::', '::'], ['::1', '::1'],
    ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['::ffff:192.0.2.1', '::ffff:c000:201'], ['192.0.2.1', '192.0.2.1'],
  ])('%s -> %s', (input, canonical) => {
    expect(bytesToIp(ipToBytes(input))).toBe(canonical);
  });
  it.each(['1:2:3:4:5:6:7:8:9', '1::2::3', 'g::1', '12345::', '1.2.3', ':::', '1:2:3:4:5:6:7'])('rejects %s', (s) => {
    expect(() => ipToBytes(s)).toThrow(DecodeError);
  });
});

describe('STUN decoder under hostile input', () => {
  it('100,000 random and mutated messages: only DecodeError, and verification never throws', () => {
    const seed = Number(process.env.TINCAN_FUZZ_SEED ?? 5769);
    const rand = prng(seed);
    const corpus = [RFC5769_REQUEST, RFC5769_IPV4_RESPONSE, RFC5769_IPV6_RESPONSE, RFC5769_LONG_TERM,
      encodeStun({ method: 1, class: 'error', transactionId: TID, attributes: [{ type: 'error-code', code: 420, reason: 'x' }, { type: 'unknown-attributes', types: [3] }, { type: 'other-address', address: { family: 4, address: '192.0.2.1', port: 9 } }, { type: 'change-request', changeIp: true, changePort: true }] }, { fingerprint: true })];
    let decoded = 0;
    for (let i = 0; i < 100_000; i++) {
      let input: Uint8Array;
      const r = rand();
      if (r < 0.1) input = randomBytes(rand, (rand() * 64) | 0);
      else if (r < 0.3) {
        // valid header, random attribute soup
        const body = randomBytes(rand, 4 * ((rand() * 24) | 0));
        for (let k = 0; k + 3 < body.length; k += 4 + 4 * ((rand() * 3) | 0)) { body[k] = rand() < 0.5 ? 0 : 0x80; body[k + 2] = 0; body[k + 3] = (rand() * 24) | 0; }
        input = new Uint8Array(20 + body.length);
        input.set(hex('00010000' + '2112a442'));
        input[2] = body.length >> 8;
        input[3] = body.length & 0xff;
        input.set(TID, 8);
        input.set(body, 20);
      } else {
        input = mutate(rand, corpus[(rand() * corpus.length) | 0]);
        if (rand() < 0.5 && input.length >= 20) { input[2] = (input.length - 20) >> 8; input[3] = (input.length - 20) & 0xff; }
      }
      try {
        const m = decodeStun(input);
        decoded++;
        verifyStunIntegrity(input, m, shortTermKey(PASSWORD));
        verifyStunFingerprint(input, m);
        isStunMessage(input);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw new Error(`seed ${seed} iteration ${i}: ${String(e)} for ${toHex(input)}`);
      }
    }
    expect(decoded).toBeGreaterThan(1000); // the success path is exercised too
  });
});
