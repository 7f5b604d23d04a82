// relay-udp.ts on loopback: datagrams both ways with the sender's address, sends that
// validation refuses are dropped and counted (never thrown), close() stops delivery.
// (The supernode as a whole runs on it in relay-service.test.ts and peer-e2e.test.ts.)
import { describe, it, expect } from 'vitest';
import { bindRelayUdp } from '../../src/overlay/relay-udp.ts';

describe('RelayUdpSocket', () => {
  it('sends without copying, validates, counts, closes', async () => {
    const a = await bindRelayUdp('127.0.0.1', 0);
    const b = await bindRelayUdp('127.0.0.1', 0);
    try {
      const got = new Promise<{ from: string; bytes: number[] }>((res) => b.onDatagram((from, bytes) => res({ from: `${from.address}:${from.port}`, bytes: [...bytes] })));
      a.send(b.local, Uint8Array.of(1, 2, 3));
      expect(await got).toEqual({ from: `127.0.0.1:${a.local.port}`, bytes: [1, 2, 3] });
      a.send({ address: 'localhost', port: b.local.port }, Uint8Array.of(1)); // not a dotted quad
      a.send({ address: '127.0.0.1', port: 0 }, Uint8Array.of(1));
      a.send(b.local, new Uint8Array(70_000));
      expect(a.counters).toMatchObject({ sent: 1, dropped: 3, sendErrors: 0 });
      a.close();
      a.send(b.local, Uint8Array.of(9));
      expect(a.counters.dropped).toBe(4);
    } finally {
      a.close();
      b.close();
    }
  });
});
