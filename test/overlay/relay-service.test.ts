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
import { randomBytes } from 'node:crypto';
import { StunProbeCodec } from '../../src/overlay/stun-probe.ts';

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
      c.send(service.local, encodeRelayMessage({ type: 'bind', requestId: 7, deviceId: deviceIdHex(A), ticket: new Uint8Array(0) }));
      expect(await got).toMatchObject({ type: 'error', code: RelayErrorCode.NO_TICKET });
      expect(service.counters().relay).toMatchObject({ forwardedPackets: 1, bindsAccepted: 2, refused: { NO_TICKET: 1 } });
      // A burst: every datagram forwarded, in order; the relay's Driver batches (its clock can
      // defer), so with the native batched socket the burst leaves in a few sendmmsg calls,
      // not one per datagram (node:dgram has no such counter: one send each, as before).
      const burst = 64;
      const payloads: string[] = [];
      const all = new Promise<void>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`only ${payloads.length} of ${burst} within 3 s`)), 3000);
        b.onDatagram((_f, bytes) => {
          const m = decodeRelayMessage(bytes);
          if (m.type === 'data') payloads.push(new TextDecoder().decode(m.payload));
          if (payloads.length === burst) { clearTimeout(t); res(); }
        });
      });
      const udp0 = service.udpCounters();
      for (let i = 0; i < burst; i++) a.send(service.local, encodeRelayMessage({ type: 'data', sessionId, payload: new TextEncoder().encode(`p${String(i).padStart(3, '0')}`.padEnd(1200, '.')) }));
      await all;
      expect(payloads.map((p) => p.slice(0, 4))).toEqual(Array.from({ length: burst }, (_, i) => `p${String(i).padStart(3, '0')}`));
      const udp1 = service.udpCounters();
      expect(Number(udp1.sent) - Number(udp0.sent)).toBe(burst);
      if (udp1.kind === 'native') expect(Number(udp1.sendSyscalls) - Number(udp0.sendSyscalls)).toBeLessThan(burst / 4);
    } finally {
      for (const s of [a, b, c]) s.close();
      service.close();
    }
  });
});

describe('relay service: the batch path (runs in, runs out) over the native socket', () => {
  it.each([true, false])('tcp %s: a burst with a foreign DATA and a STUN request in the middle — every DATA once, in order, byte-exact; the refusal answered; runs leave as GSO messages', async (tcp) => {
    const pk = Buffer.alloc(32), sk = Buffer.alloc(64);
    sodium.crypto_sign_keypair(pk, sk);
    const A = Uint8Array.from({ length: 16 }, (_, i) => i), B = Uint8Array.from({ length: 16 }, (_, i) => 100 + i);
    const now = Date.now();
    const ticket = signTicket({ issuedAt: now, expiresAt: now + 60_000, deviceA: A, deviceB: B }, sk);
    const service = await startRelayService({ address: '127.0.0.1', port: 0, directoryPublicKey: pk, allowLoopback: true, tcp, deviceBytesPerSec: 1e9, deviceBurstBytes: 1e8, totalBytesPerSec: 1e9, totalBurstBytes: 1e8 });
    const a = await bindUdp({ address: '127.0.0.1' });
    const b = await bindUdp({ address: '127.0.0.1' });
    try {
      const native = service.udpCounters().kind === 'native';
      expect(service.udpCounters().path).toBe(native ? 'runs' : 'datagrams');
      let got = next(a);
      a.send(service.local, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(A), ticket }));
      const okA = await got;
      got = next(b);
      b.send(service.local, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(B), ticket }));
      await got;
      const sessionId = okA.type === 'bind-ok' ? okA.sessionId : 0n;
      const burst = 300;
      const sent: Uint8Array[] = [];
      const atB: Uint8Array[] = [];
      const atA: RelayMessage[] = [];
      b.onDatagram((_f, bytes) => atB.push(Uint8Array.from(bytes)));
      a.onDatagram((_f, bytes) => { try { atA.push(decodeRelayMessage(bytes)); } catch { atA.push({ type: 'stun' } as unknown as RelayMessage); } });
      const udp0 = service.udpCounters();
      const codec = new StunProbeCodec((n) => new Uint8Array(randomBytes(n)));
      for (let i = 0; i < burst; i++) {
        const payload = Uint8Array.from({ length: 1200 }, (_, k) => (k * 7 + i) & 0xff);
        payload[0] = i >> 8;
        payload[1] = i & 0xff;
        const d = encodeRelayMessage({ type: 'data', sessionId, payload });
        sent.push(d);
        a.send(service.local, d);
        if (i === 150) {
          a.send(service.local, encodeRelayMessage({ type: 'data', sessionId: sessionId ^ 1n, payload })); // same size, unknown session
          a.send(service.local, codec.encodeProbe({ id: 1, test: 'map-secondary', to: service.local, change: 'none', transmission: 1 }));
        }
      }
      for (let t = 0; t < 3000 && (atB.length < burst || atA.length < 2); t += 5) await new Promise((r) => setTimeout(r, 5));
      expect(atB.length).toBe(burst);
      atB.forEach((x, i) => expect(Buffer.compare(x, sent[i]!), `datagram ${i}`).toBe(0));
      expect(atA.filter((m) => m.type === 'error').map((m) => m.type === 'error' && m.code)).toEqual([RelayErrorCode.UNKNOWN_SESSION]);
      expect(atA.filter((m) => m.type !== 'bind-ok').length).toBe(2); // the ERROR and the STUN answer (B's BIND may still have told A its peer is bound)
      const udp1 = service.udpCounters();
      expect(Number(udp1.sent) - Number(udp0.sent)).toBe(burst + 2);
      if (native) expect(Number(udp1.gsoSegments) - Number(udp0.gsoSegments)).toBeGreaterThan(burst / 2);
      expect(service.counters().relay).toMatchObject({ forwardedPackets: burst, refused: { UNKNOWN_SESSION: 1 } });
      expect(service.counters().stunAnswered).toBe(1);
    } finally {
      for (const s of [a, b]) s.close();
      service.close();
    }
  });
});

