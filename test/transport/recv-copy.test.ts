// Received datagrams only lent to the transport (copyReceivedData: the native socket's
// receive arena is rewritten by its next recvmmsg): the transport copies exactly the bytes
// it keeps — stream and CRYPTO data (streams/recv-slab.ts) — and keeps no view of a
// datagram, so a transfer stays byte-exact when every datagram is overwritten right after
// handleDatagram returns (Pair.scribbleDelivered), with loss (out-of-order data buffered
// across datagrams), plaintext and Noise (opened in place, in the lent memory). Negative
// control: without the copy the same run delivers the overwritten bytes. Recycled reads: a chunk of
// a RecyclingSlab comes back only when all its bytes were released; a lossy transfer read with
// release() after every view (and the view then scribbled on) stays byte-exact.
import { describe, it, expect } from 'vitest';
import { Pair, Collector, pattern } from './pair.ts';
import { RecvBuffer } from '../../src/transport/streams/recv-buffer.ts';
import { RecvSlab, adjacent } from '../../src/transport/streams/recv-slab.ts';
import { RecyclingSlab } from '../../src/transport/streams/recv-ring.ts';
import { noiseCrypto } from '../../src/session/index.ts';
import { seededBytes, testIdentity } from '../session/helpers.ts';
import type { EndpointOptions } from '../../src/transport/endpoint.ts';

/** A slab that counts the bytes it copied. */
class CountingSlab extends RecvSlab {
  copied = 0;
  override copy(data: Uint8Array): Uint8Array { this.copied += data.length; return super.copy(data); }
}

describe('RecvBuffer with a slab', () => {
  it('keeps copies: the inserted bytes may be overwritten at once; duplicates and old data are not copied', () => {
    const slab = new CountingSlab();
    const rb = new RecvBuffer(slab);
    const src = pattern(3000, 5);
    const lent = src.slice();
    rb.insert(1000, lent.subarray(1000, 2000)); // out of order: buffered
    lent.fill(0);
    expect(slab.copied).toBe(1000);
    const again = src.slice();
    rb.insert(500, again.subarray(500, 2500)); // 500 new before, 1000 duplicate, 500 new after
    again.fill(0);
    expect(slab.copied).toBe(2000);
    const first = src.slice();
    rb.insert(0, first.subarray(0, 1000));
    first.fill(0);
    expect(slab.copied).toBe(2500);
    const out: Uint8Array[] = [];
    for (let d = rb.read(); d; d = rb.read()) out.push(d);
    expect(Buffer.compare(Buffer.concat(out), Buffer.from(src.subarray(0, 2500)))).toBe(0);
    const old = src.slice(0, 2600);
    rb.insert(0, old); // only bytes 2500..2600 are new
    expect(slab.copied).toBe(2600);
  });

  it('RecvSlab: copies never share bytes, consecutive ones are adjacent, big ones get their own buffer', () => {
    const slab = new RecvSlab();
    const a = slab.copy(new Uint8Array(100).fill(1)), b = slab.copy(new Uint8Array(200).fill(2));
    expect(adjacent(a, b)).toBe(true);
    expect(a.every((x) => x === 1) && b.every((x) => x === 2)).toBe(true);
    const views: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) views.push(slab.copy(new Uint8Array(1200).fill(i & 0xff))); // several slabs, growing
    views.forEach((v, i) => expect(v.every((x) => x === (i & 0xff))).toBe(true));
    expect(new Set(views.map((v) => v.buffer)).size).toBeGreaterThan(1);
    for (const n of [16_384, 65_000]) { // a PMTUD packet's data: a buffer of exactly its size, all of it the copy
      const big = slab.copy(new Uint8Array(n).fill(9));
      expect(big.byteOffset).toBe(0);
      expect(big.buffer.byteLength).toBe(n);
      expect(big.every((x) => x === 9)).toBe(true);
    }
    const after = slab.copy(new Uint8Array(16_383).fill(3)); // below: carved from a slab
    expect(after.buffer.byteLength).toBeGreaterThan(16_383);
    // the rest of a slab is zeros (no stale memory behind a view handed to the application)
    const c = new RecvSlab().copy(new Uint8Array([7]));
    expect(new Uint8Array(c.buffer).subarray(1).every((x) => x === 0)).toBe(true);
  });
});

const alice = testIdentity(1), bob = testIdentity(2);

