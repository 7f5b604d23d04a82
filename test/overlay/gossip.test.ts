// Supernode gossip: codec vectors from docs/protocol/gossip.md, hostile input, the
// exact shuffle step, and a seeded pure-harness network of 200 supernodes with churn:
// views stay bounded, the overlay stays connected, dead supernodes fade out.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { GossipNode, type GossipMessage, type PeerRef } from '../../src/overlay/gossip.ts';
import { decodeGossipMessage, encodeGossipMessage, GossipDecodeError } from '../../src/overlay/gossip-wire.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { prng as mulberry32 } from '../wire/fixtures.ts';


const doc = readFileSync(resolve(import.meta.dirname, '../../docs/protocol/gossip.md'), 'utf8');
const vectors = new Map(doc.split('<!-- gossip-vectors')[1].split('```')[1].trim().split('\n').map((l) => {
  const [name, ...hex] = l.trim().split(/\s+/);
  return [name, Uint8Array.from(hex.map((h) => parseInt(h, 16)))] as const;
}));

describe('gossip wire format', () => {
  const expected: Record<string, GossipMessage> = {
    request: { type: 'shuffle-request', nonce: 0x01020304, entries: [{ id: 'sn1', address: { address: '198.51.100.20', port: 3479 }, age: 0 }, { id: 'sn2', address: { address: '203.0.113.5', port: 3479 }, age: 7 }] },
    'reply-empty': { type: 'shuffle-reply', nonce: 0x01020304, entries: [] },
  };
  for (const [name, m] of Object.entries(expected)) {
    it(`${name}: documented bytes both ways`, () => {
      expect(Buffer.from(encodeGossipMessage(m)).toString('hex')).toBe(Buffer.from(vectors.get(name)!).toString('hex'));
      expect(decodeGossipMessage(vectors.get(name)!)).toEqual(m);
    });
  }
  it('rejects hostile input with named errors only', () => {
    const req = vectors.get('request')!;
    expect(() => decodeGossipMessage(req.subarray(0, req.length - 1))).toThrow(/truncated/);
    expect(() => decodeGossipMessage(Uint8Array.from([...req, 0]))).toThrow(/trailing/);
    expect(() => decodeGossipMessage(Uint8Array.from([0xc8, 1, 0, 0, 0, 0, 33]))).toThrow(/at most 32/);
    expect(() => decodeGossipMessage(Uint8Array.from([0xc7, 1, 0, 0, 0, 0, 0]))).toThrow(/bad marker/);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 60 }), (tail) => {
      try { decodeGossipMessage(Uint8Array.from([0xc8, 1, ...tail])); } catch (e) { if (!(e instanceof GossipDecodeError)) throw e; }
    }), { numRuns: 2000 });
  });
});

const ref = (i: number): PeerRef => ({ id: `sn${i}`, address: { address: `198.51.100.${1 + (i % 250)}`, port: 4000 + Math.floor(i / 250) } });

describe('GossipNode shuffle step', () => {
  it('ages, sends itself + 3 random entries to the oldest, which leaves the view; merges the reply into the sent slots', () => {
    const g = new GossipNode({ self: ref(0), random: mulberry32(7), shuffleIntervalMs: 1000 }, 0);
    g.handleDirectoryList(0, [ref(0), ...Array.from({ length: 12 }, (_, i) => ref(i + 1))]);
    expect(g.view()).toHaveLength(8);
    expect(g.view().some((e) => e.id === 'sn0')).toBe(false);
    const t = g.pollTimeout();
    expect(t).toBeLessThan(1000);
    g.handleTimeout(t);
    const out = g.pollTransmit()!;
    expect(out.msg.type).toBe('shuffle-request');
    expect(out.msg.entries[0]).toEqual({ ...ref(0), age: 0 });
    expect(out.msg.entries).toHaveLength(4);
    expect(g.view()).toHaveLength(7); // Q removed
    const q = out.to;
    expect(g.view().some((e) => e.address === q)).toBe(false);
    // Q answers with 4 fresh entries: one fills the empty slot, three replace the sent ones.
    const fresh = [20, 21, 22, 23].map((i) => ({ ...ref(i), age: 2 }));
    g.handleMessage(t + 5, q, { type: 'shuffle-reply', nonce: out.msg.nonce, entries: fresh });
    expect(g.view()).toHaveLength(8);
    for (const f of fresh) expect(g.view().map((e) => e.id)).toContain(f.id);
    for (const s of out.msg.entries.slice(1)) expect(g.view().map((e) => e.id)).not.toContain(s.id);
  });

  it('ignores replies with a wrong nonce or from another address, and never adds itself or duplicates', () => {
    const g = new GossipNode({ self: ref(0), random: mulberry32(1), viewSize: 4, shuffleLength: 2 }, 0);
    g.handleDirectoryList(0, [ref(1), ref(2), ref(3), ref(4)]);
    g.handleTimeout(g.pollTimeout());
    const out = g.pollTransmit()!;
    const before = g.view().map((e) => e.id);
    g.handleMessage(1, out.to, { type: 'shuffle-reply', nonce: out.msg.nonce + 1, entries: [{ ...ref(9), age: 0 }] });
    g.handleMessage(1, { address: '203.0.113.1', port: 1 }, { type: 'shuffle-reply', nonce: out.msg.nonce, entries: [{ ...ref(9), age: 0 }] });
    expect(g.view().map((e) => e.id)).toEqual(before);
    g.handleMessage(2, ref(7).address, { type: 'shuffle-request', nonce: 5, entries: [{ ...ref(0), age: 0 }, { ...ref(1), age: 0 }] });
    const ids = g.view().map((e) => e.id);
    expect(ids).not.toContain('sn0');
    expect(ids.filter((id) => id === 'sn1')).toHaveLength(1); // present once (re-added into the free slot, or kept)
    expect(new Set(ids).size).toBe(ids.length);
    expect(g.pollTransmit()?.msg.type).toBe('shuffle-reply');
  });
});

