// noiseCrypto inside the transport, over the transport's virtual-time Pair
// harness (test/transport/pair.ts, used read-only): application data after
// exactly 1 RTT with IK and with XX, peer keys bound to the connection, a
// transfer across key updates, and tampered / replayed packets dropped and
// counted, never delivered, also when the transport opens in place; every key
// generation wiped once the connection is closed. (IK -> XX fallback:
// ik-fallback.test.ts.)
import { describe, it, expect, vi } from 'vitest';
import { Pair, Collector, pattern } from '../transport/pair.ts';
import { noiseCrypto } from '../../src/session/index.ts';
import { NoisePacketKeys } from '../../src/session/packet-keys.ts';
import { seededBytes, testIdentity } from './helpers.ts';

const alice = testIdentity(1), bob = testIdentity(2);
const isShort = (b: Uint8Array) => (b[0] & 0x80) === 0;
const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : undefined);

function noisePair(seed = 1, keyUpdate?: { packets?: number }) {
  const cp = noiseCrypto(alice, { random: seededBytes(seed), keyUpdate });
  const sp = noiseCrypto(bob, { random: seededBytes(seed + 1), keyUpdate });
  const p = new Pair({ client: { crypto: cp }, server: { crypto: sp }, seed });
  return { p, cp, sp };
}

