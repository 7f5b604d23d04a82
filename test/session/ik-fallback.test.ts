// IK -> XX fallback (docs/protocol/session.md §Fallback): a client whose cached
// server key is stale (the server rotated its identity file) still connects,
// one RTT later, over XX on the same connection, and learns the new key, which
// it verifies like any XX key (here: against the directory-published
// fingerprint). No downgrade: without approval a different key is refused
// before the client sends its own static key; a forged FALLBACK or an altered
// IK message 1 makes the handshake fail; the fallback happens at most once.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, unlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pair, Collector } from '../transport/pair.ts';
import { noiseCrypto, fingerprint, loadOrCreateIdentity, IDENTITY_FILE, FALLBACK, type NoiseCryptoProvider, type HandshakeKind, type PeerInfo } from '../../src/session/index.ts';
import { HandshakeState } from '../../src/session/noise/handshake-state.ts';
import { PATTERNS } from '../../src/session/noise/patterns.ts';
import { fallbackPrologue, frameFirst, parseFirst, prologueFor } from '../../src/session/framing.ts';
import { SessionError } from '../../src/session/errors.ts';
import { seededBytes, testIdentity } from './helpers.ts';

const alice = testIdentity(1);
const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : undefined);
const cid = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

/** A server identity written to disk, then rotated (key file removed, a new one created on the next start). */
function rotatedServer() {
  const dir = mkdtempSync(join(tmpdir(), 'tincan-rotate-'));
  const before = loadOrCreateIdentity(dir);
  unlinkSync(join(dir, IDENTITY_FILE));
  const after = loadOrCreateIdentity(dir);
  const mode = statSync(join(dir, IDENTITY_FILE)).mode & 0o777;
  rmSync(dir, { recursive: true, force: true });
  return { before, after, mode };
}

const errCode = (f: () => unknown): string | undefined => {
  try { f(); } catch (e) { return e instanceof SessionError ? e.code : `not a SessionError: ${(e as Error).message}`; }
  return undefined;
};

