// PacketSlab (src/transport/packet-slab.ts): views are zero-filled, exactly the
// requested length, never overlap nor come back, survive slab turnover, and
// large requests get their own buffer.
import { describe, it, expect } from 'vitest';
import { PacketSlab } from '../../src/transport/packet-slab.ts';

describe('PacketSlab', () => {
  it('hands out disjoint zero-filled views of the requested length, across slabs', () => {
    const slab = new PacketSlab();
    const views: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const len = 1 + ((i * 397) % 1300);
      const v = slab.alloc(len);
      expect(v.length).toBe(len);
      expect(v.every((b) => b === 0)).toBe(true);
      v.fill((i % 255) + 1); // written like a sealed packet
      views.push(v);
    }
    // nothing written later overwrote an earlier view
    views.forEach((v, i) => expect(v.every((b) => b === (i % 255) + 1)).toBe(true));
    const slabs = new Set(views.map((v) => v.buffer));
    expect(slabs.size).toBeGreaterThan(1);
    for (const buf of slabs) {
      const inBuf = views.filter((v) => v.buffer === buf).sort((a, b) => a.byteOffset - b.byteOffset);
      for (let i = 1; i < inBuf.length; i++) expect(inBuf[i].byteOffset).toBeGreaterThanOrEqual(inBuf[i - 1].byteOffset + inBuf[i - 1].length);
    }
  });

  it('gives large requests a buffer of their own', () => {
    const slab = new PacketSlab();
    const big = slab.alloc(9000);
    expect(big.length).toBe(9000);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(9000);
    expect(slab.alloc(0).length).toBe(0);
  });
});
