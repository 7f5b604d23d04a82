// StunProbeCodec: classifier probes as real STUN Binding requests (CHANGE-REQUEST when
// asked), responses matched by transaction id; and the whole classifier against the
// directory's RFC 5780 STUN server over real UDP on loopback (no NAT there: "public").
import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { StunProbeCodec } from '../../src/overlay/stun-probe.ts';
import { NatClassifier } from '../../src/overlay/nat-classify.ts';
import { formatNatType } from '../../src/overlay/nat-types.ts';
import { decodeStun, encodeStun, STUN_METHOD_BINDING } from '../../src/wire/stun.ts';
import { startStunServer } from '../../src/directory/stun-server.ts';
import { bindUdp } from '../../src/datagram/udp.ts';

const rnd = (n: number) => new Uint8Array(randomBytes(n));
const server = { address: '198.51.100.10', port: 3478 };

describe('StunProbeCodec', () => {
  it('encodes probes as Binding requests, reusing the transaction id across retransmissions', () => {
    const codec = new StunProbeCodec(rnd);
    const a = decodeStun(codec.encodeProbe({ id: 1, test: 'map-primary', to: server, change: 'none', transmission: 1 }));
    const a2 = decodeStun(codec.encodeProbe({ id: 1, test: 'map-primary', to: server, change: 'none', transmission: 2 }));
    const b = decodeStun(codec.encodeProbe({ id: 2, test: 'filter-other-ip', to: server, change: 'ip-and-port', transmission: 1 }));
    const c = decodeStun(codec.encodeProbe({ id: 3, test: 'filter-other-port', to: server, change: 'port', transmission: 1 }));
    expect([a.method, a.class, a.changeRequest]).toEqual([STUN_METHOD_BINDING, 'request', undefined]);
    expect(a2.transactionId).toEqual(a.transactionId);
    expect(b.changeRequest).toEqual({ changeIp: true, changePort: true });
    expect(c.changeRequest).toEqual({ changeIp: false, changePort: true });
    expect(b.transactionId).not.toEqual(a.transactionId);
  });

  it('matches responses by transaction id and ignores everything else', () => {
    const codec = new StunProbeCodec(rnd);
    const req = decodeStun(codec.encodeProbe({ id: 7, test: 'map-primary', to: server, change: 'none', transmission: 1 }));
    const mapped = { family: 4 as const, address: '198.51.100.2', port: 40000 };
    const ok = encodeStun({ method: STUN_METHOD_BINDING, class: 'success', transactionId: req.transactionId, attributes: [{ type: 'xor-mapped-address', address: mapped }] });
    expect(codec.decodeResponse(ok, server)).toEqual({ probeId: 7, fact: { mapped: { address: '198.51.100.2', port: 40000 }, from: server } });
    const stranger = encodeStun({ method: STUN_METHOD_BINDING, class: 'success', transactionId: rnd(12), attributes: [{ type: 'xor-mapped-address', address: mapped }] });
    expect(codec.decodeResponse(stranger, server)).toBeUndefined();
    const err = encodeStun({ method: STUN_METHOD_BINDING, class: 'error', transactionId: req.transactionId, attributes: [{ type: 'error-code', code: 420, reason: 'x' }] });
    expect(codec.decodeResponse(err, server)).toBeUndefined();
    expect(codec.decodeResponse(Uint8Array.of(1, 2, 3), server)).toBeUndefined();
    expect(StunProbeCodec.isStun(ok)).toBe(true);
    expect(StunProbeCodec.isStun(Uint8Array.of(0xc7, 1))).toBe(false);
  });

  it('classifies loopback as public against the real RFC 5780 STUN server (real UDP)', async () => {
    const stun = await startStunServer({ address: '127.0.0.1', port: 0, alternateAddress: '127.0.0.2' });
    const sock = await bindUdp({ address: '127.0.0.1' });
    try {
      const codec = new StunProbeCodec(rnd);
      const alt = stun.other!;
      const c = new NatClassifier({
        primary: { address: '127.0.0.1', port: stun.port }, primaryAltPort: { address: '127.0.0.1', port: alt.port },
        secondary: alt, localAddresses: [sock.local], rtoMs: 100,
      }, performance.now());
      const result = await new Promise<ReturnType<NatClassifier['result']>>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const pump = () => {
          for (let p = c.pollProbe(); p; p = c.pollProbe()) sock.send(p.to, codec.encodeProbe(p));
          if (c.result()) { clearTimeout(timer); resolve(c.result()); return; }
          const t = c.pollTimeout();
          clearTimeout(timer);
          if (t !== undefined) timer = setTimeout(() => { c.handleTimeout(performance.now()); pump(); }, Math.max(0, t - performance.now()));
        };
        sock.onDatagram((from, bytes) => {
          const r = codec.decodeResponse(bytes, from);
          if (r) c.handleResponse(performance.now(), r.probeId, r.fact);
          pump();
        });
        setTimeout(() => reject(new Error('classification did not finish in 5 s')), 5000).unref();
        pump();
      });
      expect(formatNatType(result!.nat)).toBe('public');
      expect(result!.certain).toBe(true);
      expect(result!.mapped).toEqual(sock.local);
    } finally {
      sock.close();
      await stun.close();
    }
  });
});
