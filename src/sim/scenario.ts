// Scenario files for `tincan sim`: JSON describing topology, NATs, impairments,
// traffic and a capture point. `parseScenario(json)` validates untrusted input and
// throws ScenarioError naming the bad field (e.g. `links[2].lossRate`); `runScenario`
// builds the Network, runs it for durationMs and returns a report (no I/O here: the
// CLI reads the file and writes the pcap). Field reference: examples/README.md.
import { ipv4ToU32 } from '../wire/ipv4-address.ts';
import type { UdpAddress } from '../wire/socket.ts';
import { HolePunchPeer, Rendezvous, type PunchReport } from './holepunch.ts';
import type { Host } from './host.ts';
import type { GilbertElliott, LinkOptions } from './link.ts';
import { NAT_PRESETS, type NatBehavior } from './nat-table.ts';
import { Network, type Attachable, type NetworkSummary } from './network.ts';
import { parsePrefix } from './routing-table.ts';
import { ConstantRateFlow, FlowSink, Pinger, startEcho, type FlowReport, type PingReport } from './traffic.ts';

/** Bound on the traffic a scenario file may ask for (keeps `tincan sim` runs finite). */
export const MAX_SCENARIO_PACKETS = 20_000_000;

export class ScenarioError extends Error {
  constructor(readonly field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'ScenarioError';
  }
}

type Json = unknown;
type Obj = Record<string, Json>;

export interface ScenarioNat extends Partial<NatBehavior> {
  name: string;
  externalAddress: string;
  type?: keyof typeof NAT_PRESETS;
}
export interface ScenarioLink extends LinkOptions {
  a: string;
  b: string;
  name?: string;
  /** Per-direction overrides (asymmetric links, one-way outages). */
  aToB?: LinkOptions;
  bToA?: LinkOptions;
}
export type ScenarioTraffic =
  | { type: 'flow'; name: string; from: string; to: string; ratePps: number; sizeBytes: number; startMs: number; stopMs: number }
  | { type: 'ping'; name: string; from: string; to: string; intervalMs: number; sizeBytes: number; startMs: number; stopMs: number }
  | { type: 'holepunch'; name: string; a: string; b: string; rendezvous: string; startMs: number; punchIntervalMs: number; punchAttempts: number; messages: number };

export interface Scenario {
  name: string;
  description: string;
  seed: number;
  durationMs: number;
  hosts: { name: string; address: string }[];
  routers: { name: string }[];
  nats: ScenarioNat[];
  links: ScenarioLink[];
  routes: { router: string; prefix: string; via: string }[];
  autoRoutes: boolean;
  changes: { atMs: number; link: string; set: LinkOptions }[];
  traffic: ScenarioTraffic[];
  pcap: { path: string; capture: string; maxPackets: number } | undefined;
}

// ---- validation helpers: each names the field it rejects -------------------------

