// The transport's use of the optional PacketKeys.sealInto: a provider that has
// it gets every 1-RTT packet sealed in place in the packet buffer (header,
// frames, then exactly `overhead` spare bytes) and never sees seal(); one
// without it keeps working through seal(); both put the same bytes on the wire,
// and a tampered packet sealed in place is dropped and counted.
import { describe, it, expect } from 'vitest';
import { Pair, Collector, pattern } from './pair.ts';
import { plaintextCrypto, type CryptoHandshake, type CryptoProvider, type HandshakeResult, type PacketKeys } from '../../src/transport/crypto.ts';
import { crc32 } from '../../src/transport/wire/crc32.ts';
import { SHORT_HEADER_LEN } from '../../src/transport/wire/header.ts';

const isShort = (b: Uint8Array) => (b[0] & 0x80) === 0;

function crcOf(header: Uint8Array, body: Uint8Array): number {
  const all = new Uint8Array(header.length + body.length);
  all.set(header); all.set(body, header.length);
  return crc32(all);
}
const put32 = (out: Uint8Array, o: number, c: number) => { out[o] = c >>> 24; out[o + 1] = (c >>> 16) & 0xff; out[o + 2] = (c >>> 8) & 0xff; out[o + 3] = c & 0xff; };

interface Counts { seal: number; sealInto: number; inPlace: number }

/** CRC-32 keys; with `into`, also sealInto (which checks the transport's buffer layout). */
function crcKeys(into: boolean, counts: Counts): PacketKeys {
  const keys: PacketKeys = {
    overhead: 4,
    seal(_pn, header, plaintext) {
      counts.seal++;
      const out = new Uint8Array(plaintext.length + 4);
      out.set(plaintext);
      put32(out, plaintext.length, crcOf(header, plaintext));
      return out;
    },
    open(_pn, header, sealed) {
      if (sealed.length < 4) return undefined;
      const n = sealed.length - 4;
      const want = ((sealed[n] << 24) | (sealed[n + 1] << 16) | (sealed[n + 2] << 8) | sealed[n + 3]) >>> 0;
      return crcOf(header, sealed.subarray(0, n)) === want ? sealed.subarray(0, n) : undefined;
    },
    next: () => keys,
  };
  if (into) {
    keys.sealInto = (_pn, header, plaintext, out, outOffset) => {
      counts.sealInto++;
      // the transport's layout: header || plaintext || overhead bytes, all one buffer, sealed in place
      if (plaintext.buffer === out.buffer && plaintext.byteOffset === out.byteOffset + outOffset && header.buffer === out.buffer
        && outOffset === SHORT_HEADER_LEN && out.length === outOffset + plaintext.length + 4) counts.inPlace++;
      out.set(plaintext, outOffset); // a no-op copy when in place
      put32(out, outOffset + plaintext.length, crcOf(header, plaintext));
      return plaintext.length + 4;
    };
  }
  return keys;
}

function provider(into: boolean, counts: Counts): CryptoProvider {
  const fix = (r: HandshakeResult): HandshakeResult => (r.keys ? { ...r, keys: { send: crcKeys(into, counts), recv: crcKeys(into, counts) } } : r);
  const wrap = (h: CryptoHandshake): CryptoHandshake => ({ start: h.start?.bind(h), handlePayload: (now, p) => fix(h.handlePayload(now, p)) });
  return { client: (o) => wrap(plaintextCrypto.client(o)), server: () => wrap(plaintextCrypto.server()) };
}

function transfer(into: boolean, tamper: boolean) {
  const counts: Counts = { seal: 0, sealInto: 0, inPlace: 0 };
  const p = new Pair({ client: { crypto: provider(into, counts) }, server: { crypto: provider(into, counts) }, seed: 3 });
  let n = 0, flipped = 0;
  p.drop = (f, by) => {
    if (tamper && by === 'client' && isShort(f.bytes) && f.bytes.length > 100 && ++n % 10 === 0) { const b = f.bytes.slice(); b[b.length - 9] ^= 0x10; f.bytes = b; flipped++; }
    return false;
  };
  const c = p.connect();
  expect(p.driveUntil(() => c.handshakeConfirmed)).toBe(true);
  const id = c.openStream()!;
  const data = pattern(150_000, 4);
  c.write(id, data); c.finish(id);
  let col: Collector | undefined;
  expect(p.driveUntil(() => { col ??= p.accepted() ? new Collector(p.accepted()!) : undefined; return !!col && col.poll().finished.has(id); })).toBe(true);
  expect(Buffer.compare(col!.bytes(id), Buffer.from(data))).toBe(0);
  return { counts, flipped, dropped: p.accepted()!.stats.packetsDropped, log: p.log.map((l) => Buffer.from(l.bytes).toString('hex')) };
}

describe('PacketKeys.sealInto in the transport', () => {
  it('used in place for every 1-RTT packet when present; seal() when absent; identical wire bytes', () => {
    const a = transfer(true, false), b = transfer(false, false);
    expect(a.counts.seal).toBe(0);
    expect(a.counts.sealInto).toBeGreaterThan(100);
    expect(a.counts.inPlace).toBe(a.counts.sealInto);
    expect(b.counts.sealInto).toBe(0);
    expect(b.counts.seal).toBe(a.counts.sealInto);
    expect(a.log).toEqual(b.log);
  });

  it('a tampered packet sealed in place is dropped and counted; the stream still completes', () => {
    const a = transfer(true, true);
    expect(a.flipped).toBeGreaterThan(0);
    expect(a.dropped).toBe(a.flipped);
  });
});
