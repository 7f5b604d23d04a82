// A point-to-point simulated link with impairments; each direction has its own queue
// and state, both share one configuration (changeable at any time during a run).
// Per packet, in order: up? -> MTU -> drop-tail queue + serialisation at bandwidth ->
// random / Gilbert–Elliott loss -> corruption (one random bit flip) -> delay
// (latency + uniform jitter, FIFO unless reordered) -> duplication. A packet still in
// flight when the link is down at its arrival time is lost ('link-down').
// Scheduled outages: `outages` windows and/or a periodic `flap` (e.g. 5 s up / 2 s down).
import { DROP, newDropCounters, dropCounts, type DropCounts } from './drops.ts';
import { EventKind } from './event-log.ts';
import type { Rng } from './rng.ts';
import type { SimContext, SimNode } from './types.ts';
import type { Router } from './router.ts';
import type { Host } from './host.ts';

export interface GilbertElliott {
  /** Per-packet probability of moving from the good to the bad state. */
  pGoodToBad: number;
  /** Per-packet probability of moving from the bad to the good state. */
  pBadToGood: number;
  /** Loss probability in the good state (default 0). */
  lossGood?: number;
  /** Loss probability in the bad state (default 1). */
  lossBad?: number;
}

export interface LinkOptions {
  /** One-way propagation delay (ms). Default 1. */
  latencyMs?: number;
  /** Extra one-way delay, uniform in [0, jitterMs). Does not reorder by itself. Default 0. */
  jitterMs?: number;
  /** Bits per second; Infinity = no serialisation delay. Default Infinity. */
  bandwidthBps?: number;
  /** Drop-tail limit on bytes not yet fully serialised, including the packet on the wire (bandwidth-limited links). */
  queueBytes?: number;
  /** Drop-tail limit on packets waiting behind the one on the wire. */
  queuePackets?: number;
  /** Independent loss probability per packet. */
  lossRate?: number;
  /** Bursty loss (two-state Markov chain), applied in addition to lossRate. */
  gilbertElliott?: GilbertElliott;
  /** Probability a packet is delivered twice. */
  duplicateRate?: number;
  /** Probability a packet is held back `reorderDelayMs` so later ones overtake it. */
  reorderRate?: number;
  reorderDelayMs?: number;
  /** Probability one random bit of the packet is flipped. */
  corruptRate?: number;
  /** Largest IPv4 packet carried (bytes). Default 1500. */
  mtu?: number;
  /** Administratively up. Default true. */
  up?: boolean;
  /** Periodic outage: up for upMs, then down for downMs, repeating from offsetMs. */
  flap?: { upMs: number; downMs: number; offsetMs?: number };
  /** Fixed outage windows [fromMs, toMs). */
  outages?: { fromMs: number; toMs: number }[];
}

type Resolved = Required<Omit<LinkOptions, 'gilbertElliott' | 'flap' | 'outages' | 'queueBytes' | 'queuePackets'>> &
  Pick<LinkOptions, 'gilbertElliott' | 'flap' | 'outages' | 'queueBytes' | 'queuePackets'>;

const DEFAULTS: Resolved = {
  latencyMs: 1, jitterMs: 0, bandwidthBps: Infinity, lossRate: 0, duplicateRate: 0,
  reorderRate: 0, reorderDelayMs: 0, corruptRate: 0, mtu: 1500, up: true,
  queueBytes: undefined, queuePackets: undefined, gilbertElliott: undefined, flap: undefined, outages: undefined,
};

function checkOptions(o: Resolved, where: string): void {
  const nonNeg = (name: keyof Resolved) => {
    const v = o[name] as number | undefined;
    if (v !== undefined && !(typeof v === 'number' && v >= 0)) throw new RangeError(`${where}: ${name} must be a number >= 0, got ${String(v)}`);
  };
  const prob = (name: string, v: number | undefined) => {
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) throw new RangeError(`${where}: ${name} must be a probability in [0, 1], got ${String(v)}`);
  };
  for (const k of ['latencyMs', 'jitterMs', 'reorderDelayMs', 'queueBytes', 'queuePackets'] as const) nonNeg(k);
  if (!(o.bandwidthBps > 0)) throw new RangeError(`${where}: bandwidthBps must be > 0, got ${o.bandwidthBps}`);
  if (!(Number.isInteger(o.mtu) && o.mtu >= 28 && o.mtu <= 65535)) throw new RangeError(`${where}: mtu must be an integer in 28..65535, got ${o.mtu}`);
  prob('lossRate', o.lossRate); prob('duplicateRate', o.duplicateRate); prob('reorderRate', o.reorderRate); prob('corruptRate', o.corruptRate);
  if (o.gilbertElliott) {
    const g = o.gilbertElliott;
    prob('gilbertElliott.pGoodToBad', g.pGoodToBad); prob('gilbertElliott.pBadToGood', g.pBadToGood);
    prob('gilbertElliott.lossGood', g.lossGood); prob('gilbertElliott.lossBad', g.lossBad);
    if (typeof g.pGoodToBad !== 'number' || typeof g.pBadToGood !== 'number') throw new RangeError(`${where}: gilbertElliott needs pGoodToBad and pBadToGood`);
  }
  if (o.flap && !(o.flap.upMs > 0 && o.flap.downMs >= 0)) throw new RangeError(`${where}: flap needs upMs > 0 and downMs >= 0`);
  for (const w of o.outages ?? []) if (!(w.toMs >= w.fromMs)) throw new RangeError(`${where}: outage window needs toMs >= fromMs`);
}

