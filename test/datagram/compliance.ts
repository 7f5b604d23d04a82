// The DatagramSocket compliance suite (src/wire/socket.ts contract). One suite, run
// against every implementation: real UDP (test/datagram/udp.test.ts) and the
// simulator's sockets. A factory returns two sockets that can reach each other
// directly (no NAT between them), `flush()` = "let in-flight datagrams arrive"
// (real: a short sleep; simulator: run the virtual clock until idle) and
// `cleanup()`. Payloads up to 8,000 bytes must fit the path (simulator: MTU >= 8,028).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { DatagramSocket, UdpAddress } from '../../src/wire/socket.ts';

export interface CompliancePair {
  a: DatagramSocket;
  b: DatagramSocket;
  flush(): Promise<void>;
  cleanup(): Promise<void>;
}

export type CompliancePairFactory = () => Promise<CompliancePair>;

interface Received {
  from: UdpAddress;
  bytes: Uint8Array;
}

/** Flush until `done()` holds, at most `rounds` times (bounded). */
async function flushUntil(pair: CompliancePair, done: () => boolean, rounds = 100): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) await pair.flush();
}

function collect(socket: DatagramSocket): Received[] {
  const got: Received[] = [];
  socket.onDatagram((from, bytes) => got.push({ from: { address: from.address, port: from.port }, bytes: Uint8Array.from(bytes) }));
  return got;
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export function describeDatagramSocketCompliance(name: string, factory: CompliancePairFactory): void {
  describe(`DatagramSocket compliance: ${name}`, () => {
    let pair: CompliancePair;
    beforeEach(async () => {
      pair = await factory();
    });
    afterEach(async () => {
      await pair.cleanup();
    });

    it('local addresses are IPv4 with a real port', () => {
      for (const s of [pair.a, pair.b]) {
        expect(s.local.address).toMatch(/^\d{1,3}(\.\d{1,3}){3}$/);
        expect(Number.isInteger(s.local.port)).toBe(true);
        expect(s.local.port).toBeGreaterThan(0);
        expect(s.local.port).toBeLessThanOrEqual(65535);
      }
    });

    it('delivers a datagram with exact bytes and the sender as source, both ways', async () => {
      const atB = collect(pair.b);
      const atA = collect(pair.a);
      const hello = new TextEncoder().encode('hello from a');
      pair.a.send(pair.b.local, hello);
      await flushUntil(pair, () => atB.length >= 1);
      expect(atB.length).toBe(1);
      expect(hex(atB[0].bytes)).toBe(hex(hello));
      expect(atB[0].from).toEqual({ address: pair.a.local.address, port: pair.a.local.port });
      pair.b.send(atB[0].from, Uint8Array.of(1, 2, 3));
      await flushUntil(pair, () => atA.length >= 1);
      expect(atA.map((r) => hex(r.bytes))).toEqual(['010203']);
      expect(atA[0].from).toEqual({ address: pair.b.local.address, port: pair.b.local.port });
    });

    it('keeps payload bytes exact for 0, 1, 1400 and 8000 bytes', async () => {
      const atB = collect(pair.b);
      const sizes = [0, 1, 1400, 8000];
      const sent = sizes.map((n, i) => pattern(n, i));
      for (const p of sent) pair.a.send(pair.b.local, p);
      await flushUntil(pair, () => atB.length >= sizes.length);
      expect(atB.length).toBe(sizes.length);
      // order across datagrams is not part of the contract
      expect(atB.map((r) => hex(r.bytes)).sort()).toEqual(sent.map(hex).sort());
    });

    it('takes the bytes at send time (the caller may reuse its buffer)', async () => {
      const atB = collect(pair.b);
      const buf = Uint8Array.of(7, 7, 7, 7);
      pair.a.send(pair.b.local, buf);
      buf.fill(9);
      await flushUntil(pair, () => atB.length >= 1);
      expect(hex(atB[0].bytes)).toBe('07070707');
    });

    it('delivers a burst of 50 datagrams', async () => {
      const atB = collect(pair.b);
      for (let i = 0; i < 50; i++) pair.a.send(pair.b.local, Uint8Array.of(i, 255 - i));
      await flushUntil(pair, () => atB.length >= 50);
      expect(atB.map((r) => r.bytes[0]).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });

    it('a later onDatagram replaces the earlier handler', async () => {
      const first = collect(pair.b);
      pair.a.send(pair.b.local, Uint8Array.of(1));
      await flushUntil(pair, () => first.length >= 1);
      const second = collect(pair.b);
      pair.a.send(pair.b.local, Uint8Array.of(2));
      await flushUntil(pair, () => second.length >= 1);
      expect(first.map((r) => r.bytes[0])).toEqual([1]);
      expect(second.map((r) => r.bytes[0])).toEqual([2]);
    });

    it('close() is idempotent, stops delivery, and later sends do not throw', async () => {
      const atB = collect(pair.b);
      pair.b.close();
      pair.b.close();
      pair.a.send(pair.b.local, Uint8Array.of(1));
      for (let i = 0; i < 3; i++) await pair.flush();
      expect(atB).toEqual([]);
      expect(() => pair.b.send(pair.a.local, Uint8Array.of(2))).not.toThrow();
      expect(() => pair.b.onDatagram(() => undefined)).not.toThrow();
    });

    it('close() on the receiver drops datagrams already in flight', async () => {
      const atB = collect(pair.b);
      pair.a.send(pair.b.local, Uint8Array.of(1));
      pair.b.close();
      for (let i = 0; i < 3; i++) await pair.flush();
      expect(atB).toEqual([]);
    });

    it('send() never throws: oversize, nobody listening, odd addresses', async () => {
      expect(() => pair.a.send(pair.b.local, new Uint8Array(65_508))).not.toThrow();
      expect(() => pair.a.send({ address: pair.b.local.address, port: pair.b.local.port === 65535 ? 65534 : pair.b.local.port + 1 }, Uint8Array.of(1))).not.toThrow();
      expect(() => pair.a.send({ address: 'not-an-address', port: 1 }, Uint8Array.of(1))).not.toThrow();
      expect(() => pair.a.send({ address: pair.b.local.address, port: 0 }, Uint8Array.of(1))).not.toThrow();
      await pair.flush();
      // the socket still works afterwards
      const atB = collect(pair.b);
      pair.a.send(pair.b.local, Uint8Array.of(42));
      await flushUntil(pair, () => atB.length >= 1);
      expect(atB.map((r) => r.bytes[0])).toEqual([42]);
    });
  });
}
