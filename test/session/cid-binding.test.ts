// The Noise handshake is bound to the transport connection: the prologue
// carries the client's source connection ID (docs/protocol/session.md
// §Prologue), so a handshake message replayed or spliced into a connection
// with another client CID fails authentication (for IK message 1 the server
// can only answer FALLBACK, and the XX fallback is bound to the CID too), both
// when the provider is driven directly and when a captured Initial is re-sent
// under new connection IDs to a real endpoint. Also: the binding survives a Retry, and 1 RTT holds.
// The server's connection ID travels in message 2's encrypted payload: a
// client whose transport adopted another server CID (an SCID rewritten on the
// path) fails the handshake with 'connection-id'.
import { describe, it, expect } from 'vitest';
import { noiseCrypto, prologueFor, SessionError, FALLBACK } from '../../src/session/index.ts';
import { decodeExtensions, EXT_SERVER_CID } from '../../src/session/framing.ts';
import { encodeLongPacket, parseDatagram } from '../../src/transport/wire/header.ts';
import { Pair, Collector } from '../transport/pair.ts';
import { seededBytes, testIdentity } from './helpers.ts';

const alice = testIdentity(1), bob = testIdentity(2);
const cidA = Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1), cidB = Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 2);
const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : undefined);
const authFails = (f: () => unknown) => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(SessionError); expect((e as SessionError).message).toMatch(/authentication/); return; }
  throw new Error('expected an authentication failure');
};

describe('prologue layout', () => {
  it('label || len || client CID', () => {
    expect(hex(prologueFor(cidA))).toBe(Buffer.from('tincan/session/1').toString('hex') + '08' + '0101010101010101');
    expect(hex(prologueFor())).toBe(Buffer.from('tincan/session/1').toString('hex') + '00');
    expect(() => prologueFor(new Uint8Array(256))).toThrow(SessionError);
  });
});

describe('handshake messages are bound to the client connection ID', () => {
  it('IK: message 1 spliced into a connection with another client CID is not accepted (the server can only ask for the XX fallback, bound to its CID too)', () => {
    const pa = noiseCrypto(alice, { random: seededBytes(20) }), pb = noiseCrypto(bob, { random: seededBytes(21) });
    const cA = pa.client({ serverStatic: bob.publicKey, clientCid: cidA });
    const m1 = cA.start!(0);
    const onB = pb.server({ clientCid: cidB });
    const r = onB.handlePayload(0, m1);
    expect(r.send).toEqual(FALLBACK); // could not decrypt: no keys, no peer key
    expect(r.keys).toBeUndefined();
    expect(pb.server().handlePayload(0, m1).send).toEqual(FALLBACK); // a provider not told the CID does not match either
    expect(pb.server({ clientCid: cidA }).handlePayload(0, m1).keys).toBeDefined(); // the right connection still works
    // the honest client on A following B's FALLBACK cannot authenticate B's answer (CID in the prologue)
    const m2 = onB.handlePayload(0, cA.handlePayload(0, FALLBACK).send!).send!;
    authFails(() => cA.handlePayload(0, m2));
    expect(pb.stats).toMatchObject({ fallbacks: 2, handshakesFailed: 0, handshakesCompleted: 1 });
  });

  it('XX: message 2 from a server on another client CID fails at the client; message 3 spliced fails at the server', () => {
    const pa = noiseCrypto(alice, { random: seededBytes(22) }), pb = noiseCrypto(bob, { random: seededBytes(23) });
    // message 1 of XX is a bare ephemeral key (nothing to authenticate yet): a server on B answers it...
    const c1 = pa.client({ clientCid: cidA });
    const m1 = c1.start!(0);
    const onB = pb.server({ clientCid: cidB }).handlePayload(0, m1);
    // ...but the client on A cannot authenticate that answer
    authFails(() => c1.handlePayload(0, onB.send!));
    // an honest run on A, whose message 3 is then spliced into a server on B that saw the same message 1
    const c2 = pa.client({ clientCid: cidA });
    const m1b = c2.start!(0);
    const sA = pb.server({ clientCid: cidA }), sB = pb.server({ clientCid: cidB });
    const m2 = sA.handlePayload(0, m1b).send!;
    sB.handlePayload(0, m1b);
    const m3 = c2.handlePayload(0, m2).send!;
    authFails(() => sB.handlePayload(0, m3));
    expect(hex(sA.handlePayload(0, m3).peerStatic)).toBe(hex(alice.publicKey));
  });
});