/** Apply `patch` over `cur` as one fixed-shape object (same hidden class for every link). */
function resolve(cur: Resolved, patch: LinkOptions, where: string): Resolved {
  const pick = <K extends keyof Resolved>(k: K): Resolved[K] => ((patch as Resolved)[k] !== undefined ? (patch as Resolved)[k] : cur[k]);
  const next: Resolved = {
    latencyMs: pick('latencyMs'), jitterMs: pick('jitterMs'), bandwidthBps: pick('bandwidthBps'), lossRate: pick('lossRate'),
    duplicateRate: pick('duplicateRate'), reorderRate: pick('reorderRate'), reorderDelayMs: pick('reorderDelayMs'),
    corruptRate: pick('corruptRate'), mtu: pick('mtu'), up: pick('up'), queueBytes: pick('queueBytes'),
    queuePackets: pick('queuePackets'), gilbertElliott: pick('gilbertElliott'), flap: pick('flap'), outages: pick('outages'),
  };
  checkOptions(next, where);
  return next;
}

export interface LinkCounters {
  sent: number;
  delivered: number;
  bytesDelivered: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  drops: DropCounts;
}

/** One attachment of a link to a node; `transmit` sends away from `node`. */
export class Port {
  /** The other end. */
  peer!: Port;
  constructor(readonly node: SimNode, readonly link: Link, readonly dir: LinkDirection) {}
  transmit(bytes: Uint8Array): void {
    this.dir.transmit(bytes);
  }
}

/** One direction of a link: its settings, queue, loss state and counters. */
export class LinkDirection {
  /** This direction's settings (Link.configure sets both directions; configure() here sets one). */
  options: Resolved = DEFAULTS;
  /** @internal no random impairment configured (fast path). */
  plain = true;
  private alwaysUp = true;
  sent = 0;
  delivered = 0;
  bytesDelivered = 0;
  duplicated = 0;
  reordered = 0;
  corrupted = 0;
  readonly drops = newDropCounters();
  private busyUntilMs = 0;
  private lastArrivalMs = 0;
  private geBad = false;
  /** Finish times of packets in the queue (ring), when queuePackets is set. */
  private finishRing = new Float64Array(0);
  private ringHead = 0;
  private ringCount = 0;
  /** Set once both ends exist. */
  to!: Port;
  readonly deliver: (arg: unknown) => void;
  // Hot copies (one object per hop instead of four): options fields, the receiving node, the link's taps.
  private mtu = DEFAULTS.mtu;
  private bandwidthBps = DEFAULTS.bandwidthBps;
  private latencyMs = DEFAULTS.latencyMs;
  /** @internal receiving node and its class (0 router, 1 host, 2 other), set with `to` */
  toNode!: SimNode;
  /** @internal */
  toKind = 2;
  /** @internal the link's pcap taps (Link.taps mirrors here) */
  taps: ((timeMs: number, bytes: Uint8Array) => void)[] | undefined = undefined;
  private readonly linkId: number;

  constructor(private readonly link: Link, private readonly ctx: SimContext, private readonly rng: Rng, readonly label: 'a->b' | 'b->a') {
    this.linkId = link.id;
    this.deliver = (arg) => this.arrive(arg as Uint8Array);
  }

  /** @internal set the receiving end */
  setTo(to: Port): void {
    this.to = to;
    this.toNode = to.node;
    const kind = to.node.kind;
    this.toKind = kind === 'router' ? 0 : kind === 'host' ? 1 : 2;
  }

