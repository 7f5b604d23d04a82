// The Driver's batching: a burst of received datagrams costs one afterInput +
// transmit pass when the clock can defer (realClock: setImmediate); with a clock
// that cannot (the simulator's virtual clock) or with batch: false, every input
// runs at once — batching there would never run inside net.run() (that broke the
// real Peer over simulated NATs when batching was first tried).
import { describe, it, expect } from 'vitest';
import { Driver, deferOf, type SansIoEndpoint } from '../../src/datagram/driver.ts';
import { realClock } from '../../src/datagram/udp.ts';
import type { Clock, DatagramHandler, DatagramSocket, UdpAddress } from '../../src/wire/socket.ts';

const peer: UdpAddress = { address: '192.0.2.1', port: 9 };

function setup(clock: Clock, batch?: boolean, runEvery?: number) {
  let handler: DatagramHandler = () => {};
  const sent: Uint8Array[] = [];
  const socket: DatagramSocket = { local: { address: '192.0.2.2', port: 1 }, send: (_to, b) => { sent.push(b); }, onDatagram: (h) => { handler = h; }, close: () => {} };
  let received = 0, owed = 0;
  const endpoint: SansIoEndpoint = {
    handleDatagram: () => { received++; owed = 1; }, // one reply (an ACK) owed per pass
    handleTimeout: () => {},
    pollTransmit: () => (owed-- > 0 ? { to: peer, bytes: new Uint8Array([received]) } : undefined),
    pollTimeout: () => undefined,
  };
  const driver = new Driver(endpoint, socket, clock, { ...(batch === undefined ? {} : { batch }), ...(runEvery === undefined ? {} : { runEvery }) });
  let passes = 0;
  driver.afterInput = () => { passes++; };
  return { deliver: (n: number) => { for (let i = 0; i < n; i++) handler(peer, new Uint8Array(1)); }, driver, sent, passes: () => passes, received: () => received };
}

function deferringClock() {
  const queue: (() => void)[] = [];
  const clock = { now: () => 0, setTimer: () => ({ cancel() {} }), defer: (cb: () => void) => { queue.push(cb); } };
  return { clock, flush: () => { while (queue.length) queue.shift()!(); } };
}

describe('Driver batching', () => {
  it('a deferring clock: four datagrams, one pass, one reply', () => {
    const { clock, flush } = deferringClock();
    const t = setup(clock);
    expect(t.driver.batching).toBe(true);
    t.deliver(4);
    expect(t.received()).toBe(4); // handed over as they arrive
    expect(t.passes()).toBe(0);
    flush();
    expect(t.passes()).toBe(1);
    expect(t.sent.length).toBe(1);
  });

  it('a large receive burst gets a pass every runEvery datagrams (ACKs during the burst), then one at the end', () => {
    const { clock, flush } = deferringClock();
    const t = setup(clock, undefined, 64);
    t.deliver(200);
    expect(t.received()).toBe(200);
    expect(t.passes()).toBe(3); // after datagrams 64, 128, 192
    expect(t.sent.map((b) => b[0])).toEqual([64, 128, 192]);
    flush();
    expect(t.passes()).toBe(4); // the rest (8) at the end of the turn
    expect(t.sent.length).toBe(4);
    flush();
    expect(t.passes()).toBe(4); // a deferred run after a mid-burst pass with nothing new is dropped
  });

  it('runEvery: 0 turns mid-burst passes off; the count restarts after every pass', () => {
    const off = setup(deferringClock().clock, undefined, 0);
    off.deliver(500);
    expect(off.passes()).toBe(0);
    const d = deferringClock();
    const t = setup(d.clock, undefined, 10);
    t.deliver(6); d.flush(); // a turn-end pass resets the count
    t.deliver(9);
    expect(t.passes()).toBe(1);
    t.deliver(1);
    expect(t.passes()).toBe(2);
  });

  it('a clock without defer (virtual time) or batch: false: one pass per datagram', () => {
    const virtual: Clock = { now: () => 0, setTimer: () => ({ cancel() {} }) };
    for (const t of [setup(virtual), setup(deferringClock().clock, false)]) {
      expect(t.driver.batching).toBe(false);
      t.deliver(4);
      expect(t.passes()).toBe(4);
      expect(t.sent.length).toBe(4);
    }
  });

  it('realClock defers with setImmediate', async () => {
    expect(deferOf(realClock)).toBeTypeOf('function');
    const t = setup(realClock);
    t.deliver(3);
    expect(t.passes()).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(t.passes()).toBe(1);
    t.driver.close();
  });
});

describe('Driver hand-over of transmitted buffers', () => {
  function run(owned: boolean) {
    const calls: string[] = [];
    let handler: DatagramHandler = () => {};
    const socket = {
      local: { address: '192.0.2.2', port: 1 }, onDatagram: (h: DatagramHandler) => { handler = h; }, close: () => {},
      send: () => { calls.push('send'); }, sendOwned: () => { calls.push('sendOwned'); }, flush: () => { calls.push('flush'); },
    };
    let owed = 0;
    const endpoint: SansIoEndpoint = {
      handleDatagram: () => { owed = 1; }, handleTimeout: () => {}, pollTimeout: () => undefined,
      pollTransmit: () => (owed-- > 0 ? { to: peer, bytes: new Uint8Array(1) } : undefined),
      ...(owned ? { transmitsOwnedBuffers: true } : {}),
    };
    new Driver(endpoint, socket, { now: () => 0, setTimer: () => ({ cancel() {} }) });
    handler(peer, new Uint8Array(1));
    return calls;
  }
  it('uses sendOwned only for an endpoint whose transmits are fresh buffers', () => {
    expect(run(true)).toEqual(['sendOwned', 'flush']);
    expect(run(false)).toEqual(['send', 'flush']);
  });

  it('flushes a socket that stages sends (flush()) once after each transmit pass', () => {
    let handler: DatagramHandler = () => {};
    const calls: string[] = [];
    const socket = {
      local: { address: '192.0.2.2', port: 1 }, onDatagram: (h: DatagramHandler) => { handler = h; }, close: () => {},
      send: () => { calls.push('send'); }, flush: () => { calls.push('flush'); },
    };
    let owed = 0;
    const endpoint: SansIoEndpoint = {
      handleDatagram: () => { owed = 3; }, handleTimeout: () => {}, pollTimeout: () => undefined,
      pollTransmit: () => (owed-- > 0 ? { to: peer, bytes: new Uint8Array(1) } : undefined),
    };
    new Driver(endpoint, socket, { now: () => 0, setTimer: () => ({ cancel() {} }) });
    handler(peer, new Uint8Array(1));
    expect(calls).toEqual(['send', 'send', 'send', 'flush']);
  });
});

