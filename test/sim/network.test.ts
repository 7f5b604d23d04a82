// Network basics: delivery with exact virtual timing, real IPv4 bytes (TTL, checksums),
// routing (longest prefix, dynamic changes, TTL expiry), sockets, determinism.
import { describe, it, expect } from 'vitest';
import { Network } from '../../src/sim/index.ts';
import { parsePcap } from '../../src/wire/pcap.ts';
import { parseUdpPacket } from '../../src/wire/packet.ts';
import { line, pair, payload } from './helpers.ts';

describe('delivery and timing', () => {
  it('delivers a datagram across a router after exactly the two link latencies, TTL 64 -> 63', () => {
    const { net, a, b, rb } = line({ latencyMs: 10 });
    const cap = net.capture(rb);
    const got: { t: number; from: string; len: number }[] = [];
    const sb = b.bindUdp(9000);
    sb.onDatagram((from, bytes) => got.push({ t: net.clock.now(), from: `${from.address}:${from.port}`, len: bytes.length }));
    const sa = a.bindUdp(4000);
    net.at(100, () => sa.send({ address: b.address, port: 9000 }, payload(50, 7)));
    net.run(1000);
    expect(got).toEqual([{ t: 120, from: '198.51.100.10:4000', len: 50 }]);
    const rec = parsePcap(cap.toBytes()).records;
    expect(rec).toHaveLength(1);
    expect(rec[0].timeMs).toBe(120);
    const p = parseUdpPacket(rec[0].bytes); // checksums still valid after the router's in-place update
    expect(p.ttl).toBe(63);
    expect(p.payload).toEqual(payload(50, 7));
  });

  it('serialises at the link bandwidth: 1028-byte packets at 1 Mbit/s leave 8.224 ms apart', () => {
    const { net, a, b } = pair({ latencyMs: 5, bandwidthBps: 1_000_000 });
    const times: number[] = [];
    b.bindUdp(9).onDatagram(() => times.push(net.clock.now()));
    const s = a.bindUdp();
    for (let i = 0; i < 3; i++) s.send({ address: b.address, port: 9 }, payload(1000));
    net.run(1000);
    expect(times.map((t) => Math.round(t * 1000) / 1000)).toEqual([13.224, 21.448, 29.672]);
  });

  it('run(until) stops at the limit and leaves later events pending; clock timers fire in order', () => {
    const net = new Network();
    const order: string[] = [];
    net.clock.setTimer(50, () => order.push('b'));
    net.clock.setTimer(10, () => order.push('a'));
    const h = net.clock.setTimer(30, () => order.push('cancelled'));
    h.cancel();
    net.clock.setTimer(500, () => order.push('late'));
    net.run(100);
    expect(order).toEqual(['a', 'b']);
    expect(net.clock.now()).toBe(100);
    net.run(1000);
    expect(order).toEqual(['a', 'b', 'late']);
  });
});

