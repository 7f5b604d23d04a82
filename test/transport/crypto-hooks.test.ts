// The optional CryptoProvider / PacketKeys hooks the session layer uses:
// openInPlace / openInPlaceLength (only when the endpoint owns received datagrams;
// the length variant preferred), destroy (keys
// wiped once the connection is closed), and the server connection ID handed to
// both sides of the handshake (server(): at creation; client: handlePayload ctx).
import { describe, it, expect } from 'vitest';
import { Pair, Collector, pattern } from './pair.ts';
import type { CryptoProvider, HandshakeContext, PacketKeys } from '../../src/transport/crypto.ts';

interface Counts { open: number; openInPlace: number; destroyed: number; serverCtx: HandshakeContext[]; clientCtx: (HandshakeContext | undefined)[] }

/** XOR "encryption" (no tag) with counters; two-message handshake like plaintextCrypto. */
function xorProvider(c: Counts): CryptoProvider {
  const keys = (): PacketKeys => {
    const k: PacketKeys = {
      overhead: 0,
      seal: (_pn, _h, p) => p.map((b) => b ^ 0x5a),
      open: (_pn, _h, s) => { c.open++; return s.map((b) => b ^ 0x5a); },
      openInPlace: (_pn, _h, s) => { c.openInPlace++; for (let i = 0; i < s.length; i++) s[i] ^= 0x5a; return s; },
      destroy: () => { c.destroyed++; },
    };
    k.next = () => k;
    return k;
  };
  return {
    client: () => ({
      start: () => new Uint8Array([1]),
      handlePayload: (_now, _m, ctx) => { c.clientCtx.push(ctx); return { keys: { send: keys(), recv: keys() } }; },
    }),
    server: (ctx) => {
      c.serverCtx.push(ctx ?? {});
      let done = false;
      return { handlePayload: () => { if (done) return {}; done = true; return { send: new Uint8Array([2]), keys: { send: keys(), recv: keys() } }; } };
    },
  };
}

const counts = (): Counts => ({ open: 0, openInPlace: 0, destroyed: 0, serverCtx: [], clientCtx: [] });

function transfer(owns: boolean) {
  const c = counts();
  const crypto = xorProvider(c);
  const p = new Pair({ client: { crypto, ownsReceivedDatagrams: owns }, server: { crypto, ownsReceivedDatagrams: owns } });
  let n = 0;
  p.drop = (f) => f.sentAt > 30 && f.bytes.length > 1000 && ++n % 13 === 0; // some loss
  const conn = p.connect();
  const id = conn.openStream()!;
  const data = pattern(50_000, 3);
  conn.write(id, data);
  conn.finish(id);
  let sc: Collector | undefined;
  expect(p.driveUntil(() => { const s = p.accepted(); if (s) sc ??= new Collector(s); return !!sc?.poll().finished.has(id); })).toBe(true);
  expect(Buffer.compare(sc!.bytes(id), Buffer.from(data))).toBe(0);
  return { c, p, conn, server: p.accepted()! };
}

/** XOR "encryption" with a 2-byte trailer (0xa5 0x5a), opened in place by openInPlaceLength only. */
function trailerProvider(c: Counts & { openInPlaceLength: number; refused: number }): CryptoProvider {
  const keys = (): PacketKeys => {
    const k: PacketKeys = {
      overhead: 2,
      seal: (_pn, _h, p) => { const o = new Uint8Array(p.length + 2); for (let i = 0; i < p.length; i++) o[i] = p[i] ^ 0x5a; o[p.length] = 0xa5; o[p.length + 1] = 0x5a; return o; },
      open: () => { c.open++; return undefined; },
      openInPlace: () => { c.openInPlace++; return undefined; },
      openInPlaceLength: (_pn, _h, s) => {
        c.openInPlaceLength++;
        const n = s.length - 2;
        if (n < 0 || s[n] !== 0xa5 || s[n + 1] !== 0x5a) { c.refused++; return -1; }
        for (let i = 0; i < n; i++) s[i] ^= 0x5a;
        s[n] = 0xff; s[n + 1] = 0xff; // past the plaintext: must not be read as frames
        return n;
      },
    };
    k.next = () => k;
    return k;
  };
  return {
    client: () => ({ start: () => new Uint8Array([1]), handlePayload: () => ({ keys: { send: keys(), recv: keys() } }) }),
    server: () => {
      let done = false;
      return { handlePayload: () => { if (done) return {}; done = true; return { send: new Uint8Array([2]), keys: { send: keys(), recv: keys() } }; } };
    },
  };
}

describe('crypto hooks', () => {
  it('openInPlaceLength is preferred over openInPlace when the endpoint owns received datagrams; only the plaintext length is decoded', () => {
    const c = { ...counts(), openInPlaceLength: 0, refused: 0 };
    const crypto = trailerProvider(c);
    const p = new Pair({ client: { crypto, ownsReceivedDatagrams: true }, server: { crypto, ownsReceivedDatagrams: true } });
    let n = 0, broken = 0;
    p.drop = (f) => {
      if (f.sentAt > 30 && f.bytes.length > 1000 && ++n % 11 === 0) { const b = f.bytes.slice(); b[b.length - 1] ^= 1; f.bytes = b; broken++; }
      return f.sentAt > 30 && f.bytes.length > 1000 && n % 17 === 0;
    };
    const conn = p.connect();
    const id = conn.openStream()!;
    const data = pattern(60_000, 5);
    conn.write(id, data);
    conn.finish(id);
    let sc: Collector | undefined;
    expect(p.driveUntil(() => { const s = p.accepted(); if (s) sc ??= new Collector(s); return !!sc?.poll().finished.has(id); })).toBe(true);
    expect(Buffer.compare(sc!.bytes(id), Buffer.from(data))).toBe(0);
    expect(c.openInPlaceLength).toBeGreaterThan(30);
    expect(broken).toBeGreaterThan(0);
    expect(c.refused).toBe(broken);
    expect(c.open + c.openInPlace).toBe(0);
  });

  it('1-RTT packets are opened in place only when the endpoint owns received datagrams', () => {
    const owned = transfer(true).c;
    expect(owned.openInPlace).toBeGreaterThan(30);
    expect(owned.open).toBe(0);
    const shared = transfer(false).c;
    expect(shared.openInPlace).toBe(0);
    expect(shared.open).toBeGreaterThan(30);
  });

  it('the server connection ID reaches server() and the client handshake', () => {
    const { c, conn, server } = transfer(false);
    expect(Buffer.from(c.serverCtx[0].serverCid!)).toEqual(Buffer.from(server.localCid));
    expect(Buffer.from(c.serverCtx[0].clientCid!)).toEqual(Buffer.from(conn.localCid));
    expect(Buffer.from(c.clientCtx[0]!.serverCid!)).toEqual(Buffer.from(server.localCid));
  });

  it('packet keys are destroyed once the connection is closed, not while closing', () => {
    const { c, p, conn, server } = transfer(true);
    conn.close(p.time, 0, 'bye');
    p.driveUntil(() => server.state === 'draining');
    expect(c.destroyed).toBe(0);
    p.driveUntil(() => conn.isClosed && server.isClosed);
    expect(c.destroyed).toBe(4); // send + recv on both sides
  });
});
