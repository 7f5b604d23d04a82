// The simulated network: owns virtual time, the event queue, the seeded RNG, the event
// log and every host, router, NAT and link. See index.ts for a usage example.
// Contract: `run(untilMs)` executes every event with time <= untilMs in (time,
// insertion) order and leaves `nowMs === untilMs`; the same seed and the same calls
// give the same event log digest. Topology (links, routes, impairments) may change
// between or during runs (`at(timeMs, fn)`).
import type { Clock, Millis, TimerHandle } from '../wire/socket.ts';
import { ipv4ToU32, u32ToIpv4 } from '../wire/ipv4-address.ts';
import { Capture, type CaptureOptions } from './capture.ts';
import { DROP_REASONS, dropCounts, newDropCounters, type DropCounts } from './drops.ts';
import { EventKind, EventLog } from './event-log.ts';
import { EventQueue } from './event-queue.ts';
import { Host } from './host.ts';
import { Link, type LinkCounters, type LinkOptions, type Port } from './link.ts';
import { Nat, type NatSide } from './nat.ts';
import type { NatBehavior, NatCounters } from './nat-table.ts';
import { createRng, type Rng } from './rng.ts';
import { Router } from './router.ts';
import type { SimContext, SimNode } from './types.ts';

const ADDR_CACHE = 4096;

/** Guard against event storms that would hang a run: events allowed at one virtual instant. */
export const MAX_EVENTS_AT_ONE_INSTANT = 10_000_000;

/** Cancellable handle of one scheduled callback (a class, so no closure per timer). */
class SimTimer implements TimerHandle {
  constructor(private readonly queue: EventQueue, private readonly slot: number, private readonly gen: number) {}
  cancel(): void {
    this.queue.cancel(this.slot, this.gen);
  }
}

export interface NetworkOptions {
  /** RNG seed (default 1). */
  seed?: number;
  /** Record the event log hash (default true; benchmarks turn it off). */
  log?: boolean;
  /** Keep this many recent log entries for inspection (default 0). */
  logKeep?: number;
  /** run() throws after this many events at one virtual instant (default 10,000,000). */
  maxEventsPerInstant?: number;
}

export interface NatOptions extends Partial<NatBehavior> {
  externalAddress: string;
}

/** Something a link end can attach to. */
export type Attachable = Host | Router | NatSide;

export interface NetworkSummary {
  nowMs: number;
  events: number;
  logDigest: string;
  packetsSent: number;
  datagramsDelivered: number;
  drops: DropCounts;
  links: Record<string, { aToB: LinkCounters; bToA: LinkCounters }>;
  nats: Record<string, NatCounters & { liveMappings: number; drops: DropCounts }>;
}

export class Network implements SimContext {
  readonly queue = new EventQueue();
  readonly rng: Rng;
  readonly log: EventLog;
  readonly seed: number;
  readonly hosts = new Map<string, Host>();
  readonly routers = new Map<string, Router>();
  readonly nats = new Map<string, Nat>();
  readonly links = new Map<string, Link>();
  readonly dropTotals = newDropCounters();
  /** Events executed so far. */
  events = 0;
  private now = 0;
  private ids = 0;
  private readonly addrKeys = new Float64Array(ADDR_CACHE).fill(-1);
  private readonly addrStrings: string[] = new Array<string>(ADDR_CACHE).fill('');
  private readonly textCache = new Map<string, number>();
  private autoRoutes: { table: { remove(p: string): boolean }; prefix: string }[] = [];
  private readonly runTimer = (arg: unknown) => (arg as () => void)();

  /** The virtual clock, for sans-IO drivers: now() and setTimer(at, cb). */
  readonly clock: Clock = {
    now: (): Millis => this.now,
    setTimer: (atMs: Millis, callback: () => void): TimerHandle => {
      const at = atMs > this.now ? atMs : this.now;
      const slot = this.queue.push(at, this.runTimer, callback);
      return new SimTimer(this.queue, slot, this.queue.generation(slot));
    },
  };

