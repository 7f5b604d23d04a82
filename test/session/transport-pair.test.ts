// noiseCrypto inside the transport, over the transport's virtual-time Pair
// harness (test/transport/pair.ts, used read-only): application data after
// exactly 1 RTT with IK and with XX, peer keys bound to the connection, a
// transfer across key updates, and tampered / replayed packets dropped and
// counted, never delivered. (IK -> XX fallback: ik-fallback.test.ts.)
import { describe, it, expect } from 'vitest';
import { Pair, Collector, pattern } from '../transport/pair.ts';
import { noiseCrypto } from '../../src/session/index.ts';
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
});
