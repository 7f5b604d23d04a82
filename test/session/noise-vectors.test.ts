// Noise conformance: byte-exact against the cacophony vectors
// (../shared/vectors/noise/cacophony.txt, read in place) for every protocol
// name of our suite whose pattern we implement — always including
// Noise_XX_25519_ChaChaPoly_BLAKE2s and Noise_IK_25519_ChaChaPoly_BLAKE2s.
// Checks every handshake ciphertext, the handshake hash on both sides, and
// the transport messages after Split.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { HandshakeState } from '../../src/session/noise/handshake-state.ts';
import { patternOf } from '../../src/session/noise/patterns.ts';
import { keyPairFrom } from '../../src/session/noise/primitives.ts';

const FILE = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'vectors', 'noise', 'cacophony.txt');
const present = existsSync(FILE);

interface Vector {
  protocol_name: string;
  init_prologue: string; init_static?: string; init_ephemeral: string; init_remote_static?: string; init_psks?: string[];
  resp_prologue: string; resp_static?: string; resp_ephemeral: string; resp_remote_static?: string; resp_psks?: string[];
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fixedRandom = (bytes: string) => {
  let used = false;
  return (out: Uint8Array) => {
    if (used) throw new Error('vector provides only one ephemeral key');
    used = true;
    out.set(hex(bytes));
    return out;
  };
};

const vectors: Vector[] = present ? (JSON.parse(readFileSync(FILE, 'utf8')) as { vectors: Vector[] }).vectors : [];
const ours = vectors.filter((v) => patternOf(v.protocol_name) && !v.init_psks && !v.resp_psks);

function run(v: Vector): void {
  const pattern = patternOf(v.protocol_name)!;
  const init = new HandshakeState({
    pattern, initiator: true, prologue: hex(v.init_prologue), random: fixedRandom(v.init_ephemeral),
    s: v.init_static ? keyPairFrom(hex(v.init_static)) : undefined, rs: v.init_remote_static ? hex(v.init_remote_static) : undefined,
  });
  const resp = new HandshakeState({
    pattern, initiator: false, prologue: hex(v.resp_prologue), random: fixedRandom(v.resp_ephemeral),
    s: v.resp_static ? keyPairFrom(hex(v.resp_static)) : undefined, rs: v.resp_remote_static ? hex(v.resp_remote_static) : undefined,
  });
  const n = pattern.messages.length;
  for (let i = 0; i < n; i++) {
    const [w, r] = i % 2 === 0 ? [init, resp] : [resp, init];
    const ct = w.writeMessage(hex(v.messages[i].payload));
    expect(toHex(ct), `${v.protocol_name} message ${i}`).toBe(v.messages[i].ciphertext);
    expect(toHex(r.readMessage(ct)), `${v.protocol_name} payload ${i}`).toBe(v.messages[i].payload);
  }
  expect(init.isComplete() && resp.isComplete()).toBe(true);
  expect(toHex(init.handshakeHash())).toBe(v.handshake_hash);
  expect(toHex(resp.handshakeHash())).toBe(v.handshake_hash);
  const ic = init.split(), rc = resp.split();
  for (let i = n; i < v.messages.length; i++) {
    const [send, recv] = i % 2 === 0 ? [ic.send, rc.recv] : [rc.send, ic.recv];
    const ct = send.encryptWithAd(new Uint8Array(0), hex(v.messages[i].payload));
    expect(toHex(ct), `${v.protocol_name} transport message ${i}`).toBe(v.messages[i].ciphertext);
    expect(toHex(recv.decryptWithAd(new Uint8Array(0), ct)!)).toBe(v.messages[i].payload);
  }
}

describe.skipIf(!present)(`Noise cacophony vectors (${present ? FILE : `skipped: ${FILE} not found`})`, () => {
  it('the file holds the XX and IK vectors of our suite', () => {
    const names = ours.map((v) => v.protocol_name);
    expect(names).toContain('Noise_XX_25519_ChaChaPoly_BLAKE2s');
    expect(names).toContain('Noise_IK_25519_ChaChaPoly_BLAKE2s');
  });

  for (const name of ['Noise_XX_25519_ChaChaPoly_BLAKE2s', 'Noise_IK_25519_ChaChaPoly_BLAKE2s']) {
    it(`every ${name} vector, byte-exact`, () => {
      const vs = ours.filter((v) => v.protocol_name === name);
      expect(vs.length).toBeGreaterThan(0);
      for (const v of vs) run(v);
    });
  }

  it('every other implemented pattern of the suite (NN NK NX KN KK KX XN XK IN IX), byte-exact', () => {
    const others = ours.filter((v) => !/_(XX|IK)_/.test(v.protocol_name));
    expect(others.length).toBeGreaterThanOrEqual(10);
    for (const v of others) run(v);
  });
});