describe('inside the transport', () => {
  it('a captured IK Initial re-sent under new connection IDs: the server rejects the handshake, the honest connection is unaffected', () => {
    const cp = noiseCrypto(alice, { random: seededBytes(30) }), sp = noiseCrypto(bob, { random: seededBytes(31) });
    const p = new Pair({ client: { crypto: cp }, server: { crypto: sp }, seed: 30 });
    const c = p.connect({ serverStatic: bob.publicKey });
    expect(p.driveUntil(() => c.handshakeConfirmed)).toBe(true);
    const initial = parseDatagram(p.log.find((l) => l.by === 'client')!.bytes)[0];
    if (initial.form !== 'long' || initial.type !== 'initial') throw new Error('first client datagram is not an Initial');
    // the attacker keeps the payload (CRYPTO frame with message 1 and padding) and picks its own DCID and SCID
    const spliced = encodeLongPacket({ type: 'initial', dcid: Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9), scid: Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7), token: initial.token, pn: initial.pnTruncated, payload: initial.payload });
    expect(spliced.length).toBeGreaterThanOrEqual(1200);
    const accepted = p.server.stats.accepted;
    p.server.handleDatagram(p.time, { address: '198.51.100.66', port: 5000 }, spliced);
    expect(p.server.stats.accepted).toBe(accepted + 1); // the transport took it as a new connection...
    expect(sp.stats.fallbacks).toBe(1); // ...whose IK message 1 did not authenticate: FALLBACK is all it gets
    p.driveUntil(() => false, p.time + 200);
    expect(sp.stats.handshakesCompleted).toBe(1); // only the honest one
    const forged = p.server.connections.find((k) => hex(k.remoteCid) === '0707070707070707');
    expect(forged?.state).not.toBe('established');
    expect(forged?.peerStatic).toBeUndefined();
    expect(c.handshakeConfirmed).toBe(true);
  });

  for (const mode of ['IK', 'XX'] as const) {
    it(`${mode} through a Retry: the client CID survives it, the handshake completes, data after 1 RTT from the retried Initial`, () => {
      const cp = noiseCrypto(alice, { random: seededBytes(40) }), sp = noiseCrypto(bob, { random: seededBytes(41) });
      const p = new Pair({ client: { crypto: cp }, server: { crypto: sp, retry: true, tokenSecret: new Uint8Array(32).fill(5) }, seed: 40 });
      const c = p.connect(mode === 'IK' ? { serverStatic: bob.publicKey } : {});
      const cc = new Collector(c);
      expect(p.driveUntil(() => cc.poll().has('connected'))).toBe(true);
      expect(p.server.stats.retriesSent).toBe(1);
      // Retry costs one round trip; the handshake after it still gives the client keys after one more
      expect(p.time).toBe(4 * p.latencyMs);
      expect(hex(c.peerStatic)).toBe(hex(bob.publicKey));
      expect(p.driveUntil(() => !!p.accepted()?.peerStatic)).toBe(true);
      expect(hex(p.accepted()!.peerStatic)).toBe(hex(alice.publicKey));
      expect(sp.stats.handshakesFailed + cp.stats.handshakesFailed).toBe(0);
    });
  }
});

describe('the server connection ID is authenticated in message 2', () => {
  const sCid = Uint8Array.of(5, 5, 5, 5, 5, 5, 5, 5), other = Uint8Array.of(5, 5, 5, 5, 5, 5, 5, 6);
  const code = (f: () => unknown) => { try { f(); } catch (e) { return (e as SessionError).code; } return 'ok'; };
  for (const mode of ['IK', 'XX'] as const) {
    it(`${mode}: accepted when the adopted server CID matches, 'connection-id' when it differs or is missing`, () => {
      const run = (serverCid: Uint8Array | undefined, adopted: Uint8Array | undefined) => {
        const pa = noiseCrypto(alice, { random: seededBytes(50) }), pb = noiseCrypto(bob, { random: seededBytes(51) });
        const c = pa.client({ serverStatic: mode === 'IK' ? bob.publicKey : undefined, clientCid: cidA });
        const m2 = pb.server({ clientCid: cidA, serverCid }).handlePayload(0, c.start!(0)).send!;
        return code(() => c.handlePayload(0, m2, adopted ? { serverCid: adopted } : undefined));
      };
      expect(run(sCid, sCid)).toBe('ok');
      expect(run(sCid, other)).toBe('connection-id');
      expect(run(undefined, sCid)).toBe('connection-id'); // a server that does not bind it
      expect(run(sCid, undefined)).toBe('ok'); // a caller that does not check (provider used without a transport)
    });
  }

  it('payload extensions: type || len || value; truncated or repeated entries are framing errors', () => {
    expect([...decodeExtensions(Uint8Array.of(1, 2, 9, 9, 7, 0))]).toEqual([[1, Uint8Array.of(9, 9)], [7, new Uint8Array(0)]]);
    expect(() => decodeExtensions(Uint8Array.of(1))).toThrow(/truncated/);
    expect(() => decodeExtensions(Uint8Array.of(1, 3, 0))).toThrow(/truncated/);
    expect(() => decodeExtensions(Uint8Array.of(1, 0, 1, 0))).toThrow(/repeated/);
    expect(EXT_SERVER_CID).toBe(1);
  });

  for (const mode of ['IK', 'XX'] as const) {
    it(`${mode} in the transport: a server SCID rewritten on the path makes the client fail the handshake`, () => {
      const cp = noiseCrypto(alice, { random: seededBytes(52) }), sp = noiseCrypto(bob, { random: seededBytes(53) });
      const p = new Pair({ client: { crypto: cp }, server: { crypto: sp }, seed: 52 });
      let rewritten = 0;
      p.drop = (f, by) => {
        if (by !== 'server' || (f.bytes[0] & 0x80) === 0) return false;
        const pkts = parseDatagram(f.bytes);
        const out = pkts.map((k) => (k.form === 'long' ? encodeLongPacket({ type: k.type, dcid: k.dcid, scid: Uint8Array.of(6, 6, 6, 6, 6, 6, 6, 6), token: k.token, pn: k.pnTruncated, payload: k.payload }) : undefined));
        if (out.some((x) => !x)) return false;
        f.bytes = Buffer.concat(out as Uint8Array[]);
        rewritten++;
        return false;
      };
      const c = p.connect(mode === 'IK' ? { serverStatic: bob.publicKey } : {});
      const cc = new Collector(c);
      expect(p.driveUntil(() => cc.poll().has('closed'), 20_000)).toBe(true);
      expect(rewritten).toBeGreaterThan(0);
      const closed = cc.events.find((e) => e.type === 'closed') as { reason: string };
      expect(closed.reason).toMatch(/handshake failed: the server authenticated another connection ID/);
      expect(cp.stats.handshakesCompleted).toBe(0);
      expect(c.handshakeConfirmed).toBe(false);
    });
  }
});
