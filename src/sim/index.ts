// tincan's deterministic network simulator: the public entry point.
//
// Everything runs in virtual time (no wall clock, no timers, no Math.random): the
// same seed and the same calls give the same packets at the same instants. Packets
// on the simulated wire are real IPv4+UDP bytes (src/wire codecs), so captures open
// in Wireshark.
//
// Usage:
//
//   import { Network } from '../sim/index.ts';
//
//   const net = new Network({ seed: 7 });
//   const alice = net.addHost('alice', '192.0.2.10');          // private side of a NAT
//   const server = net.addHost('server', '198.51.100.2');      // public host
//   const nat = net.addNat('nat', { externalAddress: '198.51.100.1', mapping: 'endpoint-independent',
//                                   filtering: 'address-and-port-dependent' });
//   const core = net.addRouter('core');
//   net.connect(alice, nat.inside, { latencyMs: 2 });
//   const wan = net.connect(nat.outside, core, { latencyMs: 20, jitterMs: 5, lossRate: 0.01,
//                                                bandwidthBps: 10e6, queueBytes: 64_000 });
//   net.connect(core, server, { latencyMs: 5 });
//   net.autoRoute();                                           // or core.addRoute('198.51.100.0/24', link)
//
//   const echo = server.bindUdp(7000);                         // a DatagramSocket (src/wire/socket.ts)
//   echo.onDatagram((from, bytes) => echo.send(from, bytes));  // `from` is the NAT's external endpoint
//   const sock = alice.bindUdp();                              // ephemeral port
//   sock.onDatagram((from, bytes) => console.log(net.clock.now(), from, bytes.length));
//   net.clock.setTimer(100, () => sock.send({ address: '198.51.100.2', port: 7000 }, new Uint8Array(32)));
//
//   const pcap = net.capture(wan);                             // or net.capture(alice)
//   wan.bToA.configure({ bandwidthBps: 2e6 });                 // one direction only (asymmetric)
//   net.at(5_000, () => wan.setUp(false));                     // dynamic topology
//   net.run(10_000);                                           // run until t = 10 s (virtual)
//   net.summary();                                             // counters: drops by reason, links, NATs
//   pcap.toBytes();                                            // classic pcap, LINKTYPE_RAW
//
// `net.clock` is a `Clock` (now + setTimer), so a sans-IO endpoint's driver runs
// unchanged over `host.bindUdp()` sockets and this clock.
export { Network, type NetworkOptions, type NatOptions, type Attachable, type NetworkSummary } from './network.ts';
export { Host, type HostCounters, EPHEMERAL_MIN, EPHEMERAL_MAX } from './host.ts';
export { Router } from './router.ts';
export { Nat, NatSide } from './nat.ts';
export { Link, Port, LinkDirection, type LinkOptions, type LinkCounters, type GilbertElliott } from './link.ts';
export { NatTable, NAT_PRESETS, DEFAULT_NAT_BEHAVIOR, type NatBehavior, type NatMappingBehavior, type NatFilteringBehavior,
  type NatPortAllocation, type NatMapping, type NatCounters } from './nat-table.ts';
export { SimUdpSocket, MAX_UDP_PAYLOAD } from './udp-socket.ts';
export { Capture, type CaptureOptions } from './capture.ts';
export { RoutingTable, parsePrefix, formatPrefix, type Prefix } from './routing-table.ts';
export { EventQueue } from './event-queue.ts';
export { EventLog, EventKind } from './event-log.ts';
export { createRng, type Rng } from './rng.ts';
export { DROP_REASONS, type DropReason, type DropCounts } from './drops.ts';
export { ConstantRateFlow, FlowSink, Pinger, startEcho, latencyStats, type FlowReport, type PingReport, type LatencyStats } from './traffic.ts';
export { Rendezvous, HolePunchPeer, type PunchReport } from './holepunch.ts';
export { parseScenario, runScenario, ScenarioError, type Scenario, type ScenarioReport } from './scenario.ts';
