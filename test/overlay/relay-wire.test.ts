// Relay codec: the hex vectors of docs/protocol/relay.md in both directions, and
// hostile input (random bytes, truncations) only ever raises RelayDecodeError.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { decodeRelayMessage, encodeRelayMessage, peekDataSessionId, RelayDecodeError, type RelayMessage } from '../../src/overlay/relay-wire.ts';
import { specialRange } from '../../src/overlay/ip-ranges.ts';
import { TokenBucket } from '../../src/overlay/token-bucket.ts';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/protocol/relay.md'), 'utf8');
const block = doc.split('<!-- relay-vectors')[1].split('```')[1];
const vectors = new Map(block.trim().split('\n').map((l) => {
  const [name, ...hex] = l.trim().split(/\s+/);
  return [name, Uint8Array.from(hex.map((h) => parseInt(h, 16)))] as const;
}));

const expected: Record<string, RelayMessage> = {
  bind: { type: 'bind', requestId: 0x0a0b0c0d, deviceId: 'dev-a', ticket: Uint8Array.from([1, 2, 3, 4]) },
  'bind-ok': { type: 'bind-ok', requestId: 0x0a0b0c0d, sessionId: 0x0102030405060708n, peerBound: true, observed: { address: '198.51.100.7', port: 40000 }, lifetimeSec: 300 },
  data: { type: 'data', sessionId: 0x0102030405060708n, payload: new TextEncoder().encode('hello') },
  error: { type: 'error', code: 5, ref: 0x0a0b0c0dn, reason: 'device not in ticket' },
  'error-empty': { type: 'error', code: 10, ref: 0x0102030405060708n, reason: '' },
};

describe('relay wire format (docs/protocol/relay.md vectors)', () => {
  it('the document lists every vector', () => {
    expect([...vectors.keys()]).toEqual(Object.keys(expected));
  });
  for (const [name, msg] of Object.entries(expected)) {
    it(`${name}: encodes to and decodes from the documented bytes`, () => {
      const bytes = vectors.get(name)!;
      expect(Buffer.from(encodeRelayMessage(msg)).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
      expect(decodeRelayMessage(bytes)).toEqual(msg);
    });
  }
  it('peeks a DATA session id without decoding', () => {
    expect(peekDataSessionId(vectors.get('data')!)).toBe(0x0102030405060708n);
    expect(peekDataSessionId(vectors.get('bind')!)).toBeUndefined();
  });
  it('rejects bad markers, unknown types, bad lengths, bad UTF-8 with named errors', () => {
    const bad: [number[], RegExp][] = [
      [[], /truncated/], [[0x00, 0x01], /bad marker 0x00/], [[0xc7, 0x09], /unknown type 0x09/],
      [[0xc7, 0x01, 0, 0, 0, 0, 0x00, 0, 0], /device id length 0/], [[0xc7, 0x01, 0, 0, 0, 0, 0x41, 0x61], /device id length 65/],
      [[0xc7, 0x01, 0, 0, 0, 0, 0x01, 0x61, 0x04, 0x01], /ticket length 1025/], [[0xc7, 0x01, 0, 0, 0, 0, 0x01, 0x61, 0x00, 0x01], /length 10 != 11/],
      [[0xc7, 0x01, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00], /not UTF-8/], [[0xc7, 0x02, 0], /BIND-OK: length/],
      [[0xc7, 0x03, 1, 2, 3], /DATA: truncated/], [[0xc7, 0x04, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x61], /ERROR: length 14 != 15/],
    ];
    for (const [bytes, re] of bad) expect(() => decodeRelayMessage(Uint8Array.from(bytes)), bytes.join(',')).toThrow(re);
    const flags = Uint8Array.from(vectors.get('bind-ok')!);
    flags[14] = 3;
    expect(() => decodeRelayMessage(flags)).toThrow(/reserved flag bits/);
  });
  it('never throws anything but RelayDecodeError on random input (fast-check)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (tail, marker) => {
      const bytes = marker && tail.length > 0 ? Uint8Array.from([0xc7, ...tail]) : tail;
      try { decodeRelayMessage(bytes); } catch (e) { if (!(e instanceof RelayDecodeError)) throw e; }
    }), { numRuns: 2000 });
  });
});

describe('ip ranges and token bucket', () => {
  it('classifies special ranges and leaves documentation ranges ordinary', () => {
    expect(['127.0.0.1', '10.1.2.3', '172.31.0.1', '192.168.1.1', '100.64.0.1', '169.254.1.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '300.1.1.1', 'x'].map(specialRange))
      .toEqual(['loopback', 'private', 'private', 'private', 'shared', 'link-local', 'this-network', 'multicast', 'reserved', 'invalid', 'invalid']);
    expect(['198.51.100.1', '203.0.113.9', '192.0.2.66', '172.32.0.1', '8.8.8.8'].map(specialRange)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
  it('token bucket refills at its rate up to its burst', () => {
    const b = new TokenBucket(1000, 500, 0);
    expect(b.tryTake(0, 500)).toBe(true);
    expect(b.tryTake(0, 1)).toBe(false);
    expect(b.tryTake(100, 100)).toBe(true); // 100 ms -> 100 bytes
    expect(b.tryTake(100, 1)).toBe(false);
    expect(b.tryTake(10_000, 501)).toBe(false); // capped at burst
    expect(b.tryTake(10_000, 500)).toBe(true);
  });
});
