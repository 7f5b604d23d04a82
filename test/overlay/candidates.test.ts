// RFC 8445 priority formulas with worked numbers, and pairing rules.
import { describe, it, expect } from 'vitest';
import { candidate, candidatePriority, formPairs, pairPriority } from '../../src/overlay/candidates.ts';

describe('candidate priorities (RFC 8445 §5.1.2.1)', () => {
  it('matches worked values', () => {
    expect(candidatePriority('host')).toBe(2130706431); // 126·2^24 + 65535·2^8 + 255
    expect(candidatePriority('prflx')).toBe(1862270975);
    expect(candidatePriority('srflx')).toBe(1694498815);
    expect(candidatePriority('relay')).toBe(16777215);
    expect(candidatePriority('host', 0, 2)).toBe(126 * 2 ** 24 + 254);
  });
  it('rejects out-of-range preferences', () => {
    expect(() => candidatePriority('host', 65536)).toThrow(RangeError);
    expect(() => candidatePriority('host', 1, 0)).toThrow(RangeError);
  });
});

describe('pair priority (RFC 8445 §6.1.2.3)', () => {
  it('is 2^32·min + 2·max + (G>D), exact in 64 bits', () => {
    const g = candidatePriority('host');
    const d = candidatePriority('srflx');
    expect(pairPriority(g, d)).toBe((BigInt(d) << 32n) + 2n * BigInt(g) + 1n);
    expect(pairPriority(d, g)).toBe((BigInt(d) << 32n) + 2n * BigInt(g));
    expect(pairPriority(g, d).toString(16)).toBe('64fffffffdffffff'); // host 0x7effffff vs srflx 0x64ffffff
  });
  it('gives both agents the same order for the same pair', () => {
    const h = candidatePriority('host');
    const r = candidatePriority('relay');
    // controlling host vs controlled relay, seen from either side
    expect(pairPriority(h, r)).toBe(pairPriority(h, r));
    expect(pairPriority(h, r)).not.toBe(pairPriority(r, h));
  });
});

describe('formPairs', () => {
  const relayAddr = { address: '198.51.100.50', port: 3479 };
  const local = [candidate('host', { address: '192.0.2.2', port: 5000 }), candidate('srflx', { address: '198.51.100.2', port: 40000 }), candidate('relay', relayAddr)];
  const remote = [candidate('host', { address: '192.0.2.66', port: 5000 }), candidate('srflx', { address: '198.51.100.3', port: 40000 }), candidate('relay', relayAddr), candidate('relay', { address: '198.51.100.51', port: 3479 })];

  it('pairs host with host/srflx, relay with the same relay only, never sends from srflx; ordered by priority', () => {
    const pairs = formPairs(local, remote, true);
    expect(pairs.map((p) => `${p.local.type}->${p.remote.type}`)).toEqual(['host->host', 'host->srflx', 'relay->relay']);
    expect(pairs.map((p) => p.relayed)).toEqual([false, false, true]);
    expect(pairs[2].remote.address).toEqual(relayAddr);
  });

  it('bounds the number of pairs', () => {
    const many = Array.from({ length: 200 }, (_, i) => candidate('srflx', { address: '198.51.100.3', port: 1000 + i }));
    expect(formPairs(local, many, false, 64)).toHaveLength(64);
  });
});