/** A seeded network of GossipNodes; messages cross the real codec with 5 ms latency. */
class GossipNet {
  now = 0;
  nodes = new Map<number, GossipNode>();
  alive = new Set<number>();
  byAddr = new Map<string, number>();
  private queue: { at: number; to: UdpAddress; from: UdpAddress; bytes: Uint8Array }[] = [];
  private nextId = 0;
  readonly rng: () => number;

  constructor(readonly seed: number) {
    this.rng = mulberry32(seed);
  }

  /** The directory's answer: 5 random registered supernodes (it may still list dead ones). */
  directorySample(): PeerRef[] {
    const ids = [...this.nodes.keys()];
    const out: PeerRef[] = [];
    for (let i = 0; i < 5 && ids.length > 0; i++) out.push(ref(ids[Math.floor(this.rng() * ids.length)]));
    return out;
  }

  add(): number {
    const i = this.nextId++;
    const g = new GossipNode({ self: ref(i), random: mulberry32(this.seed * 1000 + i) }, this.now);
    g.handleDirectoryList(this.now, this.directorySample());
    this.nodes.set(i, g);
    this.alive.add(i);
    const a = ref(i).address;
    this.byAddr.set(`${a.address}:${a.port}`, i);
    return i;
  }

  kill(i: number): void {
    this.alive.delete(i);
  }

  run(untilMs: number): void {
    for (let guard = 0; guard < 10_000_000; guard++) {
      let next = Infinity;
      for (const i of this.alive) next = Math.min(next, this.nodes.get(i)!.pollTimeout());
      for (const q of this.queue) next = Math.min(next, q.at);
      if (next > untilMs) { this.now = untilMs; return; }
      this.now = next;
      const due = this.queue.filter((q) => q.at <= this.now);
      this.queue = this.queue.filter((q) => q.at > this.now);
      for (const d of due) {
        const i = this.byAddr.get(`${d.to.address}:${d.to.port}`);
        if (i === undefined || !this.alive.has(i)) continue; // dead supernode: dropped
        this.nodes.get(i)!.handleMessage(this.now, d.from, decodeGossipMessage(d.bytes));
      }
      for (const i of this.alive) {
        const g = this.nodes.get(i)!;
        if (g.pollTimeout() <= this.now) g.handleTimeout(this.now);
        if (g.needsSeeding()) g.handleDirectoryList(this.now, this.directorySample());
        for (let t = g.pollTransmit(); t; t = g.pollTransmit()) this.queue.push({ at: this.now + 5, to: t.to, from: ref(i).address, bytes: encodeGossipMessage(t.msg) });
      }
    }
    throw new Error('gossip net: step limit');
  }

  stats() {
    const alive = [...this.alive];
    const adj = new Map<number, Set<number>>(alive.map((i) => [i, new Set<number>()]));
    let deadRefs = 0;
    let refs = 0;
    let maxView = 0;
    let badView = 0;
    const inDegree = new Map<number, number>();
    for (const i of alive) {
      const view = this.nodes.get(i)!.view();
      maxView = Math.max(maxView, view.length);
      const ids = view.map((e) => Number(e.id.slice(2)));
      if (new Set(ids).size !== ids.length || ids.includes(i)) badView++;
      for (const j of ids) {
        refs++;
        if (!this.alive.has(j)) { deadRefs++; continue; }
        adj.get(i)!.add(j);
        adj.get(j)!.add(i);
        inDegree.set(j, (inDegree.get(j) ?? 0) + 1);
      }
    }
    const seen = new Set<number>([alive[0]]);
    const stack = [alive[0]];
    while (stack.length) for (const j of adj.get(stack.pop()!)!) if (!seen.has(j)) { seen.add(j); stack.push(j); }
    return { alive: alive.length, reachable: seen.size, maxView, badView, deadRefFraction: refs ? deadRefs / refs : 0, maxInDegree: Math.max(...inDegree.values()) };
  }
}

describe('supernode overlay (200 supernodes, seeded)', () => {
  for (const seed of [1, 2]) {
    it(`seed ${seed}: bounded views, connected, survives churn (4 leave + 4 join every round for 40 rounds)`, () => {
      const net = new GossipNet(seed);
      for (let i = 0; i < 200; i++) net.add();
      net.run(100_000); // 20 rounds of 5 s
      const warm = net.stats();
      expect(warm, `seed ${seed}`).toMatchObject({ alive: 200, reachable: 200, badView: 0, maxView: 8 });
      expect(warm.maxInDegree, `seed ${seed}`).toBeLessThanOrEqual(24);
      for (let round = 0; round < 40; round++) {
        for (let k = 0; k < 4; k++) {
          const alive = [...net.alive];
          net.kill(alive[Math.floor(net.rng() * alive.length)]);
          net.add();
        }
        net.run(net.now + 5000);
        const s = net.stats();
        expect(s.maxView, `seed ${seed} round ${round}`).toBeLessThanOrEqual(8);
        expect(s.badView, `seed ${seed} round ${round}`).toBe(0);
      }
      const churned = net.stats();
      expect(churned.reachable, `seed ${seed}: overlay partitioned after churn`).toBe(churned.alive);
      net.run(net.now + 50_000); // 10 quiet rounds: dead references fade out
      const settled = net.stats();
      expect(settled.reachable, `seed ${seed}`).toBe(settled.alive);
      expect(settled.deadRefFraction, `seed ${seed}`).toBeLessThan(0.02);
      console.log(JSON.stringify({ seed, warm, churned, settled }));
    });
  }
});
