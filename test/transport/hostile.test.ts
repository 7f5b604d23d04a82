// Hostile input property test: >= 100,000 random, truncated, mutated,
// replayed and forged datagrams are fed to both ends of a live connection
// while it transfers data (with 1% real loss). Afterwards every stream
// arrived byte-exact, nothing threw, and every queue the peer can grow stayed
// bounded. Seeded: TINCAN_FUZZ_SEED=n reproduces a run (the seed is in every
// failure message).
import { describe, it, expect } from 'vitest';
import { Pair, Collector, pattern } from './pair.ts';
import { checksumCrypto } from './checksum-crypto.ts';
import { seededRandom, type Random } from '../../src/transport/random.ts';
import { encodeLongPacket } from '../../src/transport/wire/header.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';

const SEED = Number(process.env.TINCAN_FUZZ_SEED ?? 20261201);
const TOTAL = 100_000;

type Kind = 'random' | 'truncated' | 'mutated' | 'replayed' | 'forged-long' | 'forged-initial';

function pick<T>(rng: Random, xs: T[]): T { return xs[rng.nextU32() % xs.length]; }

/** One hostile datagram, built from real traffic `pool` where useful. */
function hostile(rng: Random, pool: Uint8Array[], cids: Uint8Array[]): { kind: Kind; bytes: Uint8Array; spoofed: boolean } {
  const r = rng.nextU32() % 100;
  const real = pick(rng, pool);
  if (r < 20) return { kind: 'random', bytes: rng.fill(new Uint8Array(rng.nextU32() % 1500)), spoofed: rng.nextU32() % 4 === 0 };
  if (r < 40) return { kind: 'truncated', bytes: real.slice(0, rng.nextU32() % Math.max(1, real.length)), spoofed: false };
  if (r < 70) {
    const b = real.slice();
    const n = 1 + (rng.nextU32() % 4);
    for (let i = 0; i < n && b.length; i++) b[rng.nextU32() % b.length] ^= 1 + (rng.nextU32() % 255);
    return { kind: 'mutated', bytes: b, spoofed: false };
  }
  if (r < 90) return { kind: 'replayed', bytes: real, spoofed: rng.nextU32() % 8 === 0 };
  if (r < 97) {
    // well-formed long header (valid CRC) with garbage frames, aimed at a live connection ID
    const payload = rng.fill(new Uint8Array(rng.nextU32() % 200));
    return { kind: 'forged-long', bytes: encodeLongPacket({ type: rng.nextU32() % 2 ? 'initial' : 'handshake', dcid: pick(rng, cids), scid: rng.fill(new Uint8Array(8)), pn: rng.nextU32(), payload }), spoofed: false };
  }
  // a forged 1200-byte Initial from a random address: costs the server one (bounded) connection
  const payload = new Uint8Array(1200);
  payload[0] = 0x06; payload[1] = 0; payload[2] = 8; payload.set(rng.fill(new Uint8Array(8)), 3);
  return { kind: 'forged-initial', bytes: encodeLongPacket({ type: 'initial', dcid: rng.fill(new Uint8Array(8)), scid: rng.fill(new Uint8Array(8)), pn: 0, payload }), spoofed: true };
}