describe('routing', () => {
  it('uses the longest matching prefix and follows route changes during a run', () => {
    const net = new Network();
    const src = net.addHost('src', '198.51.100.10');
    const wide = net.addHost('wide', '203.0.113.50');
    const narrow = net.addHost('narrow', '203.0.113.60');
    const r = net.addRouter('r');
    net.connect(src, r);
    const toWide = net.connect(r, wide);
    const toNarrow = net.connect(r, narrow);
    r.addRoute('203.0.113.0/24', toWide);
    r.addRoute('203.0.113.60/32', toNarrow);
    // narrow only accepts its own address, so it counts 'not-for-host' when misrouted to it and vice versa.
    const gotWide: number[] = [];
    const gotNarrow: number[] = [];
    wide.bindUdp(1).onDatagram((_f, b) => gotWide.push(b[0]));
    narrow.bindUdp(1).onDatagram((_f, b) => gotNarrow.push(b[0]));
    const s = src.bindUdp();
    net.at(10, () => {
      s.send({ address: '203.0.113.50', port: 1 }, payload(1, 1));
      s.send({ address: '203.0.113.60', port: 1 }, payload(1, 2));
    });
    net.at(20, () => r.removeRoute('203.0.113.60/32'));
    net.at(30, () => s.send({ address: '203.0.113.60', port: 1 }, payload(1, 3)));
    net.run(100);
    expect(gotWide).toEqual([1]);
    expect(gotNarrow).toEqual([2]);
    expect(wide.counters().drops['not-for-host']).toBe(1); // packet 3 went the /24 way after the change
  });

  it('drops a packet in a routing loop when its TTL runs out, and counts it', () => {
    const net = new Network();
    const h = net.addHost('h', '198.51.100.10');
    const r1 = net.addRouter('r1');
    const r2 = net.addRouter('r2');
    net.connect(h, r1);
    const l12 = net.connect(r1, r2);
    r1.addRoute('0.0.0.0/0', l12);
    r2.addRoute('0.0.0.0/0', l12);
    h.bindUdp().send({ address: '203.0.113.1', port: 5 }, payload(10));
    net.run(1000);
    expect(net.drops()).toEqual({ 'ttl-expired': 1 });
    expect(r1.forwarded + r2.forwarded).toBe(63);
  });

  it('counts no-route', () => {
    const net = new Network();
    const h = net.addHost('h', '198.51.100.10');
    const r = net.addRouter('r');
    net.connect(h, r);
    h.bindUdp().send({ address: '203.0.113.1', port: 5 }, payload(10));
    net.run(100);
    expect(r.counters().drops).toEqual({ 'no-route': 1 });
  });
});

describe('sockets', () => {
  it('allocates ephemeral ports in order, refuses a bound port, frees it on close', () => {
    const { a } = pair();
    const s1 = a.bindUdp();
    const s2 = a.bindUdp();
    expect([s1.local.port, s2.local.port]).toEqual([49152, 49153]);
    expect(s1.local.address).toBe('198.51.100.10');
    expect(() => a.bindUdp(49152)).toThrow(/already bound/);
    s1.close();
    s1.close(); // idempotent
    expect(a.bindUdp(49152).local.port).toBe(49152);
  });

  it('drops and counts: send on a closed socket, oversize payload, unbound destination port; loopback works', () => {
    const { net, a, b } = pair();
    const s = a.bindUdp();
    const loop: number[] = [];
    const own = a.bindUdp(77);
    own.onDatagram((_f, bytes) => loop.push(bytes.length));
    s.send({ address: a.address, port: 77 }, payload(3));
    s.send({ address: b.address, port: 1234 }, payload(3));
    s.send({ address: b.address, port: 1234 }, payload(65_508));
    s.close();
    s.send({ address: b.address, port: 1234 }, payload(3));
    net.run(100);
    expect(loop).toEqual([3]);
    expect(net.drops()).toEqual({ 'port-unreachable': 1, oversize: 1, 'socket-closed': 1 });
  });

  it('delivers to the right socket with the right sender while sockets, senders and destinations change (host fast paths)', () => {
    const { net, a, b } = pair();
    const got: string[] = [];
    const listen = (port: number) => {
      const s = b.bindUdp(port);
      s.onDatagram((from, bytes) => got.push(`${port}<-${from.address}:${from.port}#${bytes[0]}`));
      return s;
    };
    const s9000 = listen(9000);
    listen(9001);
    const a1 = a.bindUdp(4000);
    const a2 = a.bindUdp(4001);
    const seen: unknown[] = [];
    const back = a.bindUdp(4002);
    back.onDatagram((from) => seen.push(from));
    const echo = b.bindUdp(7);
    echo.onDatagram((from, bytes) => echo.send(from, bytes));
    const to = (port: number) => ({ address: b.address, port });
    let n = 0;
    const send = (s: typeof a1, port: number) => s.send(to(port), new Uint8Array([++n]));
    net.at(0.5, () => a1.send({ address: '', port: 9000 }, new Uint8Array([99]))); // first destination of this host
    net.at(1, () => { send(a1, 9000); send(a1, 9000); send(a2, 9000); send(a1, 9001); send(a2, 9001); });
    net.at(10, () => { s9000.close(); send(a1, 9000); send(a1, 9001); });
    net.at(20, () => { listen(9000); send(a2, 9000); });
    net.at(30, () => {
      a1.send({ address: '', port: 9000 }, new Uint8Array([99])); // not an address: refused, not cached as one
      a1.send({ address: 'b', port: 9000 }, new Uint8Array([99]));
      send(a1, 9001);
      a1.send({ address: '', port: 9000 }, new Uint8Array([99]));
      for (let i = 0; i < 3; i++) back.send(to(7), new Uint8Array([i]));
    });
    net.run(100);
    const A = a.address;
    expect(got).toEqual([
      `9000<-${A}:4000#1`, `9000<-${A}:4000#2`, `9000<-${A}:4001#3`, `9001<-${A}:4000#4`, `9001<-${A}:4001#5`,
      `9001<-${A}:4000#7`, `9000<-${A}:4001#8`, `9001<-${A}:4000#9`,
    ]);
    expect(net.drops()).toEqual({ 'port-unreachable': 1, 'bad-destination': 4 });
    expect(seen).toEqual([to(7), to(7), to(7)]);
  });
});

