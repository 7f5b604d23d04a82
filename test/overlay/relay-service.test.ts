// The relay service over real UDP on loopback: two devices bind with a real directory
// ticket and exchange DATA through it; a device without a ticket is refused.
import { describe, it, expect } from 'vitest';
import sodium from 'sodium-native';
import { bindUdp } from '../../src/datagram/udp.ts';
import { signTicket } from '../../src/wire/ticket.ts';
import { startRelayService } from '../../src/overlay/relay-service.ts';
import { deviceIdHex } from '../../src/overlay/ticket-verifier.ts';
import { decodeRelayMessage, encodeRelayMessage, RelayErrorCode, type RelayMessage } from '../../src/overlay/relay-wire.ts';
import type { DatagramSocket } from '../../src/wire/socket.ts';

function next(sock: DatagramSocket): Promise<RelayMessage> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error('no datagram within 2 s')), 2000);
    sock.onDatagram((_f, bytes) => { clearTimeout(t); res(decodeRelayMessage(bytes)); });
  });
}

describe('relay service (real UDP, loopback)', () => {
  it('forwards between two ticket holders and refuses a device without a ticket', async () => {
    const pk = Buffer.alloc(32), sk = Buffer.alloc(64);
    sodium.crypto_sign_keypair(pk, sk);
    const A = Uint8Array.from({ length: 16 }, (_, i) => i), B = Uint8Array.from({ length: 16 }, (_, i) => 100 + i);
    const now = Date.now();
    const ticket = signTicket({ issuedAt: now, expiresAt: now + 60_000, deviceA: A, deviceB: B }, sk);
    const service = await startRelayService({ address: '127.0.0.1', port: 0, directoryPublicKey: pk, allowLoopback: true });
    const a = await bindUdp({ address: '127.0.0.1' });
    const b = await bindUdp({ address: '127.0.0.1' });
    const c = await bindUdp({ address: '127.0.0.1' });
    try {
      let got = next(a);
      a.send(service.local, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(A), ticket }));
      const okA = await got;
      expect(okA).toMatchObject({ type: 'bind-ok', peerBound: false, observed: a.local });
      got = next(b);
      const notifyA = next(a);
      b.send(service.local, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(B), ticket }));
      expect(await got).toMatchObject({ type: 'bind-ok', peerBound: true });
      expect(await notifyA).toMatchObject({ type: 'bind-ok', peerBound: true });
      const sessionId = okA.type === 'bind-ok' ? okA.sessionId : 0n;
      got = next(b);
      a.send(service.local, encodeRelayMessage({ type: 'data', sessionId, payload: new TextEncoder().encode('sealed') }));
      const d = await got;
      expect(d.type === 'data' && new TextDecoder().decode(d.payload)).toBe('sealed');
      got = next(c);
      c.send(service.local, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(A), ticket: new Uint8Array(0) }));
      expect(await got).toMatchObject({ type: 'error', code: RelayErrorCode.NO_TICKET });
      expect(service.counters()).toMatchObject({ forwardedPackets: 1, bindsAccepted: 2, refused: { NO_TICKET: 1 } });
    } finally {
      for (const s of [a, b, c]) s.close();
      service.close();
    }
  });
});
