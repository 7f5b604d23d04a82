// ICE-style STUN connectivity checks: the vectors of docs/protocol/checks.md both ways,
// and every rejection (wrong username, wrong password, tampering, no fingerprint).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { decodeCheck, encodeCheckRefusal, encodeCheckRequest, encodeCheckResponse } from '../../src/overlay/check-wire.ts';
import { classifyDatagram } from '../../src/overlay/demux.ts';
import { encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import { encodeGossipMessage } from '../../src/overlay/gossip-wire.ts';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/protocol/checks.md'), 'utf8');
const vectors = new Map(doc.split('<!-- check-vectors')[1].split('```')[1].trim().split('\n').map((l) => {
  const [name, ...hex] = l.trim().split(/\s+/);
  return [name, Uint8Array.from(hex.map((h) => parseInt(h, 16)))] as const;
}));
const alice = { localUfrag: 'alic', localPassword: 'alice-password-0123456789', remoteUfrag: 'bobb', remotePassword: 'bob-password-0123456789ab' };
const bob = { localUfrag: 'bobb', localPassword: 'bob-password-0123456789ab', remoteUfrag: 'alic', remotePassword: 'alice-password-0123456789' };
const TX = '000102030405060708090a0b';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('connectivity check wire format', () => {
  it('request: documented bytes both ways', () => {
    const req = encodeCheckRequest(alice, { txId: TX, priority: 2130706431, controlling: true, tieBreaker: 0x0102030405060708n, nominate: true });
    expect(hex(req)).toBe(hex(vectors.get('request')!));
    expect(decodeCheck(bob, vectors.get('request')!)).toEqual({ kind: 'request', txId: TX, priority: 2130706431, controlling: true, tieBreaker: 0x0102030405060708n, nominate: true });
  });
  it('response: documented bytes both ways', () => {
    const resp = encodeCheckResponse(bob, { txId: TX, mapped: { address: '198.51.100.2', port: 40000 } });
    expect(hex(resp)).toBe(hex(vectors.get('response')!));
    expect(decodeCheck(alice, vectors.get('response')!)).toEqual({ kind: 'response', txId: TX, mapped: { address: '198.51.100.2', port: 40000 } });
  });
  it('refuses checks for another session, with another password, tampered or without fingerprint', () => {
    const req = vectors.get('request')!;
    expect(decodeCheck({ ...bob, localUfrag: 'carl' }, req)).toMatchObject({ kind: 'invalid', reason: /USERNAME/ });
    expect(decodeCheck({ ...bob, localPassword: 'wrong-password-000000000' }, req)).toMatchObject({ kind: 'invalid', reason: /INTEGRITY/ });
    expect(decodeCheck(alice, vectors.get('response')!.map((b, i) => (i === 30 ? b ^ 1 : b)))).toMatchObject({ kind: 'invalid' });
    expect(decodeCheck(bob, req.subarray(0, req.length - 8))).toMatchObject({ kind: 'invalid' });
    expect(decodeCheck(bob, Uint8Array.of(1, 2, 3))).toMatchObject({ kind: 'invalid' });
    expect(() => encodeCheckRequest(alice, { txId: 'xyz', priority: 1, controlling: false, tieBreaker: 0n, nominate: false })).toThrow(RangeError);
  });
  it('never throws on hostile input', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (b) => { decodeCheck(bob, b); }), { numRuns: 2000 });
  });
});

describe('demultiplexing one UDP socket', () => {
  it('tells STUN, relay, gossip and transport apart by the first byte', () => {
    expect(classifyDatagram(vectors.get('request')!)).toBe('stun');
    expect(classifyDatagram(encodeRelayMessage({ type: 'data', sessionId: 1n, payload: new Uint8Array(1) }))).toBe('relay');
    expect(classifyDatagram(encodeGossipMessage({ type: 'shuffle-reply', nonce: 1, entries: [] }))).toBe('gossip');
    expect(classifyDatagram(Uint8Array.of(0x40, 1, 2))).toBe('transport');
    expect(classifyDatagram(Uint8Array.of(0xc0, 1, 2))).toBe('transport');
    expect(classifyDatagram(Uint8Array.of(0xe0, 1, 2))).toBe('transport');
    expect(classifyDatagram(Uint8Array.of(0x80))).toBe('unknown');
    expect(classifyDatagram(new Uint8Array(0))).toBe('unknown');
  });
  it('refusal: an error response with 403 and the reason, authenticated with the refusing side\'s password', () => {
    const ref = encodeCheckRefusal(bob, { txId: TX, reason: 'key-changed' });
    expect(classifyDatagram(ref)).toBe('stun');
    expect(decodeCheck(alice, ref)).toEqual({ kind: 'refusal', txId: TX, reason: 'key-changed' });
    // Someone without bob's password (another rendezvous, an off-path attacker) cannot refuse for him.
    const other = { ...alice, remotePassword: 'another-rendezvous-pass' };
    expect(decodeCheck(other, ref)).toMatchObject({ kind: 'invalid', reason: 'bad MESSAGE-INTEGRITY' });
    const tampered = Uint8Array.from(ref);
    tampered[30] ^= 1;
    expect(decodeCheck(alice, tampered).kind).toBe('invalid');
  });
});