  constructor(options: NetworkOptions = {}) {
    this.seed = options.seed ?? 1;
    this.rng = createRng(this.seed);
    this.log = new EventLog(options.logKeep ?? 0);
    this.log.enabled = options.log ?? true;
    this.maxEventsPerInstant = options.maxEventsPerInstant ?? MAX_EVENTS_AT_ONE_INSTANT;
  }

  private readonly maxEventsPerInstant: number;

  get nowMs(): number {
    return this.now;
  }

  nextId(): number {
    return ++this.ids;
  }

  addressString(addr: number): string {
    // Direct-mapped cache keyed in a Float64Array: no boxing of u32 keys above 2^30.
    const slot = (addr ^ (addr >>> 12)) & (ADDR_CACHE - 1);
    if (this.addrKeys[slot] === addr) return this.addrStrings[slot];
    const s = u32ToIpv4(addr);
    this.addrKeys[slot] = addr;
    this.addrStrings[slot] = s;
    return s;
  }

  addressU32(text: string): number {
    let n = this.textCache.get(text);
    if (n === undefined) {
      n = ipv4ToU32(text);
      if (this.textCache.size >= 65_536) this.textCache.clear();
      this.textCache.set(text, n);
    }
    return n;
  }

  drop(reason: number, entityId: number, bytes: Uint8Array): void {
    this.dropTotals[reason]++;
    if (this.log.enabled) this.log.record(this.now, EventKind.drop, entityId, reason, bytes);
  }

  private claimName(name: string): void {
    if (this.hosts.has(name) || this.routers.has(name) || this.nats.has(name) || this.links.has(name)) {
      throw new Error(`name "${name}" is already used in this network`);
    }
  }

  addHost(name: string, address: string): Host {
    this.claimName(name);
    const h = new Host(this.nextId(), name, address, this);
    this.hosts.set(name, h);
    return h;
  }

  addRouter(name: string): Router {
    this.claimName(name);
    const r = new Router(this.nextId(), name, this);
    this.routers.set(name, r);
    return r;
  }

  addNat(name: string, options: NatOptions): Nat {
    this.claimName(name);
    const { externalAddress, ...behavior } = options;
    const n = new Nat(this.nextId(), name, externalAddress, behavior, this, this.rng.fork(`nat:${name}`), [this.nextId(), this.nextId()]);
    this.nats.set(name, n);
    return n;
  }

  /** Join two nodes with a link (name defaults to "a-b"). */
  connect(a: Attachable, b: Attachable, options: LinkOptions = {}, name = `${a.name}-${b.name}`): Link {
    this.claimName(name);
    const link = new Link(this.nextId(), name, this, a, b, options, this.rng.fork(`link:${name}`));
    a.attach(link.a);
    b.attach(link.b);
    this.links.set(name, link);
    return link;
  }

  /** Remove a link: it goes down for good, and routes over it are withdrawn. */
  disconnect(link: Link): void {
    link.setUp(false);
    const isOn = (p: Port) => p.link === link;
    for (const end of [link.a, link.b]) {
      const node = end.node;
      const i = node.ports.indexOf(end);
      if (i >= 0) node.ports.splice(i, 1);
      if (node instanceof Host || node instanceof Router) node.routes.removeWhere(isOn);
    }
    for (const nat of this.nats.values()) nat.insideRoutes.removeWhere(isOn);
    this.links.delete(link.name);
  }

