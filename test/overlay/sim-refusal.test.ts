// A refused session reaches the caller at once, as PeerError 'refused', with the real Peer
// in the simulator (sim-peer-harness.ts): the callee answers the caller's connectivity
// checks with an authenticated refusal (check-wire.ts) instead of letting it wait for the
// 15 s connect timeout. Two causes, two paths:
//   - key changed: bob pinned alice's device key on a first session; the directory then
//     hands out another key for that device; bob refuses (and reports 'key-changed'),
//     alice's connect() fails over the direct path;
//   - not accepting: bob's accept() hook says no; both behind symmetric NATs, so the
//     refusal comes back through the supernode relay.
// And the handshake side: the directory hands out a key bob's device cannot prove (the
// session layer's IK -> XX fallback finds another static key): 'key-changed' at once; and
// the caller's side of it: the directory hands bob another key for alice's device than the
// one alice holds (no pin yet): bob refuses inside the handshake (key-check.ts), alice's
// connect() rejects with a KeyMismatchError naming bob and both fingerprints — no session
// on either side (it used to be established, then closed by bob).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import { PeerError, type PeerNode } from '../../src/overlay/peer-api.ts';
import { KeyMismatchError } from '../../src/overlay/key-check.ts';
import { fingerprint } from '../../src/session/index.ts';
import { NAT_KINDS } from './nat-model.ts';
import { simWorld, tempStateDirs, PUNCH_DELAY_MS, P2P_RTT_MS, ONE_WAY_TO_SERVERS_MS } from './sim-peer-harness.ts';

const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

async function refusedWithin(w: ReturnType<typeof simWorld>, alice: PeerNode): Promise<{ err: PeerError; afterStartMs: number }> {
  const err = await w.loop.settle(alice.connect('bob'), 20_000).then(() => { throw new Error(`connected\n${w.logs.join('\n')}`); }, (e: unknown) => e);
  expect(err, w.logs.join('\n')).toBeInstanceOf(PeerError);
  const rv = w.dir.rendezvous[w.dir.rendezvous.length - 1];
  return { err: err as PeerError, afterStartMs: w.net.clock.now() - (rv.at + ONE_WAY_TO_SERVERS_MS + PUNCH_DELAY_MS) };
}

