// The Noise CryptoProvider driven directly (no transport): message counts and
// sizes of XX and IK, the authenticated peer keys, matching packet keys, and
// typed errors (never a crash) for truncated, garbled or misrouted messages.
import { describe, it, expect } from 'vitest';
import { noiseCrypto, SessionError, KIND_IK, KIND_XX, FALLBACK } from '../../src/session/index.ts';
import type { CryptoHandshake, HandshakeResult } from '../../src/transport/crypto.ts';
import { seededBytes, testIdentity } from './helpers.ts';
import { seededRandom } from '../../src/transport/random.ts';

const alice = testIdentity(1), bob = testIdentity(2), mallory = testIdentity(3);
const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : undefined);

/** 'ok', or the SessionError code thrown (anything else is rethrown). */
const errors = (f: () => unknown): string => {
  try { f(); return 'ok'; } catch (e) {
    if (!(e instanceof SessionError)) throw e;
    return e.code;
  }
};

function run(client: CryptoHandshake, server: CryptoHandshake) {
  const m1 = client.start!(0);
  const s1 = server.handlePayload(0, m1);
  const c2 = client.handlePayload(0, s1.send!);
  const s3: HandshakeResult | undefined = c2.send ? server.handlePayload(0, c2.send) : undefined;
  return { m1, s1, c2, s3, serverResult: s3 ?? s1 };
}

function roundTrip(a: HandshakeResult, b: HandshakeResult) {
  const header = Uint8Array.of(1, 2, 3);
  const msg = new TextEncoder().encode('hello over noise');
  const sealed = a.keys!.send.seal(7, header, msg);
  expect(sealed.length).toBe(msg.length + a.keys!.send.overhead);
  expect(Buffer.from(b.keys!.recv.open(7, header, sealed)!).toString()).toBe('hello over noise');
  const back = b.keys!.send.seal(0, header, msg);
  expect(a.keys!.recv.open(0, header, back)).toBeDefined();
}

describe('noiseCrypto handshakes', () => {
  it('XX (no serverStatic): 3 messages, both sides learn the other static key', () => {
    const pa = noiseCrypto(alice, { random: seededBytes(10) }), pb = noiseCrypto(bob, { random: seededBytes(11) });
    const r = run(pa.client({}), pb.server());
    expect(r.m1[0]).toBe(KIND_XX);
    expect(r.m1.length).toBe(1 + 32);
    expect(r.s1.keys).toBeUndefined();
    expect(r.s1.send!.length).toBe(32 + 48 + 16);
    expect(r.c2.send!.length).toBe(48 + 16);
    expect(hex(r.c2.peerStatic)).toBe(hex(bob.publicKey));
    expect(hex(r.s3!.peerStatic)).toBe(hex(alice.publicKey));
    roundTrip(r.c2, r.s3!);
    expect(pa.stats.dh).toBe(3); // ee, es, se
    expect(pb.stats.dh).toBe(3);
    expect(pa.stats.handshakesCompleted + pb.stats.handshakesCompleted).toBe(2);
  });

  it('IK (serverStatic known): 2 messages, server keys after message 1', () => {
    const pa = noiseCrypto(alice, { random: seededBytes(10) }), pb = noiseCrypto(bob, { random: seededBytes(11) });
    const r = run(pa.client({ serverStatic: bob.publicKey }), pb.server());
    expect(r.m1[0]).toBe(KIND_IK);
    expect(r.m1.length).toBe(1 + 32 + 48 + 16);
    expect(r.s1.keys).toBeDefined();
    expect(hex(r.s1.peerStatic)).toBe(hex(alice.publicKey));
    expect(r.c2.send).toBeUndefined();
    expect(hex(r.c2.peerStatic)).toBe(hex(bob.publicKey));
    roundTrip(r.c2, r.s1);
    expect(pa.stats.dh).toBe(4); // es, ss, ee, se
  });

  it('IK to the wrong server key: the server asks for the XX fallback, the client refuses the unexpected key (typed error)', () => {
    const pa = noiseCrypto(alice), pm = noiseCrypto(mallory);
    const c = pa.client({ serverStatic: bob.publicKey });
    const s = pm.server();
    const r1 = s.handlePayload(0, c.start!(0));
    expect(r1.send).toEqual(FALLBACK);
    expect(r1.keys).toBeUndefined();
    const r2 = s.handlePayload(0, c.handlePayload(0, r1.send!).send!);
    expect(errors(() => c.handlePayload(0, r2.send!))).toBe('key-changed');
    expect(pm.stats).toMatchObject({ fallbacks: 1, handshakesFailed: 0, handshakesCompleted: 0 });
    expect(pa.stats).toMatchObject({ fallbacks: 1, handshakesFailed: 1, handshakesCompleted: 0 });
  });

  it('acceptPeer can refuse a device', () => {
    const pa = noiseCrypto(alice);
    const pb = noiseCrypto(bob, { acceptPeer: (k) => hex(k) !== hex(alice.publicKey) });
    expect(() => run(pa.client({}), pb.server())).toThrow(/not accepted/);
    expect(() => run(pa.client({ serverStatic: bob.publicKey }), pb.server())).toThrow(/not accepted/);
  });

  it('rejects messages out of turn, after completion, and a bad serverStatic', () => {
    const pa = noiseCrypto(alice), pb = noiseCrypto(bob);
    const c = pa.client({ serverStatic: bob.publicKey });
    expect(() => c.handlePayload(0, new Uint8Array(48))).toThrow(SessionError);
    expect(() => pa.client({ serverStatic: new Uint8Array(31) })).toThrow(/32 bytes/);
    const r = run(pa.client({}), pb.server());
    void r;
    const c2 = pa.client({ serverStatic: bob.publicKey });
    const s2 = pb.server();
    const x = s2.handlePayload(0, c2.start!(0));
    c2.handlePayload(0, x.send!);
    expect(() => c2.handlePayload(0, x.send!)).toThrow(/after completion/);
  });
});