  /** Change this direction only (asymmetric links, one-way outages); unspecified fields keep their value. */
  configure(patch: LinkOptions): void {
    const next = resolve(this.options, patch, `link ${this.link.name} (${this.label})`);
    this.options = next;
    this.mtu = next.mtu;
    this.bandwidthBps = next.bandwidthBps;
    this.latencyMs = next.latencyMs;
    this.alwaysUp = next.up && next.flap === undefined && (next.outages === undefined || next.outages.length === 0);
    this.plain = next.lossRate === 0 && next.gilbertElliott === undefined && next.corruptRate === 0 && next.jitterMs === 0 &&
      next.reorderRate === 0 && next.duplicateRate === 0;
  }

  isUp(nowMs: number): boolean {
    if (this.alwaysUp) return true;
    const o = this.options;
    if (!o.up) return false;
    if (o.flap !== undefined) {
      const period = o.flap.upMs + o.flap.downMs;
      const t = nowMs - (o.flap.offsetMs ?? 0);
      if (t >= 0 && period > 0 && t % period >= o.flap.upMs) return false;
    }
    if (o.outages !== undefined) for (const w of o.outages) if (nowMs >= w.fromMs && nowMs < w.toMs) return false;
    return true;
  }

  private dropHere(reason: number, bytes: Uint8Array): void {
    this.drops[reason]++;
    this.ctx.drop(reason, this.link.id, bytes);
  }

  transmit(bytes: Uint8Array): void {
    const ctx = this.ctx;
    const now = ctx.nowMs;
    this.sent++;
    if (!this.alwaysUp && !this.isUp(now)) return this.dropHere(DROP['link-down'], bytes);
    const len = bytes.length;
    if (len > this.mtu) return this.dropHere(DROP.mtu, bytes);
    let departMs = now;
    const bandwidthBps = this.bandwidthBps;
    if (bandwidthBps !== Infinity) {
      const o = this.options;
      const start = this.busyUntilMs > now ? this.busyUntilMs : now;
      if (o.queueBytes !== undefined && start > now) {
        const backlogBytes = ((start - now) * o.bandwidthBps) / 8000;
        if (backlogBytes + len > o.queueBytes) return this.dropHere(DROP['queue-full'], bytes);
      }
      if (o.queuePackets !== undefined) {
        if (!this.queueAdmit(now, o.queuePackets)) return this.dropHere(DROP['queue-full'], bytes);
      }
      departMs = start + (len * 8000) / bandwidthBps;
      this.busyUntilMs = departMs;
      if (o.queuePackets !== undefined) this.queuePush(departMs, o.queuePackets);
    }
    if (this.plain) {
      // No loss, corruption, jitter, reordering or duplication: FIFO at fixed latency.
      let at = departMs + this.latencyMs;
      if (at < this.lastArrivalMs) at = this.lastArrivalMs;
      this.lastArrivalMs = at;
      ctx.queue.push(at, arriveEvent, this, bytes);
      return;
    }
    const o = this.options;
    const rng = this.rng;
    if (o.lossRate > 0 && rng.float() < o.lossRate) return this.dropHere(DROP['random-loss'], bytes);
    const ge = o.gilbertElliott;
    if (ge !== undefined) {
      if (this.geBad) { if (rng.float() < ge.pBadToGood) this.geBad = false; }
      else if (rng.float() < ge.pGoodToBad) this.geBad = true;
      const p = this.geBad ? (ge.lossBad ?? 1) : (ge.lossGood ?? 0);
      if (p > 0 && rng.float() < p) return this.dropHere(DROP['burst-loss'], bytes);
    }
    if (o.corruptRate > 0 && rng.float() < o.corruptRate) {
      const bit = rng.int(len * 8);
      bytes[bit >>> 3] ^= 1 << (bit & 7);
      this.corrupted++;
    }
    let arriveMs = departMs + o.latencyMs;
    if (o.jitterMs > 0) arriveMs += rng.float() * o.jitterMs;
    if (o.reorderRate > 0 && rng.float() < o.reorderRate) {
      arriveMs += o.reorderDelayMs;
      this.reordered++;
    } else {
      if (arriveMs < this.lastArrivalMs) arriveMs = this.lastArrivalMs;
      this.lastArrivalMs = arriveMs;
    }
    ctx.queue.push(arriveMs, arriveEvent, this, bytes);
    if (o.duplicateRate > 0 && rng.float() < o.duplicateRate) {
      this.duplicated++;
      ctx.queue.push(arriveMs, arriveEvent, this, bytes.slice());
    }
  }