describe('a refusing callee (real Peer, simulated network)', () => {
  it('key changed: the caller gets PeerError refused within a few RTTs, over the direct path', { timeout: 30_000 }, async () => {
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], 7, (n) => dirs.dir(`key-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      const first = await w.loop.settle(alice.connect('bob'), 15_000);
      expect(first.path.kind).toBe('direct');
      expect(await w.loop.until(() => bob.sessions().length === 1, 2_000)).toBe(true);
      const closedAt = w.net.clock.now();
      first.close();
      // alice's CONNECTION_CLOSE reaches bob (it used to die with her link: bob noticed only when
      // every pair had died, 3.4 s later).
      expect(await w.loop.until(() => bob.sessions().length === 0 && alice.sessions().length === 0, 10_000)).toBe(true);
      expect(w.net.clock.now() - closedAt).toBeLessThan(P2P_RTT_MS);
      const changed: string[] = [];
      bob.on('key-changed', (c) => changed.push(c.username));
      w.dir.setDeviceKey('alice', new Uint8Array(32).fill(7));
      const { err, afterStartMs } = await refusedWithin(w, alice);
      expect(err.code, `${err.message}\n${w.logs.join('\n')}`).toBe('refused');
      expect(err.message).toMatch(/bob refused the session: it has a different key pinned/);
      expect(changed).toEqual(['alice']);
      expect(afterStartMs / P2P_RTT_MS).toBeLessThan(3);
      console.log(`key changed: refused ${(afterStartMs / P2P_RTT_MS).toFixed(1)} RTTs after the coordinated start (${afterStartMs.toFixed(0)} ms; was the 15 s timeout)`);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });

  it('not accepting: refused through the relay between two symmetric NATs', { timeout: 30_000 }, async () => {
    const w = simWorld(NAT_KINDS.APDM, NAT_KINDS.APDM, 8, (n) => dirs.dir(`acc-${n}`));
    const asked: string[] = [];
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob', { accept: (c) => { asked.push(c.username); return false; } })]);
    try {
      let sessions = 0;
      bob.on('session', () => sessions++);
      const { err, afterStartMs } = await refusedWithin(w, alice);
      expect(err.code).toBe('refused');
      expect(err.message).toMatch(/not accepting/);
      expect(asked).toEqual(['alice']);
      expect(sessions).toBe(0);
      expect(w.supernode.counters().relay.forwardedPackets).toBeGreaterThan(0);
      expect(afterStartMs / P2P_RTT_MS).toBeLessThan(6);
      console.log(`not accepting (relayed): refused ${(afterStartMs / P2P_RTT_MS).toFixed(1)} RTTs after the coordinated start (${afterStartMs.toFixed(0)} ms)`);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });

  it('the directory gives a key the device cannot prove: connect() fails as key-changed, not at the timeout', { timeout: 30_000 }, async () => {
    const w = simWorld(NAT_KINDS['EIM/EIF'], NAT_KINDS['EIM/EIF'], 7, (n) => dirs.dir(`dirkey-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      w.dir.setDeviceKey('bob', new Uint8Array(32).fill(9));
      const { err, afterStartMs } = await refusedWithin(w, alice);
      expect(err.code, err.message).toBe('key-changed');
      // Typed, with both fingerprints: the directory's key and the one bob's device proved (after the IK -> XX fallback).
      expect(err).toBeInstanceOf(KeyMismatchError);
      const bobKey = JSON.parse(readFileSync(join(dirs.dir('dirkey-bob'), 'device.json'), 'utf8')) as { x25519: string };
      expect(err).toMatchObject({ contact: 'bob', expectedFingerprint: fingerprint(new Uint8Array(32).fill(9)), presentedFingerprint: fingerprint(Buffer.from(bobKey.x25519, 'base64url')) });
      expect(afterStartMs / P2P_RTT_MS).toBeLessThan(6);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });

  it('the directory gives bob a key for alice that she cannot prove: refused in the handshake, before any session exists', { timeout: 30_000 }, async () => {
    const w = simWorld(NAT_KINDS['EIM/EIF'], NAT_KINDS['EIM/EIF'], 9, (n) => dirs.dir(`callerkey-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      const bogus = new Uint8Array(32).fill(5);
      w.dir.setDeviceKey('alice', bogus); // what bob is told alice's device key is
      const changed: string[] = [];
      bob.on('key-changed', (c) => changed.push(c.username));
      let bobSessions = 0;
      bob.on('session', () => bobSessions++);
      const { err, afterStartMs } = await refusedWithin(w, alice);
      expect(err, `${err.message}\n${w.logs.join('\n')}`).toBeInstanceOf(KeyMismatchError);
      const km = err as KeyMismatchError;
      expect(km.code).toBe('refused');
      expect(km.contact).toBe('bob');
      expect(km.expectedFingerprint).toBe(fingerprint(bogus));
      const aliceKey = JSON.parse(readFileSync(join(dirs.dir('callerkey-alice'), 'device.json'), 'utf8')) as { x25519: string };
      expect(km.presentedFingerprint).toBe(fingerprint(Buffer.from(aliceKey.x25519, 'base64url')));
      expect(km.message).toContain(km.expectedFingerprint);
      expect(km.message).toContain(km.presentedFingerprint);
      // bob reported it and never had a session; alice never got one either.
      expect(changed).toEqual(['alice']);
      expect(await w.loop.until(() => false, 200)).toBe(false);
      expect(bobSessions).toBe(0);
      expect(bob.sessions()).toEqual([]);
      expect(alice.sessions()).toEqual([]);
      expect(w.logs.some((l) => l.includes('bob: key of alice') && l.includes(km.presentedFingerprint))).toBe(true);
      // Refused within the handshake (+ one handshake PTO: a close in a handshake packet is held that long), not at the 15 s timeout.
      expect(afterStartMs).toBeLessThan(2_000);
      console.log(`caller key mismatch: refused ${afterStartMs.toFixed(0)} ms after the coordinated start (${km.message})`);
      // bob did not pin the key alice could not prove: once the directory hands out her real key again, she connects.
      w.dir.setDeviceKey('alice', Buffer.from(aliceKey.x25519, 'base64url'));
      const s = await w.loop.settle(alice.connect('bob'), 15_000);
      expect(s.closed).toBe(false);
      expect(changed).toEqual(['alice']);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });
});
