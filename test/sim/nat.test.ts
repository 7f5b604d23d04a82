// NAT boxes on real packets, one test per RFC 4787 behaviour: what the public side
// observes as the source, what gets in, and when mappings die.
import { describe, it, expect } from 'vitest';
import { Network, type NatBehavior } from '../../src/sim/index.ts';
import type { UdpAddress as UdpAddressLike } from '../../src/wire/socket.ts';

function lan(behavior: Partial<NatBehavior>, seed = 1) {
  const net = new Network({ seed });
  const nat = net.addNat('nat', { externalAddress: '198.51.100.1', ...behavior });
  const lanRouter = net.addRouter('lan');
  const core = net.addRouter('core');
  const in1 = net.addHost('in1', '192.0.2.10');
  const in2 = net.addHost('in2', '192.0.2.11');
  const s1 = net.addHost('s1', '198.51.100.20');
  const s2 = net.addHost('s2', '198.51.100.30');
  net.connect(in1, lanRouter);
  net.connect(in2, lanRouter);
  net.connect(lanRouter, nat.inside);
  net.connect(nat.outside, core);
  net.connect(core, s1);
  net.connect(core, s2);
  net.autoRoute();
  /** A socket that records (time, from) of what it receives. */
  const listen = (h: typeof s1, port: number) => {
    const sock = h.bindUdp(port);
    const seen: { t: number; from: string }[] = [];
    sock.onDatagram((from: UdpAddressLike) => seen.push({ t: net.clock.now(), from: `${from.address}:${from.port}` }));
    return { sock, seen };
  };
  const send = (atMs: number, sock: { send(to: UdpAddressLike, b: Uint8Array): void }, to: string) => {
    const [address, port] = to.split(':');
    net.at(atMs, () => sock.send({ address, port: Number(port) }, new Uint8Array(8)));
  };
  return { net, nat, in1, in2, s1, s2, listen, send };
}

const portOf = (ep: string) => Number(ep.split(':')[1]);

describe('RFC 4787 mapping behaviour (what the outside sees)', () => {
  it('endpoint-independent mapping: the same external address:port towards two destinations', () => {
    const t = lan({ mapping: 'endpoint-independent' });
    const a = t.listen(t.s1, 7000);
    const b = t.listen(t.s2, 7000);
    const c = t.in1.bindUdp(5000);
    t.send(0, c, '198.51.100.20:7000');
    t.send(1, c, '198.51.100.30:7000');
    t.net.run(100);
    expect(a.seen[0].from).toBe(b.seen[0].from);
    expect(a.seen[0].from.startsWith('198.51.100.1:')).toBe(true);
    expect(t.nat.counters().mappingsCreated).toBe(1);
  });

  it('address-dependent mapping: same port to one host on two ports, a different port to another host', () => {
    const t = lan({ mapping: 'address-dependent' });
    const a = t.listen(t.s1, 7000);
    const a2 = t.listen(t.s1, 7001);
    const b = t.listen(t.s2, 7000);
    const c = t.in1.bindUdp(5000);
    t.send(0, c, '198.51.100.20:7000');
    t.send(1, c, '198.51.100.20:7001');
    t.send(2, c, '198.51.100.30:7000');
    t.net.run(100);
    expect(a2.seen[0].from).toBe(a.seen[0].from);
    expect(b.seen[0].from).not.toBe(a.seen[0].from);
  });

  it('address-and-port-dependent mapping: a different external port for another port of the same host', () => {
    const t = lan({ mapping: 'address-and-port-dependent' });
    const a = t.listen(t.s1, 7000);
    const a2 = t.listen(t.s1, 7001);
    const c = t.in1.bindUdp(5000);
    t.send(0, c, '198.51.100.20:7000');
    t.send(1, c, '198.51.100.20:7001');
    t.send(2, c, '198.51.100.20:7000');
    t.net.run(100);
    expect(a2.seen[0].from).not.toBe(a.seen[0].from);
    expect(a.seen[1].from).toBe(a.seen[0].from); // the mapping is reused for the same destination
    expect(t.nat.counters().mappingsCreated).toBe(2);
  });
});

