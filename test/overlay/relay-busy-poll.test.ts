// Adaptive busy polling of the supernode's socket: the sans-IO policy (relay-busy-poll.ts:
// rate per window, on at onAbove, off below offBelow, no timer), the driver applying it
// (RelayBatchDriver: datagrams per batch counted segment by segment, the socket told only
// on a change, off at close), and the real thing — the relay service over the native socket
// with a policy that turns on at once: every DATA still forwarded in order while the socket
// spins, and NativeUdpSocket.setBusyPoll at run time (empty polls counted as recvmmsg calls).
import { describe, it, expect } from 'vitest';
import sodium from 'sodium-native';
import { BusyPollPolicy } from '../../src/overlay/relay-busy-poll.ts';
import { RelayBatchDriver, type BatchCore } from '../../src/overlay/relay-driver.ts';
import { bindUdp } from '../../src/datagram/udp.ts';
import { signTicket } from '../../src/wire/ticket.ts';
import { startRelayService } from '../../src/overlay/relay-service.ts';
import { deviceIdHex } from '../../src/overlay/ticket-verifier.ts';
import { decodeRelayMessage, encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import type { DatagramBatch } from '../../src/datagram/batch.ts';
import type { Clock, DatagramHandler, DatagramSocket, UdpAddress } from '../../src/wire/socket.ts';

describe('BusyPollPolicy', () => {
  it('turns on when a window reaches onAbove datagrams/s, off when one falls below offBelow (hysteresis)', () => {
    const p = new BusyPollPolicy({ spinUs: 150, onAbove: 10_000, offBelow: 4_000, windowMs: 10 });
    expect(p.note(0, 50)).toBe(0); // window 0..10: 50 -> 5,000/s
    expect(p.note(10, 120)).toBe(0); // closes window 1 (5,000/s): still off; window 2 starts with 120
    expect(p.note(20, 1)).toBe(150); // window 2: 120 in 10 ms = 12,000/s: on
    expect(p.on).toBe(true);
    expect(p.note(25, 40)).toBe(150); // within the window: no decision
    expect(p.note(30, 1)).toBe(150); // 41 in 10 ms = 4,100/s: above offBelow, stays on
    expect(p.note(40, 0)).toBe(0); // 1 in 10 ms: off
    expect(p.turnedOn).toBe(1);
  });

  it('a gap closes the window with a low rate: a relay that went idle starts off again', () => {
    const p = new BusyPollPolicy({ onAbove: 1000, windowMs: 5 });
    p.note(0, 100);
    expect(p.note(5, 1)).toBe(200); // 20,000/s
    expect(p.note(5_000, 100)).toBe(0); // 1 datagram in ~5 s
  });

  it('defaults (200 us, 50,000/s, off below half) and refuses nonsense', () => {
    const p = new BusyPollPolicy();
    expect(p.spinUs).toBe(200);
    p.note(0, 999);
    expect(p.note(20, 0)).toBe(0); // 49,950/s
    p.note(40, 0);
    const q = new BusyPollPolicy();
    q.note(0, 1000);
    expect(q.note(20, 0)).toBe(200); // 50,000/s
    expect(new BusyPollPolicy({ spinUs: 5000 }).spinUs).toBe(1000);
    expect(() => new BusyPollPolicy({ onAbove: 0 })).toThrow(RangeError);
    expect(() => new BusyPollPolicy({ onAbove: 10, offBelow: 20 })).toThrow(RangeError);
    expect(() => new BusyPollPolicy({ windowMs: 0 })).toThrow(RangeError);
  });
});

describe('RelayBatchDriver with adaptive busy polling', () => {
  class FakeBatchSocket implements DatagramSocket {
    readonly local = { address: '127.0.0.1', port: 1 };
    batchHandler: ((b: DatagramBatch) => void) | undefined;
    onDatagram(_h: DatagramHandler): void {}
    onBatch(h: (b: DatagramBatch) => void): void { this.batchHandler = h; }
    send(): void {}
    sendRun(): void {}
    flush(): void {}
    close(): void {}
  }
  const core: BatchCore = {
    handleDatagram() {}, handleTimeout() {}, pollInto: () => false, pollTimeout: () => undefined,
    handleRun() {}, pollRunInto: () => false,
  };

  it('counts every segment of every run, applies a change only, and turns spinning off at close', () => {
    let t = 0;
    const clock: Clock = { now: () => t, setTimer: () => ({ cancel() {} }) };
    const sock = new FakeBatchSocket(), applied: number[] = [];
    const d = new RelayBatchDriver(core, sock, clock, { policy: new BusyPollPolicy({ spinUs: 77, onAbove: 2_000, windowMs: 10 }), apply: (us) => applied.push(us) });
    // a batch of two runs: 10 segments of 5 bytes (the last 3) and one datagram of 4
    const batch: DatagramBatch = {
      bytes: new Uint8Array(100), runs: 2, offset: (r) => (r === 0 ? 0 : 60), length: (r) => (r === 0 ? 48 : 4), segmentSize: (r) => (r === 0 ? 5 : 4),
      from: () => ({ address: '198.51.100.2', port: 9 }),
    };
    sock.batchHandler!(batch); // t=0: 11 datagrams
    t = 5; sock.batchHandler!(batch); // 22 in the window
    expect(applied).toEqual([]);
    t = 10; sock.batchHandler!(batch); // window closes: 22 in 10 ms = 2,200/s -> on
    t = 12; sock.batchHandler!(batch);
    expect(applied).toEqual([77]);
    t = 1000; sock.batchHandler!(batch); // long gap: off
    expect(applied).toEqual([77, 0]);
    t = 1010; sock.batchHandler!(batch); sock.batchHandler!(batch);
    t = 1020; sock.batchHandler!(batch);
    expect(applied).toEqual([77, 0, 77]);
    d.close();
    expect(applied).toEqual([77, 0, 77, 0]);
  });
});

describe('adaptive busy polling on the native socket (relay service, loopback)', () => {
  it('the relay spins once the rate is reached and still forwards every DATA in order; setBusyPoll changes polling at run time', async () => {
    const probe = await bindUdp({ address: '127.0.0.1' });
    const native = (probe as unknown as { kind?: string }).kind === 'native';
    probe.close();
    if (!native) return; // node:dgram (TINCAN_UDP=dgram, or no addon): nothing to spin; native-udp.test.ts fails on Linux without the addon
    const pk = Buffer.alloc(32), sk = Buffer.alloc(64);
    sodium.crypto_sign_keypair(pk, sk);
    const A = Uint8Array.from({ length: 16 }, (_, i) => i), B = Uint8Array.from({ length: 16 }, (_, i) => 100 + i);
    const now = Date.now();
    const ticket = signTicket({ issuedAt: now, expiresAt: now + 60_000, deviceA: A, deviceB: B }, sk);
    // on at any rate from the second window: deterministic, whatever the machine's speed
    const service = await startRelayService({ address: '127.0.0.1', port: 0, directoryPublicKey: pk, allowLoopback: true, tcp: false, deviceBytesPerSec: 1e9, deviceBurstBytes: 1e9, totalBytesPerSec: 1e9, totalBurstBytes: 1e9, adaptiveBusyPoll: { onAbove: 1e-6, offBelow: 0, windowMs: 1e-3, spinUs: 100 } });
    const a = await bindUdp({ address: '127.0.0.1' }), b = await bindUdp({ address: '127.0.0.1' });
    try {
      const bindOk = (s: DatagramSocket) => new Promise<bigint>((res, rej) => {
        const t = setTimeout(() => rej(new Error('no BIND-OK')), 3000);
        s.onDatagram((_f, bytes) => { const m = decodeRelayMessage(bytes); if (m.type === 'bind-ok') { clearTimeout(t); res(m.sessionId); } });
      });
      let ok = bindOk(a);
      a.send(service.local, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(A), ticket }));
      const sid = await ok;
      ok = bindOk(b);
      b.send(service.local, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(B), ticket }));
      await ok;
      const total = 3000, got: number[] = [];
      const all = new Promise<void>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`only ${got.length} of ${total} within 10 s`)), 10_000);
        b.onDatagram((_f, bytes) => {
          const m = decodeRelayMessage(bytes);
          if (m.type === 'data') got.push(new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
          if (got.length === total) { clearTimeout(t); res(); }
        });
      });
      const payload = new Uint8Array(1200);
      // bursts of 100, one per event-loop turn (the receive buffer never overflows)
      for (let i = 0; i < total; i++) {
        new DataView(payload.buffer).setUint32(0, i);
        a.send(service.local, encodeRelayMessage({ type: 'data', sessionId: sid, payload }));
        if (i % 100 === 99) await new Promise((r) => setImmediate(r));
      }
      await all;
      expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
      const c = service.udpCounters();
      expect(Number(c.busyPollTurnedOn)).toBeGreaterThanOrEqual(1);
      expect(Number(c.sent)).toBeGreaterThanOrEqual(total);

      // setBusyPoll itself: with it on, each wake-up polls again after its datagram (at least one
      // empty recvmmsg; more unless another task wants the core: an empty poll yields it first)
      const s = (await bindUdp({ address: '127.0.0.1' })) as unknown as DatagramSocket & { setBusyPoll(us: number): void; counters: { recvSyscalls: number; received: number } };
      let seen = 0;
      s.onDatagram(() => { seen++; });
      const wakeUps = async (n: number) => {
        const calls = s.counters.recvSyscalls;
        for (let i = 0; i < n; i++) {
          a.send(s.local, Uint8Array.of(i));
          const want = seen + 1;
          while (seen < want) await new Promise((r) => setTimeout(r, 1));
          await new Promise((r) => setTimeout(r, 2));
        }
        return s.counters.recvSyscalls - calls;
      };
      s.setBusyPoll(300);
      expect(await wakeUps(5)).toBeGreaterThanOrEqual(10);
      s.setBusyPoll(0);
      expect(await wakeUps(5)).toBeLessThanOrEqual(7); // one recvmmsg per wake-up (a spurious one at most now and then)
      s.setBusyPoll(-1); // nonsense: off
      expect(await wakeUps(5)).toBeLessThanOrEqual(7);
      expect(s.counters.received).toBe(15);
      s.close();
      s.setBusyPoll(100); // closed: ignored
    } finally {
      a.close(); b.close(); service.close();
    }
  });
});

export type { UdpAddress };
