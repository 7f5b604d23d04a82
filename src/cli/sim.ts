// `tincan sim <scenario.json>`: run a simulated network scenario (src/sim), print a
// human summary (or --json), and write the pcap the scenario asks for. Exit code 1 with
// a message naming the bad field when the scenario file is invalid.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { parseScenario, runScenario, type ScenarioReport, type Scenario } from '../sim/index.ts';

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('run a simulated network scenario (hosts, links, routers, NATs, traffic) and write a pcap')
    .argument('<scenario>', 'scenario JSON file, e.g. examples/two-nats.json')
    .option('--pcap <path>', 'write the capture here instead of the scenario\'s pcap.path')
    .option('--no-pcap', 'do not write a pcap file')
    .option('--seed <n>', 'override the scenario seed', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`--seed must be an integer 0..4294967295, got ${v}`);
      return n;
    })
    .option('--json', 'print the full report as JSON')
    .action((file: string, opts: { pcap: string | boolean; seed?: number; json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new Error(`cannot read scenario ${file}: ${(err as Error).message}`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
      }
      let scenario: Scenario;
      try {
        scenario = parseScenario(json);
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).message}`);
      }
      if (opts.seed !== undefined) scenario.seed = opts.seed;
      if (typeof opts.pcap === 'string') {
        if (!scenario.pcap) throw new Error(`${file}: --pcap needs the scenario to say what to capture (pcap.capture: "link:<name>" or "host:<name>")`);
        scenario.pcap.path = opts.pcap;
      }
      if (opts.pcap === false) scenario.pcap = undefined;
      const report = runScenario(scenario);
      if (report.pcap) {
        mkdirSync(dirname(report.pcap.path), { recursive: true });
        writeFileSync(report.pcap.path, report.pcap.bytes);
      }
      if (opts.json) {
        const { pcap, ...rest } = report;
        console.log(JSON.stringify({ ...rest, pcap: pcap && { path: pcap.path, capture: pcap.capture, packets: pcap.packets, notCaptured: pcap.notCaptured } }, null, 2));
      } else {
        console.log(formatReport(scenario, report));
      }
    });
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(1)} ms`);

function natKind(mapping?: string, filtering?: string): string {
  const m = mapping ?? 'endpoint-independent';
  const f = filtering ?? 'address-and-port-dependent';
  if (m === 'endpoint-independent' && f === 'endpoint-independent') return 'full cone';
  if (m === 'endpoint-independent' && f === 'address-dependent') return 'restricted cone';
  if (m === 'endpoint-independent' && f === 'address-and-port-dependent') return 'port-restricted cone';
  if (m === 'address-and-port-dependent') return 'symmetric';
  return 'address-dependent mapping';
}

/** The NAT whose inside a host is linked to (directly), if any. */
function natOfHost(s: Scenario, host: string) {
  for (const l of s.links) {
    const other = l.a === host ? l.b : l.b === host ? l.a : undefined;
    if (other?.endsWith('.inside')) return s.nats.find((x) => `${x.name}.inside` === other);
  }
  return undefined;
}

function punchHint(s: Scenario, a: string, b: string): string | undefined {
  const na = natOfHost(s, a);
  const nb = natOfHost(s, b);
  const sym = [na, nb].find((x) => x?.mapping === 'address-and-port-dependent' || x?.mapping === 'address-dependent');
  if (sym) {
    return `${sym.name} gives every new destination a new external port (${sym.mapping} mapping), so the endpoint the relay saw is ` +
      'not the one its host uses towards the peer, and the other side only admits packets from endpoints it has sent to. ' +
      'Such pairs need a relay (or port prediction).';
  }
  return 'packets were lost or filtered on the way; see the drop reasons below.';
}

export function formatReport(s: Scenario, r: ScenarioReport): string {
  const out: string[] = [];
  const sum = r.summary;
  out.push(`tincan sim: ${s.name} — ${s.description}`);
  out.push(`seed ${r.seed} · ${(sum.nowMs / 1000).toFixed(1)} s of virtual time · ${sum.events} events · event-log digest ${sum.logDigest}`);
  const n = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
  out.push(`topology: ${n(s.hosts.length, 'host')}, ${n(s.routers.length, 'router')}, ${n(s.nats.length, 'NAT')}, ${n(s.links.length, 'link')}`);
  if (s.nats.length > 0) {
    out.push('', 'NATs:');
    for (const n of s.nats) {
      const c = sum.nats[n.name];
      out.push(`  ${n.name} (${n.externalAddress}): ${natKind(n.mapping, n.filtering)} — mapping ${n.mapping ?? 'endpoint-independent'}, filtering ${n.filtering ?? 'address-and-port-dependent'}, ports ${n.portAllocation ?? 'preserving'}`);
      out.push(`      ${c.mappingsCreated} mappings created, ${c.mappingsExpired} expired, ${c.translatedOut} packets out, ${c.translatedIn} in, ${c.droppedFiltered} refused by filtering, ${c.droppedNoMapping} with no mapping`);
    }
  }
  if (r.holepunches.length > 0) {
    out.push('', 'Hole punching (both peers learn each other\'s public endpoint from a rendezvous server, then send PUNCH packets straight at it):');
    for (const h of r.holepunches) {
      const t = s.traffic.find((x) => x.name === h.name);
      const [an, bn] = t && t.type === 'holepunch' ? [t.a, t.b] : ['a', 'b'];
      for (const [name, p] of [[an, h.a], [bn, h.b]] as const) {
        out.push(`  ${name}: peer seen at ${p.peerEndpoint ?? '(never learned)'}, punches sent ${p.punchesSent}, received ${p.punchesReceived}, ` +
          `direct ${p.direct ? `YES (at ${ms(p.directAtMs)})` : 'no'}, data over ${p.path}: sent ${p.dataSent}, received ${p.dataReceived}`);
      }
      const direct = h.a.direct && h.b.direct;
      out.push(`  => ${h.name}: ${direct ? 'DIRECT connection works — the hole punch succeeded' : `direct connection FAILED — data went through the relay (${h.relayed} messages relayed)`}`);
      if (!direct && t && t.type === 'holepunch') {
        const why = punchHint(s, t.a, t.b);
        if (why) out.push(`     why: ${why}`);
      }
    }
  }
  if (r.flows.length > 0) {
    out.push('', 'Flows (constant-rate UDP, one-way):');
    for (const f of r.flows) {
      out.push(`  ${f.name} ${f.from} -> ${f.to}: sent ${f.sent}, received ${f.received}, lost ${f.lost} (${pct(f.lossRate)}), ` +
        `duplicates ${f.duplicates}, out of order ${f.reordered}, latency p50 ${ms(f.latency?.p50Ms)} p99 ${ms(f.latency?.p99Ms)} max ${ms(f.latency?.maxMs)}`);
    }
  }
  if (r.pings.length > 0) {
    out.push('', 'Pings (echo round trips):');
    for (const p of r.pings) {
      out.push(`  ${p.name} ${p.from} -> ${p.to}: sent ${p.sent}, replies ${p.replies} (loss ${pct(p.lossRate)}), rtt min ${ms(p.rtt?.minMs)} p50 ${ms(p.rtt?.p50Ms)} p99 ${ms(p.rtt?.p99Ms)}`);
    }
  }
  const dropTotal = Object.values(sum.drops).reduce((a, b) => a + (b ?? 0), 0);
  out.push('', `Packets: ${sum.packetsSent} sent by hosts, ${sum.datagramsDelivered} delivered to sockets, ${dropTotal} dropped` +
    (dropTotal > 0 ? ` (${Object.entries(sum.drops).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''));
  if (r.pcap) {
    out.push(`pcap: ${r.pcap.packets} packets seen at ${r.pcap.capture} written to ${r.pcap.path} (open it in Wireshark, or: tshark -r ${r.pcap.path})`);
    if (r.pcap.notCaptured > 0) out.push(`      ${r.pcap.notCaptured} later packets were not captured (pcap.maxPackets)`);
  }
  return out.join('\n');
}
