// The transport's in-place seal path (PacketKeys.sealInto) with real Noise keys
// is indistinguishable on the wire from the allocating seal path: the same
// seeded transfer, with loss, automatic key updates and tampered packets, once
// with NoisePacketKeys as they are and once with sealInto hidden, produces
// byte-identical datagrams, identical stream data and identical drop counts;
// with Noise keys the transport never calls seal (no copy).
import { describe, it, expect, vi } from 'vitest';
import { Pair, Collector, pattern } from '../transport/pair.ts';
import { noiseCrypto } from '../../src/session/index.ts';
import { NoisePacketKeys } from '../../src/session/packet-keys.ts';
import type { CryptoHandshake, CryptoProvider, HandshakeResult, PacketKeys } from '../../src/transport/crypto.ts';
import { seededBytes, testIdentity } from './helpers.ts';

const alice = testIdentity(1), bob = testIdentity(2);
const isShort = (b: Uint8Array) => (b[0] & 0x80) === 0;

/** The same keys without sealInto (the transport then uses seal and copies). */
function withoutSealInto(k: PacketKeys): PacketKeys {
  return {
    overhead: k.overhead,
    seal: (pn, h, p) => k.seal(pn, h, p),
    open: (pn, h, s) => k.open(pn, h, s),
    next: k.next ? () => withoutSealInto(k.next!()) : undefined,
    shouldUpdate: k.shouldUpdate ? (now) => k.shouldUpdate!(now) : undefined,
  };
}
function hideSealInto(p: CryptoProvider): CryptoProvider {
  const wrap = (h: CryptoHandshake): CryptoHandshake => {
    const fix = (r: HandshakeResult): HandshakeResult => (r.keys ? { ...r, keys: { send: withoutSealInto(r.keys.send), recv: withoutSealInto(r.keys.recv) } } : r);
    return { start: h.start?.bind(h), handlePayload: (now, m) => fix(h.handlePayload(now, m)) };
  };
  return { client: (o) => wrap(p.client(o)), server: (o) => wrap(p.server(o)) };
}

function run(inPlace: boolean, seed: number) {
  const keyUpdate = { packets: 100 };
  const cp = noiseCrypto(alice, { random: seededBytes(seed), keyUpdate });
  const sp = noiseCrypto(bob, { random: seededBytes(seed + 1), keyUpdate });
  const p = new Pair({ client: { crypto: inPlace ? cp : hideSealInto(cp) }, server: { crypto: inPlace ? sp : hideSealInto(sp) }, seed });
  let n = 0, flipped = 0;
  p.drop = (f, by) => {
    n++;
    if (by === 'client' && isShort(f.bytes) && f.bytes.length > 100 && n % 37 === 0) { const b = f.bytes.slice(); b[b.length - 20] ^= 1; f.bytes = b; flipped++; }
    return n % 53 === 0; // ~2% loss
  };
  const c = p.connect({ serverStatic: bob.publicKey });
  const id = c.openStream();
  const data = pattern(400_000, seed);
  let col: Collector | undefined;
  expect(p.driveUntil(() => c.handshakeConfirmed)).toBe(true);
  c.write(id!, data); c.finish(id!);
  expect(p.driveUntil(() => { col ??= p.accepted() ? new Collector(p.accepted()!) : undefined; return !!col && col.poll().finished.has(id!); })).toBe(true);
  expect(Buffer.compare(col!.bytes(id!), Buffer.from(data))).toBe(0);
  return { log: p.log.map((l) => Buffer.from(l.bytes).toString('hex')), flipped, cs: { ...cp.stats }, ss: { ...sp.stats } };
}

describe('PacketKeys.sealInto inside the transport (Noise)', () => {
  it('seed 11: a 400 kB transfer with loss, key updates and tampering gives identical datagrams and stats with and without sealInto', () => {
    const sealInto = vi.spyOn(NoisePacketKeys.prototype, 'sealInto');
    const seal = vi.spyOn(NoisePacketKeys.prototype, 'seal');
    const a = run(true, 11);
    expect(sealInto.mock.calls.length).toBeGreaterThan(300); // the transport took the in-place path ...
    expect(seal).not.toHaveBeenCalled(); // ... for every 1-RTT packet
    vi.restoreAllMocks();
    const b = run(false, 11);
    console.log("DBG", JSON.stringify(a.ss), JSON.stringify(b.ss), a.log.length, b.log.length);
    expect(a.flipped).toBeGreaterThan(0);
    expect(a.ss.authFailures).toBe(a.flipped);
    expect(a.ss.keyUpdates).toBeGreaterThanOrEqual(4);
    expect(a.log.length).toBe(b.log.length);
    expect(a.log.every((x, i) => x === b.log[i])).toBe(true);
    expect(a.cs).toEqual(b.cs);
    expect(a.ss).toEqual(b.ss);
  });
});