  /**
   * Fill routing tables from the topology (shortest hop count through routers):
   * routers get /32 routes to every host and NAT external address they can reach and a
   * default route towards a NAT's inside when they sit on its LAN; NATs get /32 routes
   * to their LAN hosts. Explicit routes are kept. Calling again recomputes.
   */
  autoRoute(): void {
    for (const r of this.autoRoutes) r.table.remove(r.prefix);
    this.autoRoutes = [];
    const add = (table: { has(p: string): boolean; add(p: string, t: Port): void; remove(p: string): boolean }, prefix: string, port: Port) => {
      if (table.has(prefix)) return;
      table.add(prefix, port);
      this.autoRoutes.push({ table, prefix });
    };
    const bfs = (start: SimNode, visit: (leaf: SimNode, firstHop: Port) => void) => {
      const seen = new Set<SimNode>([start]);
      const queue: [SimNode, Port | undefined][] = [[start, undefined]];
      for (let qi = 0; qi < queue.length; qi++) {
        const [node, first] = queue[qi];
        for (const p of node.ports) {
          const next = p.peer.node;
          if (seen.has(next)) continue;
          seen.add(next);
          const hop = first ?? p;
          if (next instanceof Router) queue.push([next, hop]);
          else visit(next, hop);
        }
      }
    };
    const natOf = (side: SimNode) => [...this.nats.values()].find((n) => n.inside === side || n.outside === side);
    for (const r of this.routers.values()) {
      bfs(r, (leaf, hop) => {
        if (leaf instanceof Host) add(r.routes, `${leaf.address}/32`, hop);
        else if (leaf.kind === 'nat-outside') add(r.routes, `${natOf(leaf)!.externalAddress}/32`, hop);
        else if (leaf.kind === 'nat-inside') add(r.routes, '0.0.0.0/0', hop);
      });
    }
    for (const nat of this.nats.values()) {
      bfs(nat.inside, (leaf, hop) => {
        if (leaf instanceof Host) add(nat.insideRoutes, `${leaf.address}/32`, hop);
      });
    }
  }

  /** Run `fn` at virtual time `atMs` (topology changes, traffic starts). */
  at(atMs: Millis, fn: () => void): TimerHandle {
    return this.clock.setTimer(atMs, fn);
  }

  /** Execute all events up to and including `untilMs`; returns how many ran. */
  run(untilMs: Millis): number {
    if (Number.isNaN(untilMs)) throw new RangeError('run(untilMs): untilMs is NaN');
    const q = this.queue;
    let n = 0;
    let sameTime = 0;
    while (true) {
      const t = q.popDue(untilMs);
      if (t !== t) break;
      if (t === this.now) {
        if (++sameTime > this.maxEventsPerInstant) {
          this.events += n;
          throw new Error(`simulator: more than ${this.maxEventsPerInstant} events at t=${t} ms without time advancing (a timer re-armed at "now" in a loop?)`);
        }
      } else sameTime = 0;
      this.now = t;
      n++;
      q.lastFn!(q.lastArg, q.lastArg2);
    }
    this.events += n;
    if (untilMs > this.now && untilMs !== Infinity) this.now = untilMs;
    return n;
  }

  /** Run for `durationMs` more virtual milliseconds. */
  runFor(durationMs: Millis): number {
    return this.run(this.now + durationMs);
  }

  /** Run until no event is pending or `maxMs` is reached (bounded: periodic timers never go idle). */
  runUntilIdle(maxMs: Millis = this.now + 3_600_000): number {
    let n = 0;
    while (this.queue.size > 0 && this.queue.peekTime() <= maxMs) n += this.run(this.queue.peekTime());
    return n;
  }

  /** Record a host's sent+received packets, or a link's delivered packets, into a pcap. */
  capture(target: Host | Link, options?: CaptureOptions): Capture {
    const cap = new Capture(target.name, options);
    (target.taps ??= []).push(cap.record);
    return cap;
  }

  /** Look up any node or link by name. */
  get(name: string): Host | Router | Nat | Link | undefined {
    return this.hosts.get(name) ?? this.routers.get(name) ?? this.nats.get(name) ?? this.links.get(name);
  }

  drops(): DropCounts {
    return dropCounts(this.dropTotals);
  }

  summary(): NetworkSummary {
    let packetsSent = 0;
    let datagramsDelivered = 0;
    for (const h of this.hosts.values()) {
      packetsSent += h.packetsSent;
      datagramsDelivered += h.datagramsDelivered;
    }
    const links: NetworkSummary['links'] = {};
    for (const [name, l] of this.links) links[name] = l.counters();
    const nats: NetworkSummary['nats'] = {};
    for (const [name, n] of this.nats) nats[name] = n.counters();
    return {
      nowMs: this.now, events: this.events, logDigest: this.log.digest(), packetsSent, datagramsDelivered,
      drops: this.drops(), links, nats,
    };
  }
}

export { DROP_REASONS };