  /** @internal a packet reaches the far end */
  arrive(bytes: Uint8Array): void {
    const ctx = this.ctx;
    if (!this.alwaysUp && !this.isUp(ctx.nowMs)) return this.dropHere(DROP['link-down'], bytes);
    this.delivered++;
    this.bytesDelivered += bytes.length;
    const taps = this.taps;
    if (taps !== undefined) for (let i = 0; i < taps.length; i++) taps[i](ctx.nowMs, bytes);
    const node = this.toNode;
    if (ctx.log.enabled) ctx.log.record(ctx.nowMs, EventKind.deliver, this.linkId, node.id, bytes);
    // One call site per node class: each stays monomorphic (and inlinable) instead of one megamorphic site.
    const kind = this.toKind;
    if (kind === 0) (node as Router).handlePacket(bytes, this.to);
    else if (kind === 1) (node as Host).handlePacket(bytes, this.to);
    else node.handlePacket(bytes, this.to);
  }

  private queueAdmit(now: number, limit: number): boolean {
    while (this.ringCount > 0 && this.finishRing[this.ringHead] <= now) {
      this.ringHead = (this.ringHead + 1) % this.finishRing.length;
      this.ringCount--;
    }
    // The packet being serialised is on the wire, not waiting: limit counts waiting ones.
    return this.ringCount <= limit;
  }

  private queuePush(finishMs: number, limit: number): void {
    if (this.finishRing.length < limit + 2) {
      const ring = new Float64Array(limit + 2);
      for (let i = 0; i < this.ringCount; i++) ring[i] = this.finishRing[(this.ringHead + i) % this.finishRing.length];
      this.finishRing = ring;
      this.ringHead = 0;
    }
    this.finishRing[(this.ringHead + this.ringCount) % this.finishRing.length] = finishMs;
    this.ringCount++;
  }

  counters(): LinkCounters {
    return {
      sent: this.sent, delivered: this.delivered, bytesDelivered: this.bytesDelivered,
      duplicated: this.duplicated, reordered: this.reordered, corrupted: this.corrupted, drops: dropCounts(this.drops),
    };
  }
}

/** Queue event for a packet arriving over a link direction (one shared function: no closure per direction). */
function arriveEvent(dir: unknown, bytes: unknown): void {
  (dir as LinkDirection).arrive(bytes as Uint8Array);
}

export class Link {
  readonly a: Port;
  readonly b: Port;
  readonly aToB: LinkDirection;
  readonly bToA: LinkDirection;
  private tapList: ((timeMs: number, bytes: Uint8Array) => void)[] | undefined;

  /** pcap observers: called with every delivered packet. */
  get taps(): ((timeMs: number, bytes: Uint8Array) => void)[] | undefined {
    return this.tapList;
  }

  set taps(list: ((timeMs: number, bytes: Uint8Array) => void)[] | undefined) {
    this.tapList = list;
    this.aToB.taps = list;
    this.bToA.taps = list;
  }

  constructor(readonly id: number, readonly name: string, ctx: SimContext, nodeA: SimNode, nodeB: SimNode, options: LinkOptions, rng: Rng) {
    this.aToB = new LinkDirection(this, ctx, rng.fork('a->b'), 'a->b');
    this.bToA = new LinkDirection(this, ctx, rng.fork('b->a'), 'b->a');
    this.configure(options);
    this.a = new Port(nodeA, this, this.aToB);
    this.b = new Port(nodeB, this, this.bToA);
    this.a.peer = this.b;
    this.b.peer = this.a;
    this.aToB.setTo(this.b);
    this.bToA.setTo(this.a);
  }

  /** Settings of the a->b direction (both directions unless configured apart). */
  get options(): Readonly<LinkOptions> {
    return this.aToB.options;
  }

  /** Change impairments of both directions during a run; unspecified fields keep their value. */
  configure(patch: LinkOptions): void {
    resolve(this.aToB.options, patch, `link ${this.name}`); // validate once, before changing anything
    this.aToB.configure(patch);
    this.bToA.configure(patch);
  }

  setUp(up: boolean): void {
    this.configure({ up });
  }

  /** Both directions up at `nowMs`. */
  isUp(nowMs: number): boolean {
    return this.aToB.isUp(nowMs) && this.bToA.isUp(nowMs);
  }

  /** The port of this link attached to `node`. */
  portOf(node: SimNode): Port | undefined {
    return this.a.node === node ? this.a : this.b.node === node ? this.b : undefined;
  }

  counters(): { aToB: LinkCounters; bToA: LinkCounters } {
    return { aToB: this.aToB.counters(), bToA: this.bToA.counters() };
  }
}
