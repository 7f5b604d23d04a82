// A pure two-peer harness for CheckAgent: each peer sits behind a NatModel, a relay
// on the public segment forwards between the two peers' bound relay mappings, and a
// virtual clock delivers datagrams after fixed one-way latencies. Tests can cut the
// direct or the relayed path at any time. Deterministic; no sockets, no sleeping.
// Options: B may have a second host address (multi-homed, no NAT on it: two direct pairs
// of equal latency), and every datagram may be lost with a seeded probability and delayed
// by a seeded jitter.
import { CheckAgent, type CheckConfig, type CheckEvent } from '../../src/overlay/checks.ts';
import { candidate, candidateKey, type Candidate } from '../../src/overlay/candidates.ts';
import type { NatType } from '../../src/overlay/nat-types.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { NatModel } from './nat-model.ts';
import { seededRandom } from '../../src/transport/random.ts';

export const RELAY: UdpAddress = { address: '198.51.100.50', port: 3479 };
const STUN: UdpAddress = { address: '198.51.100.10', port: 3478 };

export interface Side {
  readonly name: 'A' | 'B';
  readonly nat: NatModel;
  readonly host: UdpAddress;
  readonly candidates: Candidate[];
  relayBound?: UdpAddress; // our external address as the relay saw it
  agent?: CheckAgent;
  readonly events: { at: number; e: CheckEvent }[];
}

interface Delivery {
  at: number;
  seq: number;
  to: Side;
  run: (now: number) => void;
}

export interface HarnessOptions {
  directOneWayMs?: number; // default 10
  relayLegMs?: number; // each of the two legs, default 15
  startAt?: number; // default 0
  agent?: Partial<CheckConfig>;
  /** Leave out a side's srflx candidate (e.g. to trickle it later). */
  omitSrflx?: 'A' | 'B';
  /** A second host address of B, reachable directly (no NAT), same latency as the direct path. */
  secondHostB?: UdpAddress;
  /** One-way latency to and from B's second address (default: directOneWayMs). */
  secondHostOneWayMs?: number;
  /** Every datagram (either direction, any path) is lost with this probability, drawn from `seed`. */
  lossRate?: number;
  /** Every datagram is delayed by a further uniform 0..jitterMs (seeded; default 0). */
  jitterMs?: number;
  seed?: number;
}

export class CheckHarness {
  now = 0;
  readonly a: Side;
  readonly b: Side;
  directCut = false;
  relayCut = false;
  directOneWayMs: number;
  relayLegMs: number;
  private queue: Delivery[] = [];
  private seq = 0;
  private tx = 0;
  private readonly lossRate: number;
  private readonly jitterMs: number;
  private readonly rng: () => number;
  private readonly secondHostB?: UdpAddress;
  /** Datagrams the seeded loss dropped. */
  lost = 0;
  /** Datagrams to or from these addresses ("a.b.c.d:port") are dropped (one path cut). */
  readonly cutAddresses = new Set<string>();
  secondHostOneWayMs?: number;

  constructor(ta: NatType, tb: NatType, opts: HarnessOptions = {}) {
    this.directOneWayMs = opts.directOneWayMs ?? 10;
    this.relayLegMs = opts.relayLegMs ?? 15;
    this.lossRate = opts.lossRate ?? 0;
    this.jitterMs = opts.jitterMs ?? 0;
    const r = seededRandom(opts.seed ?? 1);
    this.rng = () => r.nextU32() / 2 ** 32;
    this.secondHostB = opts.secondHostB;
    this.secondHostOneWayMs = opts.secondHostOneWayMs;
    this.a = this.makeSide('A', ta, '192.0.2.2', '198.51.100.2');
    this.b = this.makeSide('B', tb, '192.0.2.66', '198.51.100.3');
    if (opts.secondHostB) this.b.candidates.push(candidate('host', opts.secondHostB));
    for (const [me, peer, controlling] of [[this.a, this.b, true], [this.b, this.a, false]] as const) {
      const remote = peer.candidates.filter((c) => !(opts.omitSrflx === peer.name && c.type === 'srflx'));
      me.agent = new CheckAgent({
        controlling, startAt: opts.startAt ?? 0, localCandidates: me.candidates.filter((c) => c.type !== 'srflx'),
        remoteCandidates: remote, newTxId: () => `${me.name}${++this.tx}`, ...opts.agent,
      });
    }
  }

  private makeSide(name: 'A' | 'B', type: NatType, lan: string, pub: string): Side {
    const nat = new NatModel(type, pub);
    const host = type.udp === 'open' && type.mapping === 'none' ? { address: pub, port: 5000 } : { address: lan, port: 5000 };
    const side: Side = { name, nat, host, candidates: [candidate('host', host)], events: [] };
    // Gathering: STUN for srflx, a relay bind (allocation) for the relay candidate.
    const srflx = nat.outbound(host, STUN);
    if (srflx && !(srflx.address === host.address && srflx.port === host.port)) side.candidates.push(candidate('srflx', srflx));
    side.relayBound = nat.outbound(host, RELAY);
    if (side.relayBound) side.candidates.push(candidate('relay', RELAY));
    return side;
  }