function transfer(opts: { copy: boolean; noise: boolean; seed: number }) {
  const lent: Partial<EndpointOptions> = { copyReceivedData: opts.copy, ownsReceivedDatagrams: true };
  const crypto = (who: 'client' | 'server') => (opts.noise ? { crypto: noiseCrypto(who === 'client' ? alice : bob, { random: seededBytes(opts.seed + (who === 'client' ? 0 : 1)) }) } : {});
  const p = new Pair({ client: { ...lent, ...crypto('client') }, server: { ...lent, ...crypto('server') }, seed: opts.seed });
  p.scribbleDelivered = true;
  let n = 0;
  p.drop = (f) => f.sentAt > 30 && f.bytes.length > 1000 && ++n % 7 === 0; // loss: later data waits for the gap
  const conn = p.connect(opts.noise ? { serverStatic: bob.publicKey } : {});
  const id = conn.openStream()!;
  const data = pattern(300_000, opts.seed);
  conn.write(id, data);
  conn.finish(id);
  let sc: Collector | undefined;
  const done = p.driveUntil(() => { const s = p.accepted(); if (s) sc ??= new Collector(s); return !!sc?.poll().finished.has(id); });
  return { done, same: !!sc && Buffer.compare(sc.bytes(id), Buffer.from(data)) === 0, lost: conn.stats.packetsLost };
}

describe('transport over lent datagrams (overwritten once handled)', () => {
  for (const noise of [false, true]) {
    it(`${noise ? 'noise (opened in place)' : 'plaintext'}: copyReceivedData keeps the transfer byte-exact despite loss`, () => {
      for (const seed of [1, 2, 3]) {
        const r = transfer({ copy: true, noise, seed });
        expect(r.lost, `seed ${seed}`).toBeGreaterThan(0);
        expect(r.done && r.same, `seed ${seed}`).toBe(true);
      }
    });
  }

  it('negative control: without copyReceivedData the overwritten datagrams corrupt the stream', () => {
    const r = transfer({ copy: false, noise: false, seed: 1 });
    expect(r.same).toBe(false);
  });
});

describe('recycled reads (TransportStream.readRecycled underneath)', () => {
  it('RecyclingSlab: a chunk is reused only once every byte carved from it was released and it is retired', () => {
    const slab = new RecyclingSlab();
    const piece = () => slab.copy(new Uint8Array(100_000).fill(1));
    const a = piece(), b = piece(); // chunk 1 (256 KiB holds two)
    const c = piece(); // chunk 2: chunk 1 retired
    expect(slab.allocated).toBe(2);
    slab.release(a);
    slab.release(b.subarray(0, 50_000)); // part of b: chunk 1 still in use
    slab.release(new Uint8Array(10)); // not from this slab: ignored
    const d = piece(), e = piece(); // d fills chunk 2, e needs a chunk: a new one (chunk 1 not free yet)
    expect(slab.allocated).toBe(3);
    expect(b.every((x) => x === 1)).toBe(true);
    slab.release(b.subarray(50_000));
    for (const v of [c, d]) slab.release(v);
    const f = piece(), g = piece(); // chunk 3 is full: chunk 1 or 2 comes back
    expect(slab.allocated).toBe(3);
    expect(new Set([e.buffer, f.buffer, g.buffer]).size).toBe(2);
    void g;
  });

  it('a transfer read with release() after every view is byte-exact (lent datagrams, loss) and reuses a few chunks', () => {
    for (const seed of [1, 2]) {
      const lent: Partial<EndpointOptions> = { copyReceivedData: true, ownsReceivedDatagrams: true };
      const p = new Pair({ client: lent, server: lent, seed });
      p.scribbleDelivered = true;
      let n = 0;
      p.drop = (f) => f.sentAt > 30 && f.bytes.length > 1000 && ++n % 7 === 0;
      const conn = p.connect();
      const id = conn.openStream()!;
      const data = pattern(3_000_000, seed);
      conn.write(id, data);
      conn.finish(id);
      const got = new Uint8Array(data.length);
      let at = 0, fin = false, recycling = false;
      p.driveUntil(() => {
        const s = p.accepted();
        if (!s) return false;
        for (let e = s.pollEvent(); e; e = s.pollEvent()) { /* drain */ }
        if (!recycling) recycling = s.setRecycledRead(id);
        for (let d = s.read(id); d !== undefined; d = s.read(id)) {
          if (d === null) { fin = true; break; }
          got.set(d, at); at += d.length;
          s.release(id, d);
          d.fill(0xdd); // the reader scribbles on what it released: only released memory may be reused
        }
        return fin;
      });
      expect(fin, `seed ${seed}`).toBe(true);
      expect(conn.stats.packetsLost, `seed ${seed}`).toBeGreaterThan(0);
      expect(Buffer.compare(Buffer.from(got.subarray(0, at)), Buffer.from(data)), `seed ${seed}`).toBe(0);
      const slab = (p.accepted() as unknown as { streams: { streams: Map<number, { recv?: { buf: { slab?: unknown } } }> } }).streams.streams.get(id)?.recv?.buf.slab;
      const chunks = slab instanceof RecyclingSlab ? slab.allocated : -1;
      expect(chunks, `seed ${seed}`).toBeGreaterThan(0);
      expect(chunks, `seed ${seed}`).toBeLessThan(data.length / (256 * 1024) / 2); // reused: not one per 256 KiB received
    }
  });
});
