// Transport scenarios about paths (QUIC interop runner style): rebind-port and
// rebind-addr (the client's NAT rebinds at 1 s and then every 5 s during a
// 10 MB transfer: the connection survives after path validation) and
// amplificationlimit (before the client's address is validated the server
// never sends more than 3x the bytes it received from it, even when its
// handshake message is much larger). TINCAN_SCENARIO_SEEDS=N for N seeds.
import { describe, it, expect } from 'vitest';
import { Scenario, MB, SEEDS, checksumCrypto } from './harness.ts';
import type { CryptoProvider } from '../../../src/transport/crypto.ts';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../../../src/wire/socket.ts';

function rebindEvery(s: Scenario, rebind: (i: number) => void): void {
  let i = 0;
  const next = (at: number) => s.net.at(at, () => { rebind(i++); next(at + 5000); });
  next(1000);
}

describe.each(SEEDS)('path scenarios (seed %i)', (seed) => {
  it('rebind-port: new client port at 1 s, then every 5 s; 10 MB arrives byte-exact', () => {
    const s = new Scenario(seed);
    const c = s.client();
    const f = s.startTransfer(c, [10 * MB]);
    const ports: number[] = [c.sock.local.port];
    rebindEvery(s, () => { c.rebind(); ports.push(c.sock.local.port); });
    expect(s.runUntilDone(60_000), `seed ${seed}`).toBe(true);
    expect(new Set(ports).size).toBeGreaterThanOrEqual(3);
    expect(s.serverConn(f)!.remote.port).toBe(c.sock.local.port);
  });

  it('rebind-addr: new client address at 1 s, then every 5 s; 10 MB arrives byte-exact', () => {
    const s = new Scenario(seed);
    const c = s.client();
    const other = s.addClientHost();
    const f = s.startTransfer(c, [10 * MB]);
    const hosts = [c.host, other];
    rebindEvery(s, (i) => c.rebind(hosts[(i + 1) % 2]));
    expect(s.runUntilDone(60_000), `seed ${seed}`).toBe(true);
    expect(s.serverConn(f)!.remote.address).toBe(c.sock.local.address);
  });

  it('amplificationlimit: a 9 kB server handshake message never exceeds 3x before validation', () => {
    // the server's handshake message is padded to 9,000 bytes (a large certificate chain, say)
    const big: CryptoProvider = {
      client: (o) => checksumCrypto.client(o),
      server: () => {
        const h = checksumCrypto.server();
        return { handlePayload: (now, p) => { const r = h.handlePayload(now, p); return r.send ? { ...r, send: padTo(r.send, 9000) } : r; } };
      },
    };
    const log: { dir: 'in' | 'out'; bytes: number; validates: boolean }[] = [];
    let dropUntil = 0;
    const s = new Scenario(seed, {}, {}, {
      crypto: big,
      serverSocket: (inner) => new TapSocket(inner, (dir, b) => {
        // the client's datagrams after its first Initial vanish for 1 s: the server must stall at 3x
        if (dir === 'in' && log.some((l) => l.dir === 'in') && s.net.clock.now() < dropUntil) return false;
        log.push({ dir, bytes: b.length, validates: dir === 'in' && (b[0] & 0xb0) !== 0x80 });
        return true;
      }),
    });
    dropUntil = 1000;
    const f = s.startTransfer(s.client(), [100 * 1000]);
    expect(s.runUntilDone(30_000), `seed ${seed}`).toBe(true);
    let received = 0, sent = 0, maxRatio = 0;
    for (const l of log) {
      if (l.validates) break;
      if (l.dir === 'in') received += l.bytes; else { sent += l.bytes; maxRatio = Math.max(maxRatio, sent / received); }
    }
    expect(maxRatio).toBeLessThanOrEqual(3);
    expect(sent).toBeGreaterThan(2 * 1200); // it did use its budget while waiting
    expect(s.serverConn(f)!.isEstablished).toBe(true);
  });
});

function padTo(msg: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(Math.max(n, msg.length));
  out.set(msg);
  return out;
}

/** Observes (and may drop, by returning false) the server's datagrams in both directions. */
class TapSocket implements DatagramSocket {
  constructor(private readonly inner: DatagramSocket, private readonly tap: (dir: 'in' | 'out', bytes: Uint8Array) => boolean) {}
  get local(): UdpAddress { return this.inner.local; }
  send(to: UdpAddress, bytes: Uint8Array): void { if (this.tap('out', bytes)) this.inner.send(to, bytes); }
  onDatagram(h: DatagramHandler): void { this.inner.onDatagram((from, b) => { if (this.tap('in', b)) h(from, b); }); }
  close(): void { this.inner.close(); }
}
