// Handshake-stage packets are protected only by a CRC, so an on-path attacker
// who saw the connection IDs can forge a CONNECTION_CLOSE in one. Such a close
// is held for one PTO: authenticated progress (keys from the peer's handshake
// message, an opened 1-RTT packet) discards it; without progress it takes effect.
import { describe, it, expect } from 'vitest';
import { Pair, Collector } from './pair.ts';
import { encodeLongPacket } from '../../src/transport/wire/header.ts';
import { encodeFrame, frameLen, type Frame } from '../../src/transport/wire/frames.ts';
import { Writer } from '../../src/transport/wire/cursor.ts';
import type { CryptoProvider } from '../../src/transport/crypto.ts';

function closeFrame(reason: string): Uint8Array {
  const f: Frame = { type: 'connection_close', app: false, code: 0x100, frameType: 0, reason };
  const out = new Uint8Array(frameLen(f));
  encodeFrame(new Writer(out), f);
  return out;
}

describe('unauthenticated CONNECTION_CLOSE during the handshake', () => {
  it('a forged close from the client address does not kill the server side of a live handshake', () => {
    const p = new Pair();
    const c = p.connect();
    const id = c.openStream()!;
    c.write(id, new TextEncoder().encode('still here'));
    c.finish(id);
    expect(p.driveUntil(() => !!p.accepted())).toBe(true); // t = 10: the server answered
    const s = p.accepted()!;
    const forged = encodeLongPacket({ type: 'handshake', dcid: s.localCid, scid: c.localCid, pn: 7, payload: closeFrame('forged') });
    p.server.handleDatagram(p.time, p.clientAddr, forged);
    const sc = new Collector(s);
    expect(sc.poll().has('closed')).toBe(false);
    expect(s.state).toBe('handshake');
    expect(p.driveUntil(() => sc.poll().finished.has(id))).toBe(true);
    expect(sc.bytes(id).toString()).toBe('still here');
    expect(sc.has('closed')).toBe(false);
    expect(s.handshakeConfirmed).toBe(true);
  });

  it('a genuine close (the handshake failed at the peer) takes effect one PTO after it arrived', () => {
    const bad: CryptoProvider = {
      client: () => ({ start: () => new Uint8Array([1]), handlePayload: () => ({}) }),
      server: () => ({ handlePayload: () => { throw new Error('unknown peer key'); } }),
    };
    const p = new Pair({ client: { crypto: bad }, server: { crypto: bad } });
    const c = p.connect();
    const cc = new Collector(c);
    expect(p.driveUntil(() => p.log.some((l) => l.by === 'server'))).toBe(true);
    const arrives = p.log.find((l) => l.by === 'server')!.at + p.latencyMs;
    expect(p.driveUntil(() => cc.poll().has('closed'))).toBe(true);
    // no RTT sample yet: PTO = 333 + 4 x 333/2 = 999 ms
    expect(p.time).toBe(arrives + 999);
    expect(cc.events.find((e) => e.type === 'closed')).toMatchObject({ code: 0x100, remote: true, reason: 'handshake failed: unknown peer key' });
  });
});