describe('IK -> XX fallback inside the transport handshake', () => {
  it('a real rotated server key: the client falls back to XX, verifies the new key against the directory fingerprint, and sends data after 2 RTTs', () => {
    const { before, after, mode } = rotatedServer();
    expect(mode).toBe(0o600);
    expect(hex(before.publicKey)).not.toBe(hex(after.publicKey));
    const directoryFingerprint = fingerprint(after.publicKey); // what the directory publishes now
    const seen: { kind: HandshakeKind; info: PeerInfo }[] = [];
    const cp = noiseCrypto(alice, {
      random: seededBytes(5),
      acceptPeer: (k, kind, info) => { seen.push({ kind, info }); return !info.fallback || fingerprint(k) === directoryFingerprint; },
    });
    const sp = noiseCrypto(after, { random: seededBytes(6) });
    const p = new Pair({ client: { crypto: cp }, server: { crypto: sp }, seed: 5 });
    const c = p.connect({ serverStatic: before.publicKey }); // the stale cached key
    const id = c.openStream()!;
    c.write(id, new TextEncoder().encode('hello after rotation'));
    c.finish(id);
    const cc = new Collector(c);
    expect(p.driveUntil(() => cc.poll().has('connected'))).toBe(true);
    expect(p.time).toBe(4 * p.latencyMs); // IK m1 -> FALLBACK, XX m1 -> m2: two round trips
    expect(hex(c.peerStatic)).toBe(hex(after.publicKey));
    expect(seen).toHaveLength(1);
    expect(seen[0].kind).toBe('XX');
    expect(seen[0].info.fallback).toBe(true);
    expect(hex(seen[0].info.expected)).toBe(hex(before.publicKey));
    expect(p.driveUntil(() => !!p.accepted())).toBe(true);
    const sc = new Collector(p.accepted()!);
    expect(p.driveUntil(() => sc.poll().finished.has(id))).toBe(true);
    expect(sc.bytes(id).toString()).toBe('hello after rotation');
    expect(hex(p.accepted()!.peerStatic)).toBe(hex(alice.publicKey));
    expect(cp.stats).toMatchObject({ fallbacks: 1, handshakesStarted: 1, handshakesCompleted: 1, handshakesFailed: 0 });
    expect(sp.stats).toMatchObject({ fallbacks: 1, handshakesStarted: 1, handshakesCompleted: 1, handshakesFailed: 0 });
    // IK es (1 DH) + XX ee, es, se (3): the fallback costs the server no more DH than IK does (4)
    expect(sp.stats.dh).toBe(4);
    for (const l of p.log) expect(Buffer.from(l.bytes).includes('hello after rotation')).toBe(false);
  });

  it('through a Retry: Retry, FALLBACK and XX each cost one round trip; the key is still checked', () => {
    const { before, after } = rotatedServer();
    const cp = noiseCrypto(alice, { random: seededBytes(30), acceptPeer: (k, _kind, info) => !info.fallback || fingerprint(k) === fingerprint(after.publicKey) });
    const sp = noiseCrypto(after, { random: seededBytes(31) });
    const p = new Pair({ client: { crypto: cp }, server: { crypto: sp, retry: true, tokenSecret: new Uint8Array(32).fill(9) }, seed: 30 });
    const c = p.connect({ serverStatic: before.publicKey });
    const cc = new Collector(c);
    expect(p.driveUntil(() => cc.poll().has('connected'))).toBe(true);
    expect(p.server.stats.retriesSent).toBe(1);
    expect(p.time).toBe(6 * p.latencyMs);
    expect(hex(c.peerStatic)).toBe(hex(after.publicKey));
    expect(p.driveUntil(() => !!p.accepted()?.peerStatic)).toBe(true);
    expect(hex(p.accepted()!.peerStatic)).toBe(hex(alice.publicKey));
    expect(sp.stats).toMatchObject({ fallbacks: 1, handshakesCompleted: 1, handshakesFailed: 0 });
  });

  it('a stale key and nobody approves the new one: refused with key-changed before the client reveals its static key', () => {
    const { before, after } = rotatedServer();
    const cp = noiseCrypto(alice, { random: seededBytes(7) });
    const sp = noiseCrypto(after, { random: seededBytes(8) });
    const p = new Pair({ client: { crypto: cp }, server: { crypto: sp }, seed: 7 });
    const c = p.connect({ serverStatic: before.publicKey });
    const cc = new Collector(c);
    expect(p.driveUntil(() => cc.poll().has('closed'), 20_000)).toBe(true);
    const closed = cc.events.find((e) => e.type === 'closed') as { reason: string; remote: boolean };
    expect(closed.remote).toBe(false);
    expect(closed.reason).toMatch(/IK fell back to XX and the server proved another static key \(fingerprint [A-Z2-7-]+\)/);
    expect(closed.reason).toContain(fingerprint(after.publicKey));
    expect(cp.stats).toMatchObject({ fallbacks: 1, handshakesFailed: 1, handshakesCompleted: 0 });
    expect(sp.stats.handshakesCompleted).toBe(0); // message 3 (the client's static) was never sent
    for (const l of p.log) expect(Buffer.from(l.bytes).includes(Buffer.from(alice.publicKey))).toBe(false);
  });

  it('an IK message 1 altered on the path: the server asks for the fallback, but the binding makes XX fail (no silent replacement)', () => {
    const bob = testIdentity(2);
    const c = noiseCrypto(alice, { random: seededBytes(9) }).client({ serverStatic: bob.publicKey, clientCid: cid });
    const m1 = c.start!(0);
    const s = noiseCrypto(bob, { random: seededBytes(10) }).server({ clientCid: cid });
    const altered = m1.slice(); altered[40] ^= 0x40; // inside the encrypted static key: the server cannot decrypt it
    expect(s.handlePayload(0, altered).send).toEqual(FALLBACK);
    const x1 = c.handlePayload(0, FALLBACK).send!;
    expect(parseFirst(x1).kind).toBe('XX-fallback');
    const r2 = s.handlePayload(0, x1); // the server's prologue hashes the altered message, the client's the one it sent
    expect(errCode(() => c.handlePayload(0, r2.send!))).toBe('decrypt');
  });

  it('an attacker forging FALLBACK and answering as an XX responder with its own key is refused (no downgrade)', () => {
    const bob = testIdentity(2), mallory = testIdentity(66);
    for (const approve of [false, true]) {
      const cp = noiseCrypto(alice, {
        random: seededBytes(13),
        ...(approve ? { acceptPeer: (k: Uint8Array, _kind: HandshakeKind, info: PeerInfo) => !info.fallback || fingerprint(k) === fingerprint(bob.publicKey) } : {}),
      });
      const c = cp.client({ serverStatic: bob.publicKey, clientCid: cid });
      const m1 = c.start!(0);
      // mallory saw message 1, so she can compute the fallback prologue and run XX with her key
      const evil = new HandshakeState({ pattern: PATTERNS.XX, initiator: false, prologue: fallbackPrologue(prologueFor(cid), m1), s: mallory, random: seededBytes(14) });
      const x1 = c.handlePayload(0, FALLBACK).send!;
      evil.readMessage(parseFirst(x1).message);
      const m2 = evil.writeMessage();
      expect(errCode(() => c.handlePayload(0, m2))).toBe(approve ? 'rejected' : 'key-changed');
      expect(cp.stats).toMatchObject({ fallbacks: 1, handshakesFailed: 1, handshakesCompleted: 0 });
    }
  });

  it('a forged FALLBACK cannot make a server run XX: the server never sent one, so it refuses the fallback message 1', () => {
    const bob = testIdentity(2);
    const c = noiseCrypto(alice, { random: seededBytes(15) }).client({ serverStatic: bob.publicKey, clientCid: cid });
    c.start!(0); // message 1 dropped by the attacker
    const x1 = c.handlePayload(0, FALLBACK).send!;
    const sp = noiseCrypto(bob, { random: seededBytes(16) });
    expect(errCode(() => sp.server({ clientCid: cid }).handlePayload(0, x1))).toBe('framing');
    // and a server that answered IK normally treats a later fallback message as a protocol error
    const c2 = noiseCrypto(alice, { random: seededBytes(17) }).client({ serverStatic: bob.publicKey, clientCid: cid });
    const s2 = sp.server({ clientCid: cid });
    const r1 = s2.handlePayload(0, c2.start!(0));
    expect(r1.keys).toBeDefined();
    expect(errCode(() => s2.handlePayload(0, frameFirst('XX-fallback', new Uint8Array(32))))).toBe('state');
  });

  it('at most one fallback per handshake; only an undecryptable IK message 1 triggers it', () => {
    const bob = testIdentity(2), other = testIdentity(3);
    const s = noiseCrypto(bob, { random: seededBytes(18) }).server({ clientCid: cid });
    const c = noiseCrypto(alice, { random: seededBytes(19) }).client({ serverStatic: other.publicKey, clientCid: cid });
    expect(s.handlePayload(0, c.start!(0)).send).toEqual(FALLBACK);
    // after FALLBACK the server wants the XX fallback message 1, nothing else (no second IK attempt)
    const again = noiseCrypto(alice, { random: seededBytes(20) }).client({ serverStatic: other.publicKey, clientCid: cid }).start!(0);
    expect(errCode(() => s.handlePayload(0, again))).toBe('framing');
    // a client follows FALLBACK once: a second one (instead of XX message 2) is a failed handshake
    const c3 = noiseCrypto(alice, { random: seededBytes(21) }).client({ serverStatic: other.publicKey, clientCid: cid });
    c3.start!(0);
    c3.handlePayload(0, FALLBACK);
    expect(errCode(() => c3.handlePayload(0, FALLBACK))).toBe('truncated');
    // XX clients never follow FALLBACK
    const xx = noiseCrypto(alice, { random: seededBytes(22) }).client({ clientCid: cid });
    xx.start!(0);
    expect(errCode(() => xx.handlePayload(0, FALLBACK))).toBe('truncated');
    // a truncated IK message 1 is not a stale key: no fallback, the handshake fails
    const c4 = noiseCrypto(alice, { random: seededBytes(23) }).client({ serverStatic: bob.publicKey, clientCid: cid });
    const short = c4.start!(0).subarray(0, 40);
    expect(errCode(() => noiseCrypto(bob).server({ clientCid: cid }).handlePayload(0, short))).toBe('truncated');
  });

  it('the server may refuse the client key after a fallback too (acceptPeer sees info.fallback)', () => {
    const bob = testIdentity(2);
    const infos: PeerInfo[] = [];
    const sp: NoiseCryptoProvider = noiseCrypto(bob, { random: seededBytes(24), acceptPeer: (_k, _kind, info) => { infos.push(info); return false; } });
    const s = sp.server({ clientCid: cid });
    const c = noiseCrypto(alice, { random: seededBytes(25), acceptPeer: () => true }).client({ serverStatic: testIdentity(3).publicKey, clientCid: cid });
    expect(s.handlePayload(0, c.start!(0)).send).toEqual(FALLBACK);
    const r2 = s.handlePayload(0, c.handlePayload(0, FALLBACK).send!);
    const r3 = c.handlePayload(0, r2.send!);
    expect(r3.keys).toBeDefined();
    expect(errCode(() => s.handlePayload(0, r3.send!))).toBe('rejected');
    expect(infos).toEqual([{ fallback: true }]);
  });
});