describe('RFC 4787 filtering behaviour (what gets in)', () => {
  /** in1:5000 sends to s1:7000; then s1:7000, s1:7001 and s2:7000 each send to the mapped endpoint. */
  function probe(filtering: NatBehavior['filtering']) {
    const t = lan({ mapping: 'endpoint-independent', filtering });
    const a = t.listen(t.s1, 7000);
    const a2 = t.s1.bindUdp(7001);
    const b = t.s2.bindUdp(7000);
    const inside = t.listen(t.in1, 5000);
    t.send(0, inside.sock, '198.51.100.20:7000');
    t.net.run(50);
    const mapped = a.seen[0].from;
    t.send(60, a.sock, mapped);
    t.send(70, a2, mapped);
    t.send(80, b, mapped);
    t.net.run(200);
    return { from: inside.seen.map((s) => s.from), drops: t.nat.counters().drops };
  }

  it('endpoint-independent filtering: anyone may reach an existing mapping', () => {
    expect(probe('endpoint-independent').from).toEqual(['198.51.100.20:7000', '198.51.100.20:7001', '198.51.100.30:7000']);
  });

  it('address-dependent filtering: only hosts the inside sent to, from any of their ports', () => {
    const r = probe('address-dependent');
    expect(r.from).toEqual(['198.51.100.20:7000', '198.51.100.20:7001']);
    expect(r.drops).toEqual({ 'nat-filtered': 1 });
  });

  it('address-and-port-dependent filtering: a different port of the same host is dropped', () => {
    const r = probe('address-and-port-dependent');
    expect(r.from).toEqual(['198.51.100.20:7000']);
    expect(r.drops).toEqual({ 'nat-filtered': 2 });
  });

  it('inbound to a port with no mapping is dropped as nat-no-mapping', () => {
    const t = lan({ filtering: 'endpoint-independent' });
    t.send(0, t.s1.bindUdp(7000), '198.51.100.1:5000');
    t.net.run(50);
    expect(t.nat.counters().drops).toEqual({ 'nat-no-mapping': 1 });
  });
});

describe('RFC 4787 port allocation', () => {
  const observed = (behavior: Partial<NatBehavior>, seed = 1) => {
    const t = lan({ mapping: 'endpoint-independent', ...behavior }, seed);
    const a = t.listen(t.s1, 7000);
    for (const [i, p] of [5000, 5001, 6000].entries()) t.send(i, t.in1.bindUdp(p), '198.51.100.20:7000');
    t.send(5, t.in2.bindUdp(5000), '198.51.100.20:7000'); // same internal port, other host
    t.net.run(100);
    return a.seen.map((s) => portOf(s.from));
  };

  it('preserving keeps the internal port, and picks another when it is taken', () => {
    const ports = observed({ portAllocation: 'preserving' });
    expect(ports.slice(0, 3)).toEqual([5000, 5001, 6000]);
    expect(ports[3]).not.toBe(5000);
  });

  it('sequential hands out consecutive ports from portMin', () => {
    expect(observed({ portAllocation: 'sequential', portMin: 40000 })).toEqual([40000, 40001, 40002, 40003]);
  });

  it('random gives distinct, non-consecutive ports that depend on the seed only', () => {
    const p = observed({ portAllocation: 'random' }, 9);
    expect(new Set(p).size).toBe(4);
    expect(p[1] - p[0]).not.toBe(1);
    expect(observed({ portAllocation: 'random' }, 9)).toEqual(p);
    expect(observed({ portAllocation: 'random' }, 10)).not.toEqual(p);
  });
});

describe('mapping timeout and hairpinning', () => {
  it('a mapping expires mappingTimeoutMs after the last outbound packet; outbound refreshes, inbound does not', () => {
    const t = lan({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', portAllocation: 'sequential', mappingTimeoutMs: 30_000 });
    const a = t.listen(t.s1, 7000);
    const inside = t.listen(t.in1, 5000);
    t.send(0, inside.sock, '198.51.100.20:7000');
    t.net.run(100);
    const mapped = a.seen[0].from;
    t.send(20_000, inside.sock, '198.51.100.20:7000'); // refresh: lives until ~50 s
    t.send(45_000, a.sock, mapped); // inbound: delivered, does not refresh
    t.send(51_000, a.sock, mapped); // expired
    t.send(60_000, inside.sock, '198.51.100.20:7000'); // a new mapping
    t.net.run(70_000);
    expect(inside.seen.map((s) => Math.floor(s.t / 1000))).toEqual([45]);
    expect(t.nat.counters().drops).toEqual({ 'nat-no-mapping': 1 });
    expect(t.nat.counters().mappingsExpired).toBe(1);
    expect(a.seen).toHaveLength(3);
    expect(a.seen[2].from).not.toBe(mapped);
  });

  it('hairpinning on: an inside host reaches another via the external address and sees its external source', () => {
    const t = lan({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', hairpinning: true });
    const s = t.listen(t.s1, 7000);
    const two = t.listen(t.in2, 6000);
    const one = t.in1.bindUdp(5000);
    t.send(0, two.sock, '198.51.100.20:7000'); // in2 gets a mapping
    t.send(0, one, '198.51.100.20:7000'); // in1 too
    t.net.run(50);
    const in2Public = s.seen.find((x) => portOf(x.from) !== 5000)!.from;
    const in1Public = s.seen.find((x) => x.from !== in2Public)!.from;
    t.send(60, one, in2Public);
    t.net.run(200);
    expect(two.seen.map((x) => x.from)).toEqual([in1Public]);
  });

  it('hairpinning off: the same packet is dropped and counted', () => {
    const t = lan({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', hairpinning: false });
    const s = t.listen(t.s1, 7000);
    const two = t.listen(t.in2, 6000);
    t.send(0, two.sock, '198.51.100.20:7000');
    t.net.run(50);
    t.send(60, t.in1.bindUdp(5000), s.seen[0].from);
    t.net.run(200);
    expect(two.seen).toEqual([]);
    expect(t.nat.counters().drops).toEqual({ 'nat-hairpin-off': 1 });
  });
});
