// The usage example at the top of src/sim/index.ts, run as written (keeps it true).
import { describe, it, expect } from 'vitest';
import { Network } from '../../src/sim/index.ts';
import { parsePcap } from '../../src/wire/pcap.ts';

describe('src/sim/index.ts usage example', () => {
  it('runs and behaves as its comments say', () => {
    const net = new Network({ seed: 7 });
    const alice = net.addHost('alice', '192.0.2.10');
    const server = net.addHost('server', '198.51.100.2');
    const nat = net.addNat('nat', { externalAddress: '198.51.100.1', mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' });
    const core = net.addRouter('core');
    net.connect(alice, nat.inside, { latencyMs: 2 });
    const wan = net.connect(nat.outside, core, { latencyMs: 20, jitterMs: 5, lossRate: 0.01, bandwidthBps: 10e6, queueBytes: 64_000 });
    net.connect(core, server, { latencyMs: 5 });
    net.autoRoute();

    const echo = server.bindUdp(7000);
    const seenByServer: string[] = [];
    echo.onDatagram((from, bytes) => {
      seenByServer.push(`${from.address}:${from.port}`);
      echo.send(from, bytes);
    });
    const sock = alice.bindUdp();
    const replies: number[] = [];
    sock.onDatagram((_from, bytes) => replies.push(bytes.length));
    net.clock.setTimer(100, () => sock.send({ address: '198.51.100.2', port: 7000 }, new Uint8Array(32)));

    wan.bToA.configure({ bandwidthBps: 2e6 });
    const pcap = net.capture(wan);
    net.at(5_000, () => wan.setUp(false));
    net.run(10_000);
    expect(seenByServer).toEqual(['198.51.100.1:49152']);
    expect(replies).toEqual([32]);
    expect(net.summary().nats.nat.mappingsCreated).toBe(1);
    expect(parsePcap(pcap.toBytes()).records).toHaveLength(2);
    expect(net.clock.now()).toBe(10_000);
  });
});
