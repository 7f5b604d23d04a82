// key-check.ts: the server side of a contact link refuses, inside the handshake, a client
// that proves another static key than the expected one (no keys reach the transport), and
// the refusal reason carries both fingerprints in the documented form.
import { describe, it, expect } from 'vitest';
import { generateIdentity, noiseCrypto, fingerprint } from '../../src/session/index.ts';
import { keyCheckedCrypto, keyMismatchFromReason, keyMismatchReason, KeyMismatchError } from '../../src/overlay/key-check.ts';
import { PeerError } from '../../src/overlay/peer-api.ts';

const cid = new Uint8Array(8).fill(1);

function handshake(clientId: ReturnType<typeof generateIdentity>, serverId: ReturnType<typeof generateIdentity>, expectedClient: Uint8Array) {
  const presented: Uint8Array[] = [];
  const server = keyCheckedCrypto(noiseCrypto(serverId), expectedClient, (k) => presented.push(k)).server({ clientCid: cid });
  const client = noiseCrypto(clientId).client({ serverStatic: serverId.publicKey, clientCid: cid });
  const m1 = client.start!(0);
  return { presented, run: () => server.handlePayload(0, m1) };
}

describe('keyCheckedCrypto (server side)', () => {
  it('accepts the expected client key (IK message 1 -> message 2 and keys)', () => {
    const alice = generateIdentity(), bob = generateIdentity();
    const h = handshake(alice, bob, alice.publicKey);
    const r = h.run();
    expect(r.send).toBeDefined();
    expect(r.keys).toBeDefined();
    expect(Buffer.from(r.peerStatic!).equals(Buffer.from(alice.publicKey))).toBe(true);
    expect(h.presented).toEqual([]);
  });

  it('refuses another client key: throws with both fingerprints, reports the presented key, returns no keys', () => {
    const alice = generateIdentity(), bob = generateIdentity(), expected = generateIdentity().publicKey;
    const h = handshake(alice, bob, expected);
    let thrown: Error | undefined;
    try { h.run(); } catch (e) { thrown = e as Error; }
    expect(thrown?.message).toBe(`key-mismatch expected=${fingerprint(expected)} presented=${fingerprint(alice.publicKey)}`);
    expect(h.presented.map((k) => fingerprint(k))).toEqual([fingerprint(alice.publicKey)]);
    // The caller reads both back from the close reason the transport sends ("handshake failed: <message>").
    expect(keyMismatchFromReason(`connection closed by peer: handshake failed: ${thrown!.message} (code 0x100)`)).toEqual({ expected: fingerprint(expected), presented: fingerprint(alice.publicKey) });
  });

  it('reason format and the typed error', () => {
    const a = new Uint8Array(32).fill(1), b = new Uint8Array(32).fill(2);
    expect(keyMismatchFromReason(keyMismatchReason(a, b))).toEqual({ expected: fingerprint(a), presented: fingerprint(b) });
    expect(keyMismatchFromReason('handshake failed: peer static key not accepted')).toBeUndefined();
    const e = new KeyMismatchError('refused', 'bob', 'ab'.repeat(16), fingerprint(a), fingerprint(b), 'm');
    expect(e).toBeInstanceOf(PeerError);
    expect(e).toMatchObject({ code: 'refused', contact: 'bob', name: 'KeyMismatchError' });
    expect(() => keyCheckedCrypto(noiseCrypto(generateIdentity()), new Uint8Array(31), () => {})).toThrow(RangeError);
  });
});