describe('supernode service: gossip between three supernodes and STUN (real UDP, loopback)', () => {
  it('supernodes learn about each other by shuffles from a chain of seeds; plain STUN Binding is answered', async () => {
    const pk = Buffer.alloc(32), sk = Buffer.alloc(64);
    sodium.crypto_sign_keypair(pk, sk);
    const ports = [0, 0, 0];
    const services: Awaited<ReturnType<typeof startRelayService>>[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = await startRelayService({
          address: '127.0.0.1', port: ports[i], directoryPublicKey: pk, allowLoopback: true,
          gossip: { self: { id: `sn${i}`, address: { address: '127.0.0.1', port: 0 } }, shuffleIntervalMs: 50 },
        });
        services.push(s);
      }
      const ref = (i: number) => ({ id: `sn${i}`, address: services[i].local });
      services[0].seed([ref(1)]);
      services[1].seed([ref(2)]);
      services[2].seed([ref(0)]);
      // Each was seeded with one other; through shuffles each learns about both others.
      const seen = services.map(() => new Set<string>());
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && !seen.every((x) => x.size >= 2)) {
        services.forEach((s, i) => s.view().forEach((e) => seen[i].add(e.id)));
        await new Promise((r) => setTimeout(r, 10));
      }
      for (const [i, x] of seen.entries()) expect([...x].sort(), `sn${i}`).toEqual([0, 1, 2].filter((j) => j !== i).map((j) => `sn${j}`));
      for (const s of services) expect(s.view().length).toBeLessThanOrEqual(8);
      expect(services.every((s) => s.counters().gossipIn > 0)).toBe(true);

      const sock = await bindUdp({ address: '127.0.0.1' });
      try {
        const codec = new StunProbeCodec((n) => new Uint8Array(randomBytes(n)));
        const reply = new Promise<ReturnType<StunProbeCodec['decodeResponse']>>((res) => sock.onDatagram((from, bytes) => res(codec.decodeResponse(bytes, from))));
        sock.send(services[0].local, codec.encodeProbe({ id: 1, test: 'map-secondary', to: services[0].local, change: 'none', transmission: 1 }));
        expect(await reply).toEqual({ probeId: 1, fact: { mapped: sock.local, from: services[0].local } });
      } finally {
        sock.close();
      }
    } finally {
      for (const s of services) s.close();
    }
  });
});