describe('hostile handshake input never crashes', () => {

  it('every truncation of every message gives a SessionError', () => {
    for (const serverStatic of [undefined, bob.publicKey]) {
      const pa = noiseCrypto(alice, { random: seededBytes(5) }), pb = noiseCrypto(bob, { random: seededBytes(6) });
      const c = pa.client({ serverStatic });
      const m1 = c.start!(0);
      for (let n = 0; n < m1.length; n++) {
        const code = errors(() => pb.server().handlePayload(0, m1.subarray(0, n)));
        // XX message 1 is `e` plus a plaintext payload: any 33+ bytes parse
        if (!(serverStatic === undefined && n >= 33)) expect(code, `m1[0..${n}]`).not.toBe('ok');
      }
      const s = pb.server();
      const m2 = s.handlePayload(0, m1).send!;
      for (let n = 0; n < m2.length; n++) {
        const cc = noiseCrypto(alice, { random: seededBytes(5) }).client({ serverStatic });
        cc.start!(0);
        expect(errors(() => cc.handlePayload(0, m2.subarray(0, n))), `m2[0..${n}]`).not.toBe('ok');
      }
    }
  });

  it('3,000 random bit flips and random messages: SessionError, FALLBACK (IK m1) or (XX m1 only) accepted, never a crash', () => {
    const seed = 4242;
    const rnd = seededRandom(seed);
    try {
      const pa = noiseCrypto(alice), pb = noiseCrypto(bob);
      for (let i = 0; i < 3_000; i++) {
        const ik = rnd.nextU32() & 1 ? bob.publicKey : undefined;
        const c = pa.client({ serverStatic: ik });
        const m1 = c.start!(0);
        const which = rnd.nextU32() % 3;
        if (which === 0) {
          const bad = m1.slice(); bad[1 + (rnd.nextU32() % (bad.length - 1))] ^= 1 << (rnd.nextU32() % 8);
          let res: HandshakeResult | undefined;
          const code = errors(() => { res = pb.server().handlePayload(0, bad); });
          // IK: never accepted; an undecryptable message 1 is answered with FALLBACK (no keys)
          if (ik && code === 'ok') { expect(res!.send).toEqual(FALLBACK); expect(res!.keys).toBeUndefined(); }
        } else if (which === 1) {
          const s = pb.server();
          const m2 = s.handlePayload(0, m1).send!.slice();
          m2[rnd.nextU32() % m2.length] ^= 1 << (rnd.nextU32() % 8);
          expect(errors(() => c.handlePayload(0, m2))).not.toBe('ok');
        } else {
          const junk = rnd.fill(new Uint8Array(rnd.nextU32() % 200));
          errors(() => pb.server().handlePayload(0, junk));
          errors(() => c.handlePayload(0, junk));
        }
      }
    } catch (e) { throw new Error(`seed ${seed}: ${(e as Error).message}`); }
  });

  it('unknown kind byte and empty message: framing errors', () => {
    const pb = noiseCrypto(bob);
    expect(errors(() => pb.server().handlePayload(0, new Uint8Array(0)))).toBe('framing');
    expect(errors(() => pb.server().handlePayload(0, Uint8Array.of(9, ...new Uint8Array(32))))).toBe('framing');
  });

  it('a low-order point as ephemeral key is a bad-key error', () => {
    const pb = noiseCrypto(bob);
    const m1 = Uint8Array.of(KIND_XX, ...new Uint8Array(32)); // the all-zero point
    expect(errors(() => pb.server().handlePayload(0, m1))).toBe('bad-key');
  });
});