  /** Events of side `s` of one type (e.g. 'path-switched'). */
  eventsOf<T extends CheckEvent['type']>(s: Side, type: T): { at: number; e: Extract<CheckEvent, { type: T }> }[] {
    return s.events.filter((x): x is { at: number; e: Extract<CheckEvent, { type: T }> } => x.e.type === type);
  }

  other(s: Side): Side {
    return s === this.a ? this.b : this.a;
  }

  private schedule(at: number, to: Side, run: (now: number) => void): void {
    this.queue.push({ at, seq: this.seq++, to, run });
  }

  /** Route one transmit of side `s`. */
  private route(s: Side): void {
    const agent = s.agent!;
    for (let t = agent.pollTransmit(); t; t = agent.pollTransmit()) {
      const peer = this.other(s);
      const deliver = (localKey: string, from: UdpAddress, at: number) => {
        if (this.lossRate > 0 && this.rng() < this.lossRate) { this.lost++; return; }
        if (this.jitterMs > 0) at += this.rng() * this.jitterMs;
        if (t!.kind === 'request') {
          const { txId, nominate } = t!;
          this.schedule(at, peer, (now) => peer.agent!.handleRequest(now, localKey, from, txId, nominate));
        } else {
          const { txId } = t!;
          this.schedule(at, peer, (now) => peer.agent!.handleResponse(now, txId, from));
        }
      };
      if (t.local.type === 'relay') {
        if (this.relayCut || !s.relayBound || !peer.relayBound) continue;
        // s -> relay (through s's NAT, same socket as the bind) -> peer's bound mapping
        if (!s.nat.outbound(s.host, RELAY)) continue;
        if (!peer.nat.inbound(RELAY, peer.relayBound)) continue;
        deliver(candidateKey(peer.candidates.find((c) => c.type === 'relay')!), RELAY, this.now + 2 * this.relayLegMs);
      } else {
        if (this.directCut) continue;
        const second = this.secondHostB;
        if (second && s === this.b && sameAddr(t.local.address, second)) { // from B's second address: no NAT
          if (!this.cutAddresses.has(`${second.address}:${second.port}`) && peer.nat.inbound(second, t.to)) deliver(candidateKey(peer.candidates[0]), second, this.now + (this.secondHostOneWayMs ?? this.directOneWayMs));
          continue;
        }
        if (second && peer === this.b && sameAddr(t.to, second)) { // to B's second address: no NAT there
          const src = s.nat.outbound(s.host, t.to);
          if (src && !this.cutAddresses.has(`${second.address}:${second.port}`)) deliver(candidateKey(candidate('host', second)), src, this.now + (this.secondHostOneWayMs ?? this.directOneWayMs));
          continue;
        }
        const src = s.nat.outbound(s.host, t.to);
        if (!src || this.cutAddresses.has(`${t.to.address}:${t.to.port}`) || this.cutAddresses.has(`${src.address}:${src.port}`)) continue;
        const dst = peer.nat.inbound(src, t.to);
        if (!dst || dst.address !== peer.host.address || dst.port !== peer.host.port) continue;
        deliver(candidateKey(peer.candidates[0]), src, this.now + this.directOneWayMs);
      }
    }
    for (let e = agent.pollEvent(); e; e = agent.pollEvent()) s.events.push({ at: this.now, e });
  }

  /** Advance virtual time until `until`, delivering datagrams and firing timers. */
  runUntil(until: number, maxSteps = 100_000): void {
    for (let step = 0; step < maxSteps; step++) {
      this.route(this.a);
      this.route(this.b);
      const timers = [this.a.agent!.pollTimeout(), this.b.agent!.pollTimeout()].filter((x): x is number => x !== undefined);
      const nextDelivery = this.queue.reduce((m, d) => Math.min(m, d.at), Infinity);
      const next = Math.min(nextDelivery, ...timers);
      if (next > until) { this.now = until; return; }
      this.now = Math.max(this.now, next);
      const due = this.queue.filter((d) => d.at <= this.now).sort((x, y) => x.at - y.at || x.seq - y.seq);
      this.queue = this.queue.filter((d) => d.at > this.now);
      for (const d of due) d.run(this.now);
      for (const s of [this.a, this.b]) if (s.agent!.pollTimeout() !== undefined && s.agent!.pollTimeout()! <= this.now) s.agent!.handleTimeout(this.now);
    }
    throw new Error('harness: step limit reached');
  }
}

const sameAddr = (a: UdpAddress, b: UdpAddress) => a.address === b.address && a.port === b.port;
