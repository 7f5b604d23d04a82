// RelayTransmitQueue: bounded in datagrams, drop-oldest, exactly as if every datagram of a
// run were queued alone — checked against a plain per-datagram list on seeded random pushes
// and polls (runs with short tails, single datagrams, runs longer than the queue, pollInto
// and pollRunInto mixed). Prints the seed on failure; SEED=<n> reruns one.
import { describe, it, expect } from 'vitest';
import { RelayTransmitQueue } from '../../src/overlay/relay-queue.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { prng } from '../wire/fixtures.ts';

const dests: UdpAddress[] = [{ address: '198.51.100.2', port: 1 }, { address: '198.51.100.3', port: 2 }];
const tag = (to: UdpAddress, b: Uint8Array) => `${to.port}:${Array.from(b).join('.')}`;

describe('RelayTransmitQueue', () => {
  it('a full queue drops the oldest datagrams: whole items, then the head run from its front; a run longer than the queue keeps its tail', () => {
    const q = new RelayTransmitQueue(5);
    const run = (first: number, n: number) => Uint8Array.from({ length: n * 2 }, (_, i) => first + (i >> 1));
    expect(q.push(dests[0]!, run(10, 3), 2, 3)).toBe(0);
    expect(q.push(dests[1]!, Uint8Array.of(20), 0, 1)).toBe(0);
    expect(q.push(dests[0]!, run(30, 3), 2, 3)).toBe(2); // 10, 11 go
    expect(q.size).toBe(5);
    const slot = { to: dests[0]!, bytes: new Uint8Array(0), segmentSize: 0 };
    const out: string[] = [];
    while (q.pollRunInto(slot)) out.push(`${tag(slot.to, slot.bytes)}/${slot.segmentSize}`);
    expect(out).toEqual(['1:12.12/2', '2:20/1', '1:30.30.31.31.32.32/2']);
    expect(q.push(dests[1]!, run(40, 8), 2, 8)).toBe(3); // longer than the queue: 40..42 go
    const one: string[] = [];
    while (q.pollInto(slot)) one.push(tag(slot.to, slot.bytes));
    expect(one).toEqual(['2:43.43', '2:44.44', '2:45.45', '2:46.46', '2:47.47']);
    expect(q.size).toBe(0);
  });

  it('equals a per-datagram drop-oldest list on seeded random pushes and polls', () => {
    const seeds = process.env.SEED ? [Number(process.env.SEED)] : Array.from({ length: 30 }, (_, i) => 77 + i * 131);
    for (const seed of seeds) {
      const rnd = prng(seed);
      const cap = 1 + Math.floor(rnd() * 20);
      const q = new RelayTransmitQueue(cap);
      const model: string[] = [];
      let modelDropped = 0, dropped = 0, id = 0;
      const got: string[] = [], want: string[] = [];
      const slot = { to: dests[0]!, bytes: new Uint8Array(0), segmentSize: 0 };
      for (let step = 0; step < 300; step++) {
        const r = rnd();
        if (r < 0.6) {
          const to = dests[Math.floor(rnd() * 2)]!;
          const count = rnd() < 0.3 ? 1 : 1 + Math.floor(rnd() * cap * 1.5);
          const seg = 1 + Math.floor(rnd() * 4);
          const tail = rnd() < 0.5 ? seg : 1 + Math.floor(rnd() * seg);
          const segs = Array.from({ length: count }, (_, k) => Uint8Array.from({ length: k === count - 1 ? tail : seg }, () => id++ & 0xff));
          const bytes = new Uint8Array(segs.reduce((n, s) => n + s.length, 0));
          segs.reduce((o, s) => { bytes.set(s, o); return o + s.length; }, 0);
          dropped += q.push(to, bytes, count > 1 ? seg : 0, count);
          for (const s of segs) { model.push(tag(to, s)); if (model.length > cap) { model.shift(); modelDropped++; } }
        } else if (r < 0.8) {
          if (q.pollInto(slot)) got.push(tag(slot.to, slot.bytes));
          if (model.length) want.push(model.shift()!);
        } else if (q.pollRunInto(slot)) {
          const b = slot.bytes, s = slot.segmentSize;
          for (let o = 0; o < b.length; o += s) { got.push(tag(slot.to, b.subarray(o, Math.min(b.length, o + s)))); want.push(model.shift()!); }
        }
        expect(q.size, `seed ${seed}`).toBe(model.length);
      }
      while (q.pollInto(slot)) got.push(tag(slot.to, slot.bytes));
      want.push(...model);
      expect(got, `seed ${seed}`).toEqual(want);
      expect(dropped, `seed ${seed}`).toBe(modelDropped);
    }
  });
});
