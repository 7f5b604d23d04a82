// relay-stream-mux.ts over the simulated pipe of sim-peer-harness.ts (virtual time, no
// sockets): frames both ways between a device's RelayStreamFallback and a supernode's
// RelayStreamServer, UDP untouched for other destinations, broken framing closes the
// stream, a dropped stream is reopened after 1 s, refused connects reject `use()`.
import { describe, it, expect } from 'vitest';
import { Network } from '../../src/sim/index.ts';
import { RelayStreamFallback, RelayStreamServer } from '../../src/overlay/relay-stream-mux.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { SimLoop, pipeConnector } from './sim-peer-harness.ts';

function setup() {
  const net = new Network({ seed: 1, log: false });
  const core = net.addRouter('core');
  const sn = net.addHost('sn', '198.51.100.20');
  const dev = net.addHost('dev', '198.51.100.2');
  const other = net.addHost('other', '198.51.100.3');
  for (const h of [sn, dev, other]) net.connect(h, core, { latencyMs: 5 });
  net.autoRoute();
  const relay = { address: '198.51.100.20', port: 3479 };
  const server = new RelayStreamServer(sn.bindUdp(3479));
  const atServer: { from: UdpAddress; text: string; at: number }[] = [];
  server.onDatagram((from, b) => atServer.push({ from, text: Buffer.from(b).toString(), at: net.clock.now() }));
  const fb = new RelayStreamFallback(dev.bindUdp(5000), pipeConnector(net.clock, server, relay, '198.51.100.2', 10), net.clock);
  const atDevice: { from: string; text: string }[] = [];
  fb.onDatagram((from, b) => atDevice.push({ from: `${from.address}:${from.port}`, text: Buffer.from(b).toString() }));
  return { net, loop: new SimLoop(net), server, fb, relay, atServer, atDevice, other };
}

describe('relay streams (RelayStreamServer <-> RelayStreamFallback)', () => {
  it('carries frames both ways in order; other destinations stay on UDP', async () => {
    const s = setup();
    const up = s.fb.use(s.relay);
    await s.loop.settle(up, 100);
    expect(s.net.clock.now()).toBeGreaterThanOrEqual(20); // a round trip
    for (const t of ['one', 'two', 'three']) s.fb.send(s.relay, Buffer.from(t));
    const otherSock = s.other.bindUdp(6000);
    let udp = 0;
    otherSock.onDatagram(() => udp++);
    s.fb.send({ address: '198.51.100.3', port: 6000 }, Buffer.from('udp'));
    await s.loop.until(() => s.atServer.length === 3 && udp === 1, 100);
    expect(s.atServer.map((d) => d.text)).toEqual(['one', 'two', 'three']);
    const from = s.atServer[0].from;
    expect(from.address).toBe('198.51.100.2');
    s.server.send(from, Buffer.from('back'));
    await s.loop.until(() => s.atDevice.length === 1, 100);
    expect(s.atDevice).toEqual([{ from: '198.51.100.20:3479', text: 'back' }]);
    expect(s.server.connections()).toBe(1);
    expect(s.server.counters).toMatchObject({ accepted: 1, framesIn: 3, framesOut: 1 });
  });

  it('a zero-length frame closes the stream; the device reconnects 1 s later', async () => {
    const s = setup();
    await s.loop.settle(s.fb.use(s.relay), 100);
    // Reach under the mux: write raw bytes on the device's stream.
    const stream = (s.fb as unknown as { relays: Map<string, { stream: { write(b: Uint8Array): void } }> }).relays.values().next().value!.stream;
    stream.write(new Uint8Array([0, 0]));
    await s.loop.until(() => s.server.counters.badStreams === 1 && s.server.connections() === 0, 100);
    expect(s.fb.counters.connects).toBe(1);
    s.fb.send(s.relay, Buffer.from('lost'));
    expect(s.fb.counters.framesDropped).toBe(1);
    await s.loop.until(() => s.server.connections() === 1, 1_200);
    expect(s.fb.counters.connects).toBe(2);
    await s.loop.until(() => false, 30); // the reconnect's round trip
    s.fb.send(s.relay, Buffer.from('after'));
    await s.loop.until(() => s.atServer.length === 1, 100);
    expect(s.atServer[0].text).toBe('after');
  });

  it('use() rejects when the relay refuses the stream', async () => {
    const s = setup();
    await expect(s.loop.settle(s.fb.use({ address: '198.51.100.99', port: 3479 }), 100)).rejects.toThrow(/connection refused/);
  });
});
