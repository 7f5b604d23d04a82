// Checks the test vectors in docs/protocol/session.md: the exact handshake
// messages noiseCrypto puts in the CRYPTO stream (framing included), the
// handshake hashes and Split() keys, a sealed 1-RTT packet before and after a
// key update, the IK -> XX fallback exchange, and the fingerprint format.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fallbackPrologue, fingerprint, identityFromKeyPair, noiseCrypto, prologueFor } from '../../src/session/index.ts';
import { HandshakeState } from '../../src/session/noise/handshake-state.ts';
import { encodeExtensions, EXT_SERVER_CID } from '../../src/session/framing.ts';
import { PATTERNS } from '../../src/session/noise/patterns.ts';
import { keyPairFrom, rekey } from '../../src/session/noise/primitives.ts';
import type { HandshakeResult } from '../../src/transport/crypto.ts';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/protocol/session.md'), 'utf8');
const vectors = new Map([...doc.matchAll(/^vector (\S+) ([0-9a-f]+)$/gm)].map((m) => [m[1], m[2]]));
const vec = (name: string) => { const v = vectors.get(name); if (!v) throw new Error(`vector ${name} missing from the doc`); return v; };
const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const filled = (byte: number) => (out: Uint8Array) => out.fill(byte);

const clientKp = keyPairFrom(new Uint8Array(32).fill(0x11)), serverKp = keyPairFrom(new Uint8Array(32).fill(0x22));

describe('docs/protocol/session.md vectors', () => {
  it('static keys', () => {
    expect(hex(clientKp.publicKey)).toBe(vec('static.client.pub'));
    expect(hex(serverKp.publicKey)).toBe(vec('static.server.pub'));
  });

  it('prologue', () => {
    expect(hex(prologueFor(h(vec('client.cid'))))).toBe(vec('prologue'));
  });

  for (const kind of ['xx', 'ik'] as const) {
    it(`${kind}: the provider's messages, then hash and Split keys`, () => {
      const clientCid = h(vec('client.cid')), serverCid = h(vec('server.cid')), prologue = h(vec('prologue'));
      const client = noiseCrypto(identityFromKeyPair(clientKp), { random: filled(0x33) }).client(kind === 'ik' ? { serverStatic: serverKp.publicKey, clientCid } : { clientCid });
      const server = noiseCrypto(identityFromKeyPair(serverKp), { random: filled(0x44) }).server({ clientCid, serverCid });
      const m1 = client.start!(0);
      expect(hex(m1)).toBe(vec(`${kind}.m1`));
      const r1 = server.handlePayload(0, m1);
      expect(hex(r1.send!)).toBe(vec(`${kind}.m2`));
      const r2 = client.handlePayload(0, r1.send!, { serverCid });
      let sr: HandshakeResult = r1;
      if (kind === 'xx') { expect(hex(r2.send!)).toBe(vec('xx.m3')); sr = server.handlePayload(0, r2.send!); }
      // the same run on the bare state machine exposes h and the Split keys
      const P = PATTERNS[kind.toUpperCase()];
      const i = new HandshakeState({ pattern: P, initiator: true, prologue, s: clientKp, rs: kind === 'ik' ? serverKp.publicKey : undefined, random: filled(0x33) });
      const r = new HandshakeState({ pattern: P, initiator: false, prologue, s: serverKp, random: filled(0x44) });
      const m2Payload = h(vec('m2.payload'));
      expect(hex(encodeExtensions([[EXT_SERVER_CID, serverCid]]))).toBe(vec('m2.payload'));
      for (let k = 0; k < P.messages.length; k++) { const [w, rd] = k % 2 === 0 ? [i, r] : [r, i]; rd.readMessage(w.writeMessage(k === 1 ? m2Payload : undefined)); }
      expect(hex(i.handshakeHash())).toBe(vec(`${kind}.h`));
      const { send, recv } = i.split();
      expect(hex(send.key()!)).toBe(vec(`${kind}.k1`));
      expect(hex(recv.key()!)).toBe(vec(`${kind}.k2`));
      if (kind === 'ik') {
        const header = h(vec('packet.header'));
        const msg = new TextEncoder().encode('hello, bob');
        const sealed = r2.keys!.send.seal(7, header, msg);
        expect(hex(sealed)).toBe(vec('packet.ik'));
        expect(new TextDecoder().decode(sr.keys!.recv.open(7, header, sealed))).toBe('hello, bob');
        expect(hex(rekey(send.key()!))).toBe(vec('rekey.ik.k1'));
        const sealedNext = r2.keys!.send.next!().seal(7, header, msg);
        expect(hex(sealedNext)).toBe(vec('packet.ik.next'));
        expect(sr.keys!.recv.next!().open(7, header, sealedNext)).toBeUndefined(); // pn 7 was already received: replay window
      }
    });
  }

  it('IK -> XX fallback: the provider\'s messages with a stale server key, and the fallback prologue', () => {
    const clientCid = h(vec('client.cid')), serverCid = h(vec('server.cid'));
    const staleKp = keyPairFrom(new Uint8Array(32).fill(0x55));
    expect(hex(staleKp.publicKey)).toBe(vec('static.stale.pub'));
    const client = noiseCrypto(identityFromKeyPair(clientKp), { random: filled(0x33), acceptPeer: () => true }).client({ serverStatic: staleKp.publicKey, clientCid });
    const server = noiseCrypto(identityFromKeyPair(serverKp), { random: filled(0x44) }).server({ clientCid, serverCid });
    const m1 = client.start!(0);
    expect(hex(m1)).toBe(vec('fallback.ik.m1'));
    const fb = server.handlePayload(0, m1).send!;
    expect(hex(fb)).toBe(vec('fallback'));
    expect(hex(fallbackPrologue(prologueFor(clientCid), m1))).toBe(vec('fallback.prologue'));
    const x1 = client.handlePayload(0, fb).send!;
    expect(hex(x1)).toBe(vec('fallback.xx.m1'));
    const x2 = server.handlePayload(0, x1).send!;
    expect(hex(x2)).toBe(vec('fallback.xx.m2'));
    const r3 = client.handlePayload(0, x2, { serverCid });
    expect(hex(r3.send!)).toBe(vec('fallback.xx.m3'));
    expect(hex(server.handlePayload(0, r3.send!).peerStatic!)).toBe(hex(clientKp.publicKey));
    expect(hex(r3.peerStatic!)).toBe(hex(serverKp.publicKey));
  });

  it('fingerprints', () => {
    const fps = [...doc.matchAll(/^fingerprint ([0-9a-f]{64}) (\S+)$/gm)];
    expect(fps.length).toBeGreaterThanOrEqual(2);
    for (const [, pk, fp] of fps) expect(fingerprint(h(pk))).toBe(fp);
  });
});
