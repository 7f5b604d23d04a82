// `npm run bench:sim`: simulated packet-hop events per second (one core) on a
// 1,000-host topology, printed as JSON. A hop event = one packet arriving at the far
// end of one link (counted from link counters). Topology: a ring of 10 backbone
// routers; 100 public echo servers (203.0.113.0/24, 10 per router); 9 NATs
// (198.51.100.1-9) each with 100 hosts on a private 192.0.2.0/24 LAN. Every private
// host pings a server at `--pps` for `--seconds` of virtual time, through its NAT and
// the backbone (about 5-6 links each way). Wall-clock rate and rate per CPU-second of
// this process are both reported (the machine may be shared), and per CPU-second of the
// main thread alone (Linux /proc; excludes V8's background GC and compiler threads, which
// run on another core — "one core" in the sense). `forwardingOnly` measures
// the same for a 20-router chain (per-hop cost without per-packet send/receive work).
// Options: --seconds N (default 4), --pps N (default 50), --warmup N (default 1).
import { Network, type Host, type Router } from '../src/sim/index.ts';
import { ConstantRateFlow, Pinger, startEcho } from '../src/sim/traffic.ts';
import { readFileSync } from 'node:fs';

/** CPU ms of this process's main thread so far (Linux), or NaN elsewhere. */
function mainThreadCpuMs(): number {
  try {
    const r = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = r.slice(r.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, USER_HZ = 100
  } catch {
    return NaN;
  }
}
const perSec = (n: number, ms: number) => (Number.isFinite(ms) && ms > 0 ? Math.round(n / (ms / 1000)) : null);

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

function build(seed: number, seconds: number, pps: number) {
  const net = new Network({ seed, log: false });
  // Backbone: 10 routers in a ring, 5-15 ms per span, 10 Gbit/s.
  const backbone: Router[] = [];
  for (let i = 0; i < ROUTERS; i++) backbone.push(net.addRouter(`bb${i}`));
  for (let i = 0; i < ROUTERS; i++) {
    net.connect(backbone[i], backbone[(i + 1) % ROUTERS], { latencyMs: 5 + i, bandwidthBps: 10e9 });
  }
  // 100 public echo servers, 10 per backbone router.
  const servers: Host[] = [];
  for (let i = 0; i < 100; i++) {
    const s = net.addHost(`server${i}`, `203.0.113.${10 + i}`);
    net.connect(s, backbone[i % ROUTERS], { latencyMs: 0.5, bandwidthBps: 1e9 });
    startEcho(s.bindUdp(7));
    servers.push(s);
  }
  // 9 NATed sites of 100 hosts (each LAN reuses 192.0.2.0/24), NAT i on backbone router i.
  const clients: Host[] = [];
  for (let site = 0; site < 9; site++) {
    const nat = net.addNat(`nat${site}`, { externalAddress: `198.51.100.${site + 1}`, mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' });
    net.connect(nat.outside, backbone[site], { latencyMs: 2, jitterMs: 1, bandwidthBps: 1e9, lossRate: 0.001 });
    for (let i = 0; i < 100; i++) {
      const h = net.addHost(`h${site}-${i}`, `192.0.2.${10 + i}`);
      net.connect(h, nat.inside, { latencyMs: 0.5, bandwidthBps: 100e6 });
      clients.push(h);
    }
  }
  net.autoRoute();
  const stopMs = seconds * 1000;
  clients.forEach((h, i) => {
    const server = servers[(i * 37) % servers.length];
    new Pinger(net.clock, h.bindUdp(), { address: server.address, port: 7 }, {
      flowId: i, intervalMs: 1000 / pps, sizeBytes: 100, startMs: ((i % 100) / 100) * (1000 / pps), stopMs,
    });
  });
  return { net, stopMs, hosts: servers.length + clients.length };
}

/** Forwarding capacity alone: 100 flows across a chain of 20 routers (21 hops per packet). */
function routerChain(seconds: number) {
  const net = new Network({ seed: 3, log: false });
  const a = net.addHost('a', '198.51.100.10');
  const b = net.addHost('b', '203.0.113.20');
  let prev: Host | Router = a;
  for (let i = 0; i < 20; i++) {
    const r = net.addRouter(`r${i}`);
    net.connect(prev, r, { latencyMs: 1, bandwidthBps: 1e9 });
    prev = r;
  }
  net.connect(prev, b, { latencyMs: 1 });
  net.autoRoute();
  b.bindUdp(9).onDatagram(() => {});
  for (let f = 0; f < 100; f++) {
    new ConstantRateFlow(net.clock, a.bindUdp(), { address: b.address, port: 9 }, { flowId: f, ratePps: 1000, sizeBytes: 100, startMs: f / 100, stopMs: seconds * 1000 });
  }
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const t0 = process.hrtime.bigint();
  net.run(seconds * 1000 + 100);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const mainMs = mainThreadCpuMs() - main0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const h = hops(net);
  return {
    routers: 20, hopEvents: h, hopsPerPacket: Math.round((h / net.summary().packetsSent) * 100) / 100,
    hopEventsPerSec: Math.round(h / (wallMs / 1000)), hopEventsPerCpuSec: Math.round(h / (cpuMs / 1000)),
    hopEventsPerMainThreadCpuSec: perSec(h, mainMs),
  };
}

function hops(net: Network): number {
  let n = 0;
  for (const l of net.links.values()) n += l.aToB.delivered + l.bToA.delivered;
  return n;
}

const ROUTERS = 10;
const seconds = arg('seconds', 4);
const pps = arg('pps', 50);
const warmup = arg('warmup', 1);

// Warm-up run (JIT), not measured.
{
  const { net, stopMs } = build(1, warmup, pps);
  net.run(stopMs + 1000);
}

const { net, stopMs, hosts } = build(2, seconds, pps);
const cpu0 = process.cpuUsage();
const main0 = mainThreadCpuMs();
const t0 = process.hrtime.bigint();
net.run(stopMs + 1000);
const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
const mainMs = mainThreadCpuMs() - main0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
const hopEvents = hops(net);
const s = net.summary();
console.log(JSON.stringify({
  benchmark: 'sim',
  topology: { hosts, routers: net.routers.size, nats: net.nats.size, links: net.links.size },
  simulatedMs: stopMs + 1000,
  packetsSent: s.packetsSent,
  datagramsDelivered: s.datagramsDelivered,
  drops: s.drops,
  hopEvents,
  events: s.events,
  hopsPerPacket: Math.round((hopEvents / s.packetsSent) * 100) / 100,
  wallMs: Math.round(wallMs),
  cpuMs: Math.round(cpuMs),
  hopEventsPerSec: Math.round(hopEvents / (wallMs / 1000)),
  hopEventsPerCpuSec: Math.round(hopEvents / (cpuMs / 1000)),
  mainThreadCpuMs: mainMs,
  hopEventsPerMainThreadCpuSec: perSec(hopEvents, mainMs),
  eventsPerSec: Math.round(s.events / (wallMs / 1000)),
  goalHopEventsPerSec: 1_000_000,
  forwardingOnly: routerChain(seconds / 2),
  node: process.version,
}, null, 2));
