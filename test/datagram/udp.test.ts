// The real UDP sockets on loopback, both implementations (node:dgram and the native
// batched socket; the native run is skipped only where the addon cannot exist, and
// native-udp.test.ts fails on Linux when it did not load): the DatagramSocket
// compliance suite plus adapter specifics (counters, receive buffer, bind errors,
// a send just before close, sender reuse) and the real clock.
import { describe, it, expect } from 'vitest';
import { bindUdp as bindAny, NodeUdpSocket, UdpSocket, nativeUdp, realClock, type BindUdpOptions } from '../../src/datagram/udp.ts';
import { describeDatagramSocketCompliance } from './compliance.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

for (const impl of ['dgram', 'native'] as const) {
  const bindUdp = (opts: BindUdpOptions = {}) => bindAny({ ...opts, impl });
  describe.skipIf(impl === 'native' && !nativeUdp.available)(`UDP socket: ${impl}`, () => {

    describeDatagramSocketCompliance(`${impl} on 127.0.0.1`, async () => {
      const a = await bindUdp({ address: '127.0.0.1' });
      const b = await bindUdp({ address: '127.0.0.1' });
      return {
        a,
        b,
        flush: () => sleep(5),
        cleanup: async () => {
          a.close();
          b.close();
          await Promise.all([a.whenClosed(), b.whenClosed()]);
        },
      };
    });

    describe(`bindUdp specifics (${impl})`, () => {
      it('counts refused sends and never looks names up', async () => {
        const s = await bindUdp({ address: '127.0.0.1' });
        try {
          s.send({ address: 'localhost', port: 9 }, Uint8Array.of(1));
          s.send({ address: '127.0.0.1', port: 70000 }, Uint8Array.of(1));
          s.send({ address: '127.0.0.1', port: s.local.port }, new Uint8Array(65_508));
          expect(s.counters.dropped).toBe(3);
          expect(s.counters.sent).toBe(0);
        } finally {
          s.close();
          await s.whenClosed();
        }
      });

      it('enlarges the receive buffer as far as the kernel allows', async () => {
        const small = await bindUdp({ address: '127.0.0.1', recvBufferSize: 64 * 1024 });
        const big = await bindUdp({ address: '127.0.0.1' });
        try {
          expect(big.recvBufferSize).toBeGreaterThanOrEqual(small.recvBufferSize);
          console.log(`receive buffer: requested 4 MiB, kernel granted ${big.recvBufferSize} bytes (64 KiB request: ${small.recvBufferSize})`);
        } finally {
          small.close();
          big.close();
        }
      });

      it('rejects a port already in use and bad arguments', async () => {
        const s = await bindUdp({ address: '127.0.0.1' });
        try {
          await expect(bindUdp({ address: '127.0.0.1', port: s.local.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
          await expect(bindUdp({ address: 'localhost' })).rejects.toThrow(RangeError);
          await expect(bindUdp({ port: -1 })).rejects.toThrow(RangeError);
        } finally {
          s.close();
        }
      });

      it('a datagram sent just before close() still arrives', async () => {
        const a = await bindUdp({ address: '127.0.0.1' });
        const b = await bindUdp({ address: '127.0.0.1' });
        const got: number[] = [];
        b.onDatagram((_from, bytes) => got.push(bytes[0]!));
        try {
          a.send(b.local, Uint8Array.of(7));
          a.close();
          for (let i = 0; i < 100 && got.length === 0; i++) await sleep(5);
          expect(got).toEqual([7]);
          expect(a.counters.sent).toBe(1);
        } finally {
          a.close();
          b.close();
          await Promise.all([a.whenClosed(), b.whenClosed()]);
        }
      });

      it('sendOwned sends a view of the caller\'s bytes (a subarray too), with the same refusals as send', async () => {
        const a = await bindUdp({ address: '127.0.0.1' });
        const b = await bindUdp({ address: '127.0.0.1' });
        const got: number[][] = [];
        b.onDatagram((_from, bytes) => got.push([...bytes]));
        try {
          const buf = Uint8Array.of(9, 1, 2, 3, 9);
          a.sendOwned(b.local, buf.subarray(1, 4));
          a.sendOwned({ address: 'localhost', port: b.local.port }, buf);
          for (let i = 0; i < 100 && got.length === 0; i++) await sleep(5);
          expect(got).toEqual([[1, 2, 3]]);
          expect(a.counters.sent).toBe(1);
          expect(a.counters.dropped).toBe(1);
        } finally {
          a.close();
          b.close();
          await Promise.all([a.whenClosed(), b.whenClosed()]);
        }
      });

      it('reports the right sender when senders alternate (the from address is reused only for the same sender)', async () => {
        const a = await bindUdp({ address: '127.0.0.1' });
        const b = await bindUdp({ address: '127.0.0.1' });
        const r = await bindUdp({ address: '127.0.0.1' });
        const got: string[] = [];
        r.onDatagram((from, bytes) => got.push(`${bytes[0]}@${from.address}:${from.port}`));
        try {
          for (let i = 0; i < 6; i++) (i % 3 === 2 ? b : a).send(r.local, Uint8Array.of(i));
          for (let i = 0; i < 100 && got.length < 6; i++) await sleep(5);
          const want = [0, 1, 2, 3, 4, 5].map((i) => `${i}@127.0.0.1:${(i % 3 === 2 ? b : a).local.port}`);
          expect(got.sort()).toEqual(want.sort());
        } finally {
          for (const s of [a, b, r]) s.close();
          await Promise.all([a.whenClosed(), b.whenClosed(), r.whenClosed()]);
        }
      });

      it('counts a send the kernel refuses (broadcast without SO_BROADCAST)', async () => {
        const s = await bindUdp({ address: '127.0.0.1' });
        try {
          s.send({ address: '255.255.255.255', port: 9 }, Uint8Array.of(1));
          for (let i = 0; i < 100 && s.counters.sendErrors === 0; i++) await sleep(5);
          expect(s.counters.sendErrors).toBe(1);
          expect(s.lastError).toMatch(/^E[A-Z]+$/); // EACCES on Linux
        } finally {
          s.close();
          await s.whenClosed();
        }
      });

      it('is an instance with a real port after binding to port 0', async () => {
        const s = await bindUdp({ address: '127.0.0.1', port: 0 });
        expect(s).toBeInstanceOf(NodeUdpSocket);
        expect(s).toBeInstanceOf(UdpSocket);
        expect(s.kind).toBe(impl);
    expect(s.copiesOnSend).toBe(impl === 'native');
        expect(s.local.port).toBeGreaterThan(0);
        s.close();
        await s.whenClosed();
        expect(s.isClosed).toBe(true);
      });
    });

  });
}

describe('realClock', () => {
  it('fires a timer at (not before) its time and cancel() prevents firing', async () => {
    const start = realClock.now();
    let firedAt = -1;
    let cancelledFired = false;
    realClock.setTimer(start + 20, () => {
      firedAt = realClock.now();
    });
    const h = realClock.setTimer(start + 10, () => {
      cancelledFired = true;
    });
    h.cancel();
    for (let i = 0; i < 100 && firedAt < 0; i++) await sleep(5);
    expect(firedAt - start).toBeGreaterThanOrEqual(20); // never early, although setTimeout alone can be
    expect(cancelledFired).toBe(false);
  });

  it('a timer in the past fires promptly', async () => {
    let fired = false;
    realClock.setTimer(realClock.now() - 1000, () => {
      fired = true;
    });
    for (let i = 0; i < 100 && !fired; i++) await sleep(2);
    expect(fired).toBe(true);
  });
});
