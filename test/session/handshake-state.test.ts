// The generic Noise state machine beyond the fixed vectors: for every pattern
// we implement, random payloads and prologues always give both sides the same
// handshake hash, each other's payloads and working transport ciphers; a
// prologue mismatch or a wrong-turn call is a typed error; Noise's 65535-byte
// limit is enforced.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { HandshakeState } from '../../src/session/noise/handshake-state.ts';
import { PATTERNS } from '../../src/session/noise/patterns.ts';
import { SessionError } from '../../src/session/errors.ts';
import { generateKeyPair } from '../../src/session/index.ts';
import { seededBytes } from './helpers.ts';

const SEED = 34;

function sides(name: string, prologueI: Uint8Array, prologueR: Uint8Array, seed: number) {
  const pattern = PATTERNS[name];
  const si = generateKeyPair(seededBytes(seed)), sr = generateKeyPair(seededBytes(seed + 1));
  const iKnowsR = pattern.responderPre.includes('s');
  const rKnowsI = pattern.initiatorPre.includes('s');
  const i = new HandshakeState({ pattern, initiator: true, prologue: prologueI, s: si, rs: iKnowsR ? sr.publicKey : undefined, random: seededBytes(seed + 2) });
  const r = new HandshakeState({ pattern, initiator: false, prologue: prologueR, s: sr, rs: rKnowsI ? si.publicKey : undefined, random: seededBytes(seed + 3) });
  return { i, r, si, sr, pattern };
}

describe('HandshakeState', () => {
  it(`every pattern, random payloads and prologues: both sides agree (300 runs, seed ${SEED})`, () => {
    fc.assert(fc.property(
      fc.constantFrom(...Object.keys(PATTERNS)),
      fc.uint8Array({ maxLength: 40 }),
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 3, maxLength: 3 }),
      fc.integer({ min: 1, max: 1e6 }),
      (name, prologue, payloads, seed) => {
        const { i, r, si, sr, pattern } = sides(name, prologue, prologue, seed);
        for (let k = 0; k < pattern.messages.length; k++) {
          const [w, rd] = k % 2 === 0 ? [i, r] : [r, i];
          const got = rd.readMessage(w.writeMessage(payloads[k]));
          if (Buffer.compare(Buffer.from(got), Buffer.from(payloads[k])) !== 0) return false;
        }
        if (Buffer.compare(Buffer.from(i.handshakeHash()), Buffer.from(r.handshakeHash())) !== 0) return false;
        if (pattern.messages.some((m, k) => k % 2 === 1 && m.includes('s')) || pattern.responderPre.includes('s')) {
          if (Buffer.compare(Buffer.from(i.remoteStatic()!), Buffer.from(sr.publicKey)) !== 0) return false;
        }
        if (pattern.messages.some((m, k) => k % 2 === 0 && m.includes('s')) || pattern.initiatorPre.includes('s')) {
          if (Buffer.compare(Buffer.from(r.remoteStatic()!), Buffer.from(si.publicKey)) !== 0) return false;
        }
        const ci = i.split(), cr = r.split();
        const ad = Uint8Array.of(1);
        const m = ci.send.encryptWithAd(ad, Uint8Array.of(7, 7));
        const back = cr.send.encryptWithAd(ad, Uint8Array.of(8));
        return cr.recv.decryptWithAd(ad, m)?.[0] === 7 && ci.recv.decryptWithAd(ad, back)?.[0] === 8;
      },
    ), { numRuns: 300, seed: SEED });
  });

  it('a prologue mismatch fails at the first authenticated message', () => {
    for (const name of ['XX', 'IK']) {
      const { i, r } = sides(name, Uint8Array.of(1), Uint8Array.of(2), 5);
      let err: unknown;
      try {
        for (let k = 0; k < 3; k++) { const [w, rd] = k % 2 === 0 ? [i, r] : [r, i]; rd.readMessage(w.writeMessage()); }
      } catch (e) { err = e; }
      expect(err).toBeInstanceOf(SessionError);
      expect((err as SessionError).code).toBe('decrypt');
    }
  });

  it('wrong turns, reuse after failure, split before completion and oversize payloads are typed errors', () => {
    const { i, r } = sides('XX', new Uint8Array(0), new Uint8Array(0), 9);
    const code = (f: () => unknown) => { try { f(); return 'ok'; } catch (e) { return e instanceof SessionError ? e.code : `other: ${String(e)}`; } };
    expect(code(() => r.writeMessage())).toBe('state');
    expect(code(() => i.readMessage(new Uint8Array(32)))).toBe('state');
    expect(code(() => i.split())).toBe('state');
    expect(code(() => i.writeMessage(new Uint8Array(65536)))).toBe('too-long');
    expect(code(() => i.writeMessage())).toBe('state'); // failed: never resumed
    const b = sides('XX', new Uint8Array(0), new Uint8Array(0), 10);
    expect(code(() => b.r.readMessage(new Uint8Array(65536)))).toBe('too-long');
    expect(code(() => new HandshakeState({ pattern: PATTERNS.IK, initiator: true, random: seededBytes(1) }))).toBe('state');
  });
});