describe('determinism', () => {
  const run = (seed: number) => {
    const { net, a, b } = line({ latencyMs: 3, jitterMs: 4, lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.05, reorderDelayMs: 2, corruptRate: 0.02, bandwidthBps: 5e6, queuePackets: 20 }, seed);
    const sb = b.bindUdp(9);
    sb.onDatagram((from, bytes) => sb.send(from, bytes));
    const sa = a.bindUdp();
    for (let i = 0; i < 500; i++) net.at(i * 0.5, () => sa.send({ address: b.address, port: 9 }, payload(100 + (i % 50), i & 0xff)));
    net.run(10_000);
    return net.summary();
  };

  it('the same seed gives the same event log hash; another seed gives another', () => {
    const x = run(11);
    const y = run(11);
    const z = run(12);
    expect(x.logDigest).toBe(y.logDigest);
    expect(x).toEqual(y);
    expect(z.logDigest).not.toBe(x.logDigest);
    expect(x.events).toBeGreaterThan(1500);
  });
});

describe('dynamic topology', () => {
  it('after a link is removed, autoRoute() recomputes and traffic takes the other way round a ring', () => {
    const net = new Network();
    const a = net.addHost('a', '198.51.100.10');
    const b = net.addHost('b', '203.0.113.20');
    const [r1, r2, r3] = ['r1', 'r2', 'r3'].map((n) => net.addRouter(n));
    net.connect(a, r1);
    net.connect(r2, b);
    const direct = net.connect(r1, r2, { latencyMs: 5 });
    net.connect(r1, r3, { latencyMs: 20 });
    net.connect(r3, r2, { latencyMs: 20 });
    net.autoRoute();
    const times: number[] = [];
    b.bindUdp(9).onDatagram(() => times.push(net.clock.now()));
    const s = a.bindUdp();
    net.at(0, () => s.send({ address: b.address, port: 9 }, payload(1)));
    net.at(100, () => {
      net.disconnect(direct);
      net.autoRoute();
    });
    net.at(200, () => s.send({ address: b.address, port: 9 }, payload(1)));
    net.run(1000);
    expect(times).toEqual([7, 242]); // 1 + 5 + 1, then 1 + 20 + 20 + 1
    expect(net.links.has(direct.name)).toBe(false);
  });
});

describe('event storms', () => {
  it('a timer that re-arms itself at "now" forever makes run() throw instead of hanging', () => {
    const net = new Network({ maxEventsPerInstant: 10_000 });
    const again = () => net.clock.setTimer(net.clock.now(), again);
    net.clock.setTimer(5, again);
    expect(() => net.run(10)).toThrow(/without time advancing/);
  });
});
