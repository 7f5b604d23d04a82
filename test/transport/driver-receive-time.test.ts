// The datagram Driver's receive time (src/datagram/driver.ts): with batching, the
// clock is read once per synchronous run of received datagrams (a native receive
// batch is one JS call) and again after a microtask checkpoint or a pass; without
// batching (virtual time) every datagram reads the clock, so simulated time that
// advances between datagrams is seen exactly.
import { describe, it, expect } from 'vitest';
import { Driver, type SansIoEndpoint } from '../../src/datagram/driver.ts';
import type { Clock, DatagramHandler, DatagramSocket, Millis, UdpAddress } from '../../src/wire/socket.ts';

const peer: UdpAddress = { address: '192.0.2.1', port: 9 };

function setup(defer: boolean, runEvery?: number) {
  let handler: DatagramHandler = () => {};
  let t = 0, reads = 0;
  const queue: (() => void)[] = [];
  const clock: Clock & { defer?: (cb: () => void) => void } = {
    now: () => { reads++; return t; },
    setTimer: () => ({ cancel() {} }),
    ...(defer ? { defer: (cb: () => void) => { queue.push(cb); } } : {}),
  };
  const socket: DatagramSocket = { local: { address: '192.0.2.2', port: 1 }, send: () => {}, onDatagram: (h) => { handler = h; }, close: () => {} };
  const times: Millis[] = [];
  const endpoint: SansIoEndpoint = { handleDatagram: (now) => { times.push(now); }, handleTimeout: () => {}, pollTransmit: () => undefined, pollTimeout: () => undefined };
  const driver = new Driver(endpoint, socket, clock, runEvery === undefined ? {} : { runEvery });
  return {
    driver, times,
    /** n datagrams in one synchronous call, the clock advancing 1 ms before each */
    burst: (n: number) => { for (let i = 0; i < n; i++) { t++; handler(peer, new Uint8Array(1)); } },
    reads: () => reads,
    flush: () => { while (queue.length) queue.shift()!(); },
  };
}

describe('Driver receive time', () => {
  it('batching: one clock read per synchronous burst; the next burst (after a microtask) reads it again', async () => {
    const d = setup(true, 0);
    d.burst(5);
    expect(d.times).toEqual([1, 1, 1, 1, 1]);
    expect(d.reads()).toBe(1);
    await Promise.resolve(); // a microtask checkpoint: the batch is over
    d.burst(3);
    expect(d.times.slice(5)).toEqual([6, 6, 6]);
    expect(d.reads()).toBe(2);
  });

  it('batching: a mid-burst pass refreshes the time for the datagrams after it', () => {
    const d = setup(true, 4);
    d.burst(10);
    // passes after datagrams 4 and 8 (each reads the clock once for its transmits)
    expect(d.times).toEqual([1, 1, 1, 1, 5, 5, 5, 5, 9, 9]);
  });

  it('no batching (virtual time): every datagram reads the clock', () => {
    const d = setup(false);
    d.burst(4);
    expect(d.times).toEqual([1, 2, 3, 4]);
  });
});