function obj(v: Json, f: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ScenarioError(f, 'must be an object');
  return v as Obj;
}
function arr(v: Json, f: string, max = 100_000): Json[] {
  if (!Array.isArray(v)) throw new ScenarioError(f, 'must be an array');
  if (v.length > max) throw new ScenarioError(f, `at most ${max} entries`);
  return v;
}
function known(o: Obj, f: string, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ScenarioError(`${f}.${k}`, `unknown field (known: ${keys.join(', ')})`);
}
function str(o: Obj, k: string, f: string, def?: string, max = 200): string {
  const v = o[k];
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new ScenarioError(`${f}.${k}`, v === undefined ? 'is required (a string)' : `must be a non-empty string of at most ${max} characters`);
  return v;
}
function num(o: Obj, k: string, f: string, opts: { min?: number; max?: number; int?: boolean; def?: number } = {}): number {
  const v = o[k];
  if (v === undefined && opts.def !== undefined) return opts.def;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ScenarioError(`${f}.${k}`, v === undefined ? 'is required (a number)' : `must be a number, got ${JSON.stringify(v)}`);
  if (opts.int && !Number.isInteger(v)) throw new ScenarioError(`${f}.${k}`, `must be an integer, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw new ScenarioError(`${f}.${k}`, `must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new ScenarioError(`${f}.${k}`, `must be <= ${opts.max}, got ${v}`);
  return v;
}
function optNum(o: Obj, k: string, f: string, opts: { min?: number; max?: number; int?: boolean } = {}): number | undefined {
  return o[k] === undefined ? undefined : num(o, k, f, opts);
}
function oneOf<T extends string>(o: Obj, k: string, f: string, values: readonly T[], def?: T): T {
  const v = o[k];
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'string' || !values.includes(v as T)) throw new ScenarioError(`${f}.${k}`, `must be one of ${values.map((x) => `"${x}"`).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}
function bool(o: Obj, k: string, f: string, def: boolean): boolean {
  const v = o[k];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new ScenarioError(`${f}.${k}`, 'must be true or false');
  return v;
}
function address(o: Obj, k: string, f: string): string {
  const v = str(o, k, f);
  try {
    ipv4ToU32(v);
  } catch {
    throw new ScenarioError(`${f}.${k}`, `must be an IPv4 address like 198.51.100.7, got "${v}"`);
  }
  return v;
}

const LINK_FIELDS = ['latencyMs', 'jitterMs', 'bandwidthBps', 'queueBytes', 'queuePackets', 'lossRate', 'gilbertElliott',
  'duplicateRate', 'reorderRate', 'reorderDelayMs', 'corruptRate', 'mtu', 'up', 'flap', 'outages'];

function linkOptions(o: Obj, f: string): LinkOptions {
  const p = (k: string) => optNum(o, k, f, { min: 0, max: 1 });
  const ms = (k: string) => optNum(o, k, f, { min: 0, max: 86_400_000 });
  const out: LinkOptions = {
    latencyMs: ms('latencyMs'), jitterMs: ms('jitterMs'), bandwidthBps: optNum(o, 'bandwidthBps', f, { min: 1 }),
    queueBytes: optNum(o, 'queueBytes', f, { min: 0, int: true }), queuePackets: optNum(o, 'queuePackets', f, { min: 0, int: true }),
    lossRate: p('lossRate'), duplicateRate: p('duplicateRate'), reorderRate: p('reorderRate'), reorderDelayMs: ms('reorderDelayMs'),
    corruptRate: p('corruptRate'), mtu: optNum(o, 'mtu', f, { min: 28, max: 65535, int: true }),
    up: o.up === undefined ? undefined : bool(o, 'up', f, true),
  };
  if (o.gilbertElliott !== undefined) {
    const gf = `${f}.gilbertElliott`;
    const g = obj(o.gilbertElliott, gf);
    known(g, gf, ['pGoodToBad', 'pBadToGood', 'lossGood', 'lossBad']);
    const ge: GilbertElliott = {
      pGoodToBad: num(g, 'pGoodToBad', gf, { min: 0, max: 1 }), pBadToGood: num(g, 'pBadToGood', gf, { min: 0, max: 1 }),
      lossGood: optNum(g, 'lossGood', gf, { min: 0, max: 1 }), lossBad: optNum(g, 'lossBad', gf, { min: 0, max: 1 }),
    };
    out.gilbertElliott = ge;
  }
  if (o.flap !== undefined) {
    const ff = `${f}.flap`;
    const fl = obj(o.flap, ff);
    known(fl, ff, ['upMs', 'downMs', 'offsetMs']);
    out.flap = { upMs: num(fl, 'upMs', ff, { min: 1 }), downMs: num(fl, 'downMs', ff, { min: 0 }), offsetMs: optNum(fl, 'offsetMs', ff, { min: 0 }) };
  }
  if (o.outages !== undefined) {
    out.outages = arr(o.outages, `${f}.outages`, 1000).map((w, i) => {
      const wf = `${f}.outages[${i}]`;
      const wo = obj(w, wf);
      known(wo, wf, ['fromMs', 'toMs']);
      const fromMs = num(wo, 'fromMs', wf, { min: 0 });
      return { fromMs, toMs: num(wo, 'toMs', wf, { min: fromMs }) };
    });
  }
  for (const k of Object.keys(out) as (keyof LinkOptions)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** Validate untrusted scenario JSON (already parsed). Throws ScenarioError naming the field. */
export function parseScenario(input: Json): Scenario {
  const root = obj(input, 'scenario');
  known(root, 'scenario', ['name', 'description', 'seed', 'durationMs', 'hosts', 'routers', 'nats', 'links', 'routes', 'autoRoutes', 'changes', 'traffic', 'pcap']);
  const names = new Set<string>();
  const claim = (name: string, f: string) => {
    if (names.has(name)) throw new ScenarioError(f, `name "${name}" is used twice`);
    if (/\.(inside|outside)$/.test(name)) throw new ScenarioError(f, `names ending in .inside/.outside are reserved for NAT sides, got "${name}"`);
    names.add(name);
  };
  const hosts = arr(root.hosts ?? [], 'hosts', 10_000).map((h, i) => {
    const f = `hosts[${i}]`;
    const o = obj(h, f);
    known(o, f, ['name', 'address']);
    const name = str(o, 'name', f);
    claim(name, `${f}.name`);
    return { name, address: address(o, 'address', f) };
  });
  const routers = arr(root.routers ?? [], 'routers', 1000).map((r, i) => {
    const f = `routers[${i}]`;
    const o = obj(r, f);
    known(o, f, ['name']);
    const name = str(o, 'name', f);
    claim(name, `${f}.name`);
    return { name };
  });
  const nats = arr(root.nats ?? [], 'nats', 1000).map((n, i): ScenarioNat => {
    const f = `nats[${i}]`;
    const o = obj(n, f);
    known(o, f, ['name', 'externalAddress', 'type', 'mapping', 'filtering', 'portAllocation', 'mappingTimeoutMs', 'hairpinning', 'inboundRefresh', 'portMin', 'portMax']);
    const name = str(o, 'name', f);
    claim(name, `${f}.name`);
    const behaviours = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'] as const;
    const preset = o.type === undefined ? undefined : NAT_PRESETS[oneOf(o, 'type', f, Object.keys(NAT_PRESETS))];
    const nat: ScenarioNat = {
      name, externalAddress: address(o, 'externalAddress', f),
      mapping: o.mapping === undefined ? preset?.mapping : oneOf(o, 'mapping', f, behaviours),
      filtering: o.filtering === undefined ? preset?.filtering : oneOf(o, 'filtering', f, behaviours),
      portAllocation: o.portAllocation === undefined ? undefined : oneOf(o, 'portAllocation', f, ['preserving', 'sequential', 'random'] as const),
      mappingTimeoutMs: optNum(o, 'mappingTimeoutMs', f, { min: 1 }),
      hairpinning: o.hairpinning === undefined ? undefined : bool(o, 'hairpinning', f, false),
      inboundRefresh: o.inboundRefresh === undefined ? undefined : bool(o, 'inboundRefresh', f, false),
      portMin: optNum(o, 'portMin', f, { min: 1, max: 65535, int: true }),
      portMax: optNum(o, 'portMax', f, { min: 1, max: 65535, int: true }),
    };
    for (const k of Object.keys(nat) as (keyof ScenarioNat)[]) if (nat[k] === undefined) delete nat[k];
    return nat;
  });
  const attachable = new Set([...hosts.map((h) => h.name), ...routers.map((r) => r.name), ...nats.flatMap((n) => [`${n.name}.inside`, `${n.name}.outside`])]);
  const endName = (o: Obj, k: string, f: string) => {
    const v = str(o, k, f);
    if (!attachable.has(v)) throw new ScenarioError(`${f}.${k}`, `"${v}" is not a host, router, or "<nat>.inside"/"<nat>.outside"`);
    return v;
  };
  const links = arr(root.links ?? [], 'links', 20_000).map((l, i): ScenarioLink => {
    const f = `links[${i}]`;
    const o = obj(l, f);
    known(o, f, ['a', 'b', 'name', 'aToB', 'bToA', ...LINK_FIELDS]);
    const a = endName(o, 'a', f);
    const b = endName(o, 'b', f);
    if (a === b) throw new ScenarioError(`${f}.b`, 'a link needs two different ends');
    const name = str(o, 'name', f, `${a}-${b}`);
    claim(name, `${f}.name`);
    const dir = (k: 'aToB' | 'bToA') => {
      if (o[k] === undefined) return undefined;
      const df = `${f}.${k}`;
      const d = obj(o[k], df);
      known(d, df, LINK_FIELDS);
      return linkOptions(d, df);
    };
    const link: ScenarioLink = { a, b, name, ...linkOptions(o, f) };
    const aToB = dir('aToB');
    const bToA = dir('bToA');
    if (aToB) link.aToB = aToB;
    if (bToA) link.bToA = bToA;
    return link;
  });
  const linkNames = new Set(links.map((l) => l.name!));
  const routerNames = new Set(routers.map((r) => r.name));
  const routes = arr(root.routes ?? [], 'routes', 100_000).map((r, i) => {
    const f = `routes[${i}]`;
    const o = obj(r, f);
    known(o, f, ['router', 'prefix', 'via']);
    const router = str(o, 'router', f);
    if (!routerNames.has(router)) throw new ScenarioError(`${f}.router`, `"${router}" is not a router`);
    const prefix = str(o, 'prefix', f);
    try { parsePrefix(prefix); } catch (e) { throw new ScenarioError(`${f}.prefix`, (e as Error).message); }
    const via = str(o, 'via', f);
    if (!linkNames.has(via) && !attachable.has(via)) throw new ScenarioError(`${f}.via`, `"${via}" is neither a link nor a node`);
    return { router, prefix, via };
  });
  const durationMs = num(root, 'durationMs', 'scenario', { min: 1, max: 86_400_000 });
  const changes = arr(root.changes ?? [], 'changes', 10_000).map((c, i) => {
    const f = `changes[${i}]`;
    const o = obj(c, f);
    known(o, f, ['atMs', 'link', 'set']);
    const link = str(o, 'link', f);
    if (!linkNames.has(link)) throw new ScenarioError(`${f}.link`, `"${link}" is not a link`);
    const sf = `${f}.set`;
    const so = obj(o.set, sf);
    known(so, sf, LINK_FIELDS);
    return { atMs: num(o, 'atMs', f, { min: 0, max: durationMs }), link, set: linkOptions(so, sf) };
  });
  const hostNames = new Set(hosts.map((h) => h.name));
  const hostRef = (o: Obj, k: string, f: string) => {
    const v = str(o, k, f);
    if (!hostNames.has(v)) throw new ScenarioError(`${f}.${k}`, `"${v}" is not a host`);
    return v;
  };
  const endpoint = (o: Obj, k: string, f: string) => {
    const v = str(o, k, f);
    const m = /^(.+):(\d{1,5})$/.exec(v);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ScenarioError(`${f}.${k}`, `must be "<host or IPv4>:<port 1..65535>", got "${v}"`);
    if (!hostNames.has(m[1])) {
      try { ipv4ToU32(m[1]); } catch { throw new ScenarioError(`${f}.${k}`, `"${m[1]}" is neither a host name nor an IPv4 address`); }
    }
    return v;
  };
  const traffic = arr(root.traffic ?? [], 'traffic', 10_000).map((t, i): ScenarioTraffic => {
    const f = `traffic[${i}]`;
    const o = obj(t, f);
    const type = oneOf(o, 'type', f, ['flow', 'ping', 'holepunch'] as const);
    const name = str(o, 'name', f, `${type}-${i}`);
    const startMs = num(o, 'startMs', f, { min: 0, max: durationMs, def: 0 });
    if (type === 'flow') {
      known(o, f, ['type', 'name', 'from', 'to', 'ratePps', 'sizeBytes', 'startMs', 'stopMs']);
      return { type, name, from: hostRef(o, 'from', f), to: endpoint(o, 'to', f), ratePps: num(o, 'ratePps', f, { min: 0.001, max: 100_000 }),
        sizeBytes: num(o, 'sizeBytes', f, { min: 16, max: 65_507, int: true, def: 200 }), startMs, stopMs: num(o, 'stopMs', f, { min: startMs, def: durationMs }) };
    }
    if (type === 'ping') {
      known(o, f, ['type', 'name', 'from', 'to', 'intervalMs', 'sizeBytes', 'startMs', 'stopMs']);
      return { type, name, from: hostRef(o, 'from', f), to: endpoint(o, 'to', f), intervalMs: num(o, 'intervalMs', f, { min: 0.01, def: 100 }),
        sizeBytes: num(o, 'sizeBytes', f, { min: 16, max: 65_507, int: true, def: 64 }), startMs, stopMs: num(o, 'stopMs', f, { min: startMs, def: durationMs }) };
    }
    known(o, f, ['type', 'name', 'a', 'b', 'rendezvous', 'startMs', 'punchIntervalMs', 'punchAttempts', 'messages']);
    return { type, name, a: hostRef(o, 'a', f), b: hostRef(o, 'b', f), rendezvous: endpoint(o, 'rendezvous', f), startMs,
      punchIntervalMs: num(o, 'punchIntervalMs', f, { min: 1, def: 200 }), punchAttempts: num(o, 'punchAttempts', f, { min: 1, max: 1000, int: true, def: 10 }),
      messages: num(o, 'messages', f, { min: 0, max: 10_000, int: true, def: 5 }) };
  });
  let expectedPackets = 0;
  for (const t of traffic) {
    if (t.type === 'flow') expectedPackets += (t.ratePps * (t.stopMs - t.startMs)) / 1000;
    else if (t.type === 'ping') expectedPackets += (2 * (t.stopMs - t.startMs)) / t.intervalMs;
  }
  if (expectedPackets > MAX_SCENARIO_PACKETS) {
    throw new ScenarioError('traffic', `would send about ${Math.round(expectedPackets).toLocaleString('en')} packets; the limit is ${MAX_SCENARIO_PACKETS.toLocaleString('en')} (lower rates or durations)`);
  }
  let pcap: Scenario['pcap'];
  if (root.pcap !== undefined) {
    const po = obj(root.pcap, 'pcap');
    known(po, 'pcap', ['path', 'capture', 'maxPackets']);
    const capture = str(po, 'capture', 'pcap');
    const [kind, target] = [capture.slice(0, capture.indexOf(':')), capture.slice(capture.indexOf(':') + 1)];
    if (!((kind === 'host' && hostNames.has(target)) || (kind === 'link' && linkNames.has(target)))) {
      throw new ScenarioError('pcap.capture', `must be "host:<host name>" or "link:<link name>", got "${capture}"`);
    }
    pcap = { path: str(po, 'path', 'pcap'), capture, maxPackets: num(po, 'maxPackets', 'pcap', { min: 1, max: 5_000_000, int: true, def: 100_000 }) };
  }
  return {
    name: str(root, 'name', 'scenario', 'scenario'), description: str(root, 'description', 'scenario', '-', 2000),
    seed: num(root, 'seed', 'scenario', { min: 0, max: 2 ** 32 - 1, int: true }), durationMs,
    hosts, routers, nats, links, routes, autoRoutes: bool(root, 'autoRoutes', 'scenario', true), changes, traffic, pcap,
  };
}

// ---- running -----------------------------------------------------------------------

export interface ScenarioReport {
  scenario: string;
  seed: number;
  summary: NetworkSummary;
  flows: (FlowReport & { name: string; from: string; to: string })[];
  pings: (PingReport & { name: string; from: string; to: string })[];
  holepunches: { name: string; a: PunchReport; b: PunchReport; relayed: number }[];
  pcap: { path: string; capture: string; packets: number; notCaptured: number; bytes: Uint8Array } | undefined;
}

export function runScenario(s: Scenario): ScenarioReport {
  const net = new Network({ seed: s.seed });
  for (const h of s.hosts) net.addHost(h.name, h.address);
  for (const r of s.routers) net.addRouter(r.name);
  for (const { name, ...rest } of s.nats) {
    const { type: _type, ...behavior } = rest;
    net.addNat(name, behavior);
  }
  const node = (name: string): Attachable => {
    const dot = name.lastIndexOf('.');
    const nat = dot > 0 ? net.nats.get(name.slice(0, dot)) : undefined;
    if (nat && name.endsWith('.inside')) return nat.inside;
    if (nat && name.endsWith('.outside')) return nat.outside;
    return (net.hosts.get(name) ?? net.routers.get(name))!;
  };
  for (const { a, b, name, aToB, bToA, ...opts } of s.links) {
    const link = net.connect(node(a), node(b), opts, name);
    if (aToB) link.aToB.configure(aToB);
    if (bToA) link.bToA.configure(bToA);
  }
  if (s.autoRoutes) net.autoRoute();
  for (const r of s.routes) {
    const router = net.routers.get(r.router)!;
    router.addRoute(r.prefix, net.links.get(r.via) ?? node(r.via));
  }
  for (const c of s.changes) net.at(c.atMs, () => net.links.get(c.link)!.configure(c.set));

  const resolve = (ep: string): UdpAddress => {
    const i = ep.lastIndexOf(':');
    const h = net.hosts.get(ep.slice(0, i));
    return { address: h ? h.address : ep.slice(0, i), port: Number(ep.slice(i + 1)) };
  };
  const listeners = new Map<string, ReturnType<Host['bindUdp']>>();
  const byAddress = new Map([...net.hosts.values()].map((h) => [h.address, h]));
  /** The host an endpoint ("name:port" or "ip:port") lives on, if it is one of ours. */
  const hostOf = (ep: string) => {
    const i = ep.lastIndexOf(':');
    return net.hosts.get(ep.slice(0, i)) ?? byAddress.get(ep.slice(0, i));
  };
  /** One spelling per endpoint, so "relay:7" and "198.51.100.2:7" share a socket. */
  const canonical = (ep: string) => {
    const h = hostOf(ep);
    return h ? `${h.name}:${ep.slice(ep.lastIndexOf(':') + 1)}` : ep;
  };
  const listen = (ep: string) => {
    const host = hostOf(ep);
    if (host === undefined) return undefined;
    const key = canonical(ep);
    let sock = listeners.get(key);
    if (sock === undefined) {
      sock = host.bindUdp(Number(ep.slice(ep.lastIndexOf(':') + 1)));
      listeners.set(key, sock);
    }
    return sock;
  };
  const clock = net.clock;
  const flowRuns: { t: Extract<ScenarioTraffic, { type: 'flow' }>; flow: ConstantRateFlow; sink: FlowSink }[] = [];
  const pingRuns: { t: Extract<ScenarioTraffic, { type: 'ping' }>; pinger: Pinger }[] = [];
  const punchRuns: { t: Extract<ScenarioTraffic, { type: 'holepunch' }>; a: HolePunchPeer; b: HolePunchPeer; rv: Rendezvous | undefined }[] = [];
  const sinks = new Map<string, Map<number, FlowSink>>();
  const echoes = new Set<string>();
  const rendezvous = new Map<string, Rendezvous>();
  s.traffic.forEach((t, i) => {
    const flowId = i + 1;
    if (t.type === 'flow') {
      const sink = new FlowSink(clock, flowId);
      const sock = listen(t.to);
      if (sock !== undefined) {
        let byFlow = sinks.get(canonical(t.to));
        if (byFlow === undefined) {
          const m = new Map<number, FlowSink>();
          byFlow = m;
          sinks.set(canonical(t.to), m);
          sock.onDatagram((_from, bytes) => {
            if (bytes.length >= 4) m.get(((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0)?.handle(bytes);
          });
        }
        byFlow.set(flowId, sink);
      }
      const flow = new ConstantRateFlow(clock, net.hosts.get(t.from)!.bindUdp(), resolve(t.to), { flowId, ratePps: t.ratePps, sizeBytes: t.sizeBytes, startMs: t.startMs, stopMs: t.stopMs });
      flowRuns.push({ t, flow, sink });
    } else if (t.type === 'ping') {
      if (!echoes.has(canonical(t.to))) {
        const sock = listen(t.to);
        if (sock !== undefined) startEcho(sock);
        echoes.add(canonical(t.to));
      }
      pingRuns.push({ t, pinger: new Pinger(clock, net.hosts.get(t.from)!.bindUdp(), resolve(t.to), { flowId, intervalMs: t.intervalMs, sizeBytes: t.sizeBytes, startMs: t.startMs, stopMs: t.stopMs }) });
    } else {
      let rv = rendezvous.get(canonical(t.rendezvous));
      if (rv === undefined) {
        const sock = listen(t.rendezvous);
        if (sock !== undefined) {
          rv = new Rendezvous(sock);
          rendezvous.set(canonical(t.rendezvous), rv);
        }
      }
      const common = { session: t.name, rendezvous: resolve(t.rendezvous), startMs: t.startMs, punchIntervalMs: t.punchIntervalMs, punchAttempts: t.punchAttempts, messages: t.messages };
      const a = new HolePunchPeer(clock, net.hosts.get(t.a)!.bindUdp(), { ...common, role: 'a' });
      const b = new HolePunchPeer(clock, net.hosts.get(t.b)!.bindUdp(), { ...common, role: 'b' });
      punchRuns.push({ t, a, b, rv });
    }
  });
  let capture: ReturnType<Network['capture']> | undefined;
  if (s.pcap) {
    const [kind, target] = [s.pcap.capture.slice(0, s.pcap.capture.indexOf(':')), s.pcap.capture.slice(s.pcap.capture.indexOf(':') + 1)];
    const opts = { maxPackets: s.pcap.maxPackets };
    capture = kind === 'host' ? net.capture(net.hosts.get(target)!, opts) : net.capture(net.links.get(target)!, opts);
  }
  net.run(s.durationMs);
  return {
    scenario: s.name,
    seed: s.seed,
    summary: net.summary(),
    flows: flowRuns.map(({ t, flow, sink }) => ({ name: t.name, from: t.from, to: t.to, ...flow.report(sink) })),
    pings: pingRuns.map(({ t, pinger }) => ({ name: t.name, from: t.from, to: t.to, ...pinger.report() })),
    holepunches: punchRuns.map(({ t, a, b, rv }) => ({ name: t.name, a: a.report(), b: b.report(), relayed: rv?.relayed ?? 0 })),
    pcap: s.pcap && capture ? { path: s.pcap.path, capture: s.pcap.capture, packets: capture.packets, notCaptured: capture.missed, bytes: capture.toBytes() } : undefined,
  };
}