describe('Noise inside the transport handshake', () => {
  for (const mode of ['IK', 'XX'] as const) {
    it(`${mode}: the client sends protected application data after exactly 1 RTT; both sides learn the peer key`, () => {
      const { p } = noisePair();
      const c = p.connect(mode === 'IK' ? { serverStatic: bob.publicKey } : {});
      const id = c.openStream()!;
      c.write(id, new TextEncoder().encode('hello, bob'));
      c.finish(id);
      const cc = new Collector(c);
      expect(p.driveUntil(() => cc.poll().has('connected'))).toBe(true);
      expect(p.time).toBe(2 * p.latencyMs);
      expect(hex(c.peerStatic)).toBe(hex(bob.publicKey));
      expect(hex((cc.events.find((e) => e.type === 'connected') as { peerStatic?: Uint8Array }).peerStatic)).toBe(hex(bob.publicKey));
      expect(p.driveUntil(() => p.log.some((l) => l.by === 'client' && isShort(l.bytes)))).toBe(true);
      expect(p.log.find((l) => l.by === 'client' && isShort(l.bytes))!.at).toBe(2 * p.latencyMs);
      expect(p.driveUntil(() => !!p.accepted())).toBe(true);
      const sc = new Collector(p.accepted()!);
      expect(p.driveUntil(() => sc.poll().finished.has(id))).toBe(true);
      expect(sc.bytes(id).toString()).toBe('hello, bob');
      expect(p.time).toBe(3 * p.latencyMs);
      expect(hex(p.accepted()!.peerStatic)).toBe(hex(alice.publicKey));
      // the plaintext never appears on the wire
      for (const l of p.log) expect(Buffer.from(l.bytes).includes('hello, bob')).toBe(false);
    });
  }

  it('IK with a wrong server key (nobody approves the real one): falls back to XX, then closes with a clear key-changed error', () => {
    const { p } = noisePair();
    const c = p.connect({ serverStatic: testIdentity(99).publicKey });
    const cc = new Collector(c);
    expect(p.driveUntil(() => cc.poll().has('closed'), 20_000)).toBe(true);
    const closed = cc.events.find((e) => e.type === 'closed') as { reason: string; remote: boolean };
    expect(closed.remote).toBe(false);
    expect(closed.reason).toMatch(/handshake failed: IK fell back to XX and the server proved another static key/);
    expect(p.time).toBeLessThan(20 * p.latencyMs); // refused after 2 RTTs, no timeout
  });

  it('a 1 MB transfer with 2% loss across automatic key updates (every 150 packets) arrives intact', () => {
    const { p, cp, sp } = noisePair(3, { packets: 150 });
    const seed = 3;
    let n = 0;
    p.drop = () => (n = (n * 1103515245 + 12345 + seed) >>> 0) % 50 === 0;
    const c = p.connect({ serverStatic: bob.publicKey });
    p.driveUntil(() => c.handshakeConfirmed);
    const id = c.openStream()!;
    const data = pattern(1_000_000, 7);
    let written = 0;
    let col: Collector | undefined;
    p.driveUntil(() => {
      if (written < data.length && !c.writeBlocked(id)) {
        c.write(id, data.subarray(written, written + 100_000)); written += 100_000;
        if (written >= data.length) c.finish(id);
      }
      col ??= p.accepted() ? new Collector(p.accepted()!) : undefined;
      return !!col && col.poll().finished.has(id);
    }, 600_000);
    expect(col!.finished.has(id), `seed ${seed}`).toBe(true);
    expect(Buffer.compare(col!.bytes(id), Buffer.from(data))).toBe(0);
    // ~700 data packets at 150 per generation: the transport asked shouldUpdate() and rotated several times
    expect(cp.stats.keyUpdates).toBeGreaterThanOrEqual(6); // client send + recv generations
    expect(sp.stats.keyUpdates).toBeGreaterThanOrEqual(6);
    expect(sp.stats.authFailures + cp.stats.authFailures).toBe(0);
    expect(sp.stats.opened).toBeGreaterThan(600);
  });

  it('tampered 1-RTT packets are dropped and counted, never delivered; the stream still completes', () => {
    const { p, sp } = noisePair(4);
    let flipped = 0;
    p.drop = (f, by) => {
      if (by === 'client' && isShort(f.bytes) && f.bytes.length > 100 && flipped < 20 && f.bytes[f.bytes.length - 30] % 3 === 0) {
        const b = f.bytes.slice(); b[b.length - 30] ^= 0x40; f.bytes = b; flipped++;
      }
      return false;
    };
    const c = p.connect({ serverStatic: bob.publicKey });
    p.driveUntil(() => c.handshakeConfirmed);
    const id = c.openStream()!;
    const data = pattern(200_000, 9);
    c.write(id, data); c.finish(id);
    let col: Collector | undefined;
    expect(p.driveUntil(() => { col ??= p.accepted() ? new Collector(p.accepted()!) : undefined; return !!col && col.poll().finished.has(id); })).toBe(true);
    expect(flipped).toBeGreaterThan(0);
    expect(sp.stats.authFailures).toBe(flipped);
    expect(Buffer.compare(col!.bytes(id), Buffer.from(data))).toBe(0);
  });

  it('replayed 1-RTT packets are dropped by the replay window and counted', () => {
    const { p, sp } = noisePair(5);
    const c = p.connect({ serverStatic: bob.publicKey });
    p.driveUntil(() => c.handshakeConfirmed);
    const id = c.openStream()!;
    c.write(id, pattern(50_000, 2)); c.finish(id);
    let col: Collector | undefined;
    p.driveUntil(() => { col ??= p.accepted() ? new Collector(p.accepted()!) : undefined; return !!col && col.poll().finished.has(id); });
    const before = sp.stats.opened;
    // an attacker replays every short packet the client ever sent
    for (const l of p.log.filter((x) => x.by === 'client' && isShort(x.bytes))) p.server.handleDatagram(p.time, p.clientAddr, l.bytes);
    expect(sp.stats.opened).toBe(before);
    expect(sp.stats.replays + sp.stats.tooOld).toBeGreaterThan(30);
    expect(col!.poll().bytes(id).length).toBe(50_000);
  });

  it('in-place opening (endpoint owns received datagrams): a transfer with loss, key updates and tampering arrives intact, forgeries counted', () => {
    const keyUpdate = { packets: 100 };
    const cp = noiseCrypto(alice, { random: seededBytes(60), keyUpdate }), sp = noiseCrypto(bob, { random: seededBytes(61), keyUpdate });
    // the transport's in-place path: openInPlaceLength (no view per packet), never open()
    const inPlace = vi.spyOn(NoisePacketKeys.prototype, 'openInPlaceLength');
    const open = vi.spyOn(NoisePacketKeys.prototype, 'open');
    const p = new Pair({ client: { crypto: cp, ownsReceivedDatagrams: true }, server: { crypto: sp, ownsReceivedDatagrams: true }, seed: 60 });
    let n = 0, flipped = 0;
    p.drop = (f, by) => {
      n++;
      if (by === 'client' && isShort(f.bytes) && f.bytes.length > 100 && n % 31 === 0) { const b = f.bytes.slice(); b[b.length - 20] ^= 1; f.bytes = b; flipped++; }
      return n % 47 === 0;
    };
    const c = p.connect({ serverStatic: bob.publicKey });
    expect(p.driveUntil(() => c.handshakeConfirmed)).toBe(true);
    const id = c.openStream()!;
    const data = pattern(300_000, 60);
    c.write(id, data); c.finish(id);
    let col: Collector | undefined;
    expect(p.driveUntil(() => { col ??= p.accepted() ? new Collector(p.accepted()!) : undefined; return !!col && col.poll().finished.has(id); })).toBe(true);
    expect(Buffer.compare(col!.bytes(id), Buffer.from(data))).toBe(0);
    expect(inPlace.mock.calls.length).toBeGreaterThan(200);
    expect(open).not.toHaveBeenCalled();
    vi.restoreAllMocks();
    expect(flipped).toBeGreaterThan(0);
    expect(sp.stats.authFailures).toBe(flipped);
    expect(sp.stats.keyUpdates).toBeGreaterThanOrEqual(4);
  });

  it('once a connection is closed every packet key generation of both sides is wiped', () => {
    const created: NoisePacketKeys[] = [];
    const orig = NoisePacketKeys.create.bind(NoisePacketKeys);
    const spy = vi.spyOn(NoisePacketKeys, 'create').mockImplementation((...a) => { const k = orig(...a); created.push(k); return k; });
    const { p } = noisePair(6, { packets: 50 });
    const c = p.connect({ serverStatic: bob.publicKey });
    expect(p.driveUntil(() => c.handshakeConfirmed)).toBe(true);
    const id = c.openStream()!;
    c.write(id, pattern(150_000, 6)); c.finish(id);
    let col: Collector | undefined;
    expect(p.driveUntil(() => { col ??= p.accepted() ? new Collector(p.accepted()!) : undefined; return !!col && col.poll().finished.has(id); })).toBe(true);
    spy.mockRestore();
    const chain = (k: NoisePacketKeys) => { const out: NoisePacketKeys[] = []; for (let x: NoisePacketKeys | undefined = k; x; x = (x as unknown as { successor?: NoisePacketKeys }).successor) out.push(x); return out; };
    const all = created.flatMap(chain);
    expect(created).toHaveLength(4); // send + recv, both sides
    expect(all.length).toBeGreaterThan(8); // several generations each
    expect(all.some((k) => !k.wiped)).toBe(true); // live generations while open
    c.close(p.time, 0, 'bye');
    expect(p.driveUntil(() => c.isClosed && p.accepted()!.isClosed)).toBe(true);
    expect(all.filter((k) => !k.wiped)).toHaveLength(0);
  });
});

