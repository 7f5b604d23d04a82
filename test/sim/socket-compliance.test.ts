// The shared DatagramSocket compliance suite (test/datagram/compliance.ts) against the
// simulator's host sockets: two hosts across a router, flush = run virtual time until idle.
import { describe, it, expect } from 'vitest';
import { Network } from '../../src/sim/index.ts';
import { describeDatagramSocketCompliance } from '../datagram/compliance.ts';

function build() {
  const net = new Network({ seed: 3 });
  const ha = net.addHost('a', '198.51.100.10');
  const hb = net.addHost('b', '203.0.113.20');
  const r = net.addRouter('r');
  net.connect(ha, r, { latencyMs: 2, mtu: 9000 });
  net.connect(r, hb, { latencyMs: 3, mtu: 9000 });
  net.autoRoute();
  return { net, ha, hb };
}

describeDatagramSocketCompliance('simulator host sockets', async () => {
  const { net, ha, hb } = build();
  const a = ha.bindUdp();
  const b = hb.bindUdp();
  return {
    a,
    b,
    flush: async () => {
      net.runUntilIdle();
    },
    cleanup: async () => {
      a.close();
      b.close();
    },
  };
});

describe('simulator socket specifics', () => {
  it('counts refused sends by reason and never throws', () => {
    const { net, ha } = build();
    const s = ha.bindUdp();
    s.send({ address: 'localhost', port: 9 }, Uint8Array.of(1));
    s.send({ address: '203.0.113.20', port: 70000 }, Uint8Array.of(1));
    s.send({ address: '203.0.113.20', port: 0 }, Uint8Array.of(1));
    s.send({ address: '203.0.113.20', port: 9 }, new Uint8Array(65_508));
    expect(s.counters).toEqual({ sent: 0, received: 0, dropped: 4 });
    expect(net.drops()).toEqual({ 'bad-destination': 3, oversize: 1 });
  });
});