describe('hostile input', () => {
  it(`>= ${TOTAL} hostile datagrams: no crash, bounded state, transfer byte-exact (seed ${SEED})`, () => {
    const rng = seededRandom(SEED);
    const maxConnections = 32;
    const p = new Pair({ seed: SEED, client: { crypto: checksumCrypto }, server: { crypto: checksumCrypto, maxConnections } });
    const lossRng = seededRandom(SEED + 1);
    p.drop = () => lossRng.nextU32() % 100 === 0;
    // the upload keeps going (64 KiB at a time, up to 16 MB) until the attack is over, then finishes
    const up = pattern(16_000_000, SEED), down = pattern(500_000, SEED + 2);
    let injected = 0;
    let injectedWhenDone: number | undefined;
    const c = p.connect();
    const cc = new Collector(c);
    const id = c.openStream()!;
    let upWritten = 0, upFinished = false;
    const feed = () => {
      while (!upFinished && upWritten < up.length && !c.writeBlocked(id) && upWritten < 64 * 1024 * (1 + Math.floor(p.steps / 4))) {
        const n = Math.min(64 * 1024, up.length - upWritten);
        c.write(id, up.subarray(upWritten, upWritten + n)); upWritten += n;
      }
      if (!upFinished && (injected >= TOTAL || upWritten === up.length)) { c.finish(id); upFinished = true; }
    };
    let sc: Collector | undefined;
    let serverStream: number | undefined;
    const counts: Record<Kind, number> = { random: 0, truncated: 0, mutated: 0, replayed: 0, 'forged-long': 0, 'forged-initial': 0 };
    const max: Record<string, number> = {};
    const track = (o: Record<string, number>) => { for (const [k, v] of Object.entries(o)) max[k] = Math.max(max[k] ?? 0, v); };
    const attacker = (): UdpAddress => ({ address: `192.0.2.${1 + (rng.nextU32() % 200)}`, port: 1024 + (rng.nextU32() % 60000) });
    const done = () => !!sc && sc.finished.has(id) && serverStream !== undefined && cc.finished.has(serverStream);
    p.driveUntil(() => {
      const s = p.accepted();
      if (s && !sc) sc = new Collector(s);
      sc?.poll(); cc.poll(); feed();
      if (sc && serverStream === undefined && s!.isEstablished) {
        serverStream = s!.openStream(false)!;
        s!.write(serverStream, down); s!.finish(serverStream);
      }
      if (c.handshakeConfirmed && sc && injected < TOTAL) {
        const pool = p.log.slice(-2000).map((l) => l.bytes);
        const cids = [c.localCid, c.remoteCid];
        for (let i = 0; i < 60 && injected < TOTAL; i++, injected++) {
          const h = hostile(rng, pool, cids);
          counts[h.kind]++;
          if (rng.nextU32() % 2) p.server.handleDatagram(p.time, h.spoofed ? attacker() : p.clientAddr, h.bytes);
          else p.client.handleDatagram(p.time, h.spoofed ? attacker() : p.serverAddr, h.bytes);
        }
        track(p.server.stateSizes());
        for (const conn of [c, sc.conn]) track(conn.stateSizes());
      }
      if (injectedWhenDone === undefined && done()) injectedWhenDone = injected;
      return injected >= TOTAL && done();
    }, 600_000);
    const why = `seed ${SEED}, client ${JSON.stringify(c.closeInfo)}, server ${JSON.stringify(sc?.conn.closeInfo)}, injected ${injected}, ${JSON.stringify(counts)}, max ${JSON.stringify(max)}`;
    expect(injected, why).toBe(TOTAL);
    expect(c.state, why).toBe('established');
    expect(sc!.conn.state, why).toBe('established');
    expect(Buffer.compare(sc!.bytes(id), Buffer.from(up.subarray(0, upWritten))), why).toBe(0);
    expect(upWritten, why).toBeLessThan(up.length); // the attack ended before the data ran out
    expect(Buffer.compare(cc.bytes(serverStream!), Buffer.from(down)), why).toBe(0);
    // bounded: connections by the endpoint's limit, queues by their caps
    expect(max.connections, why).toBeLessThanOrEqual(maxConnections);
    expect(max.stateless, why).toBeLessThanOrEqual(1024);
    expect(max.ackRanges, why).toBeLessThanOrEqual(2 * 64);
    expect(max.pathResponses, why).toBeLessThanOrEqual(4);
    expect(max.recvBuffered, why).toBeLessThanOrEqual(2 * (1 << 20));
    expect(max.events, why).toBeLessThanOrEqual(1000);
    expect(max.sentPackets, why).toBeLessThanOrEqual(5000);
    expect(counts['forged-initial'], why).toBeGreaterThan(1000);
    // the attack ran during the transfer, not after it
    expect(injectedWhenDone ?? 0, why).toBeGreaterThan(TOTAL / 2);
  });
});
