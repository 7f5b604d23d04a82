// Choosing supernodes, sans-IO: which one to relay through (the fastest by measured
// RTT, "some data transfers on the Internet are faster than others"), and whether this
// peer may serve as one itself (Skype's rule: a client with its own public address).
//
// SupernodePicker contract:
//   const p = new SupernodePicker(config, now); p.setCandidates(now, refs)  (directory/gossip)
//   p.handleTimeout(now) at p.pollTimeout(); drain p.pollTransmit() -> { to, txId } (a probe:
//   e.g. a STUN Binding request) and p.pollEvent(); p.handleResponse(now, txId, from).
// Every candidate is probed at once and then every probeIntervalMs; an answer gives an RTT
// sample (EWMA 1/8); probeTimeoutMs without answer is a miss, deadAfterMisses in a row
// makes it unusable until it answers again. The current choice changes when it becomes
// unusable, or when another beats its srtt by more than max(hysteresisMs, fraction·srtt).
import type { Millis, UdpAddress } from '../wire/socket.ts';
import { sameAddress } from '../wire/socket.ts';
import type { PeerRef } from './gossip.ts';
import type { NatType } from './nat-types.ts';

export interface PickerConfig {
  readonly newTxId: () => string;
  readonly probeIntervalMs?: Millis; // default 10_000
  readonly probeTimeoutMs?: Millis; // default 1000
  readonly deadAfterMisses?: number; // default 3
  readonly hysteresisMs?: Millis; // default 5
  readonly hysteresisFraction?: number; // default 0.2
  readonly maxCandidates?: number; // default 16
}

export type PickerEvent =
  | { readonly type: 'selected'; readonly supernode: PeerRef; readonly srttMs: Millis }
  | { readonly type: 'switched'; readonly from: PeerRef; readonly to: PeerRef; readonly srttMs: Millis; readonly reason: 'faster' | 'dead' }
  | { readonly type: 'none-reachable' };

interface Entry {
  ref: PeerRef;
  srttMs?: Millis;
  misses: number;
  nextProbeAt: Millis;
  probe?: { txId: string; sentAt: Millis; timeoutAt: Millis };
}

export class SupernodePicker {
  private readonly entries = new Map<string, Entry>();
  private readonly out: { to: UdpAddress; txId: string }[] = [];
  private readonly events: PickerEvent[] = [];
  private current?: Entry;
  private readonly c: Required<PickerConfig>;

  constructor(config: PickerConfig, _now: Millis) {
    this.c = {
      newTxId: config.newTxId, probeIntervalMs: config.probeIntervalMs ?? 10_000, probeTimeoutMs: config.probeTimeoutMs ?? 1000,
      deadAfterMisses: config.deadAfterMisses ?? 3, hysteresisMs: config.hysteresisMs ?? 5, hysteresisFraction: config.hysteresisFraction ?? 0.2,
      maxCandidates: config.maxCandidates ?? 16,
    };
  }

  /** Replace the candidate list; measurements of supernodes that stay are kept. */
  setCandidates(now: Millis, refs: readonly PeerRef[]): void {
    const keep = new Set(refs.slice(0, this.c.maxCandidates).map((r) => r.id));
    for (const id of [...this.entries.keys()]) if (!keep.has(id)) this.entries.delete(id);
    for (const r of refs.slice(0, this.c.maxCandidates)) if (!this.entries.has(r.id)) this.entries.set(r.id, { ref: r, misses: 0, nextProbeAt: now });
    if (this.current && !this.entries.has(this.current.ref.id)) this.current = undefined;
    this.handleTimeout(now);
  }

  selected(): { supernode: PeerRef; srttMs: Millis } | undefined {
    return this.current && this.current.srttMs !== undefined ? { supernode: this.current.ref, srttMs: this.current.srttMs } : undefined;
  }

  pollTransmit(): { to: UdpAddress; txId: string } | undefined {
    return this.out.shift();
  }

  pollEvent(): PickerEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): Millis | undefined {
    let t: Millis | undefined;
    for (const e of this.entries.values()) {
      const at = e.probe ? e.probe.timeoutAt : e.nextProbeAt;
      if (t === undefined || at < t) t = at;
    }
    return t;
  }

  handleTimeout(now: Millis): void {
    for (const e of this.entries.values()) {
      if (e.probe && now >= e.probe.timeoutAt) {
        e.probe = undefined;
        e.misses++;
        if (e.misses === this.c.deadAfterMisses && e === this.current) this.reselect('dead');
      }
      if (!e.probe && now >= e.nextProbeAt) {
        const txId = this.c.newTxId();
        e.probe = { txId, sentAt: now, timeoutAt: now + this.c.probeTimeoutMs };
        e.nextProbeAt = now + this.c.probeIntervalMs;
        this.out.push({ to: e.ref.address, txId });
      }
    }
  }

  handleResponse(now: Millis, txId: string, from: UdpAddress): void {
    const e = [...this.entries.values()].find((x) => x.probe?.txId === txId);
    if (!e || !sameAddress(e.ref.address, from)) return;
    const sample = now - e.probe!.sentAt;
    e.probe = undefined;
    e.misses = 0;
    e.srttMs = e.srttMs === undefined ? sample : (7 * e.srttMs + sample) / 8;
    if (!this.current) {
      this.current = this.fastest();
      if (this.current) this.events.push({ type: 'selected', supernode: this.current.ref, srttMs: this.current.srttMs! });
      return;
    }
    const best = this.fastest();
    if (best && best !== this.current) {
      const cur = this.current.srttMs!;
      if (best.srttMs! < cur - Math.max(this.c.hysteresisMs, cur * this.c.hysteresisFraction)) {
        const from = this.current.ref;
        this.current = best;
        this.events.push({ type: 'switched', from, to: best.ref, srttMs: best.srttMs!, reason: 'faster' });
      }
    }
  }

  private usable(e: Entry): boolean {
    return e.srttMs !== undefined && e.misses < this.c.deadAfterMisses;
  }

  private fastest(): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.entries.values()) if (this.usable(e) && (!best || e.srttMs! < best.srttMs!)) best = e;
    return best;
  }

  private reselect(reason: 'dead'): void {
    const old = this.current!;
    this.current = this.fastest();
    if (this.current) this.events.push({ type: 'switched', from: old.ref, to: this.current.ref, srttMs: this.current.srttMs!, reason });
    else this.events.push({ type: 'none-reachable' });
  }
}

export interface EligibilityInput {
  readonly nat: NatType;
  /** The user opted out of serving as a supernode. */
  readonly optOut: boolean;
  /** Measured or configured upload capacity, bytes/s. */
  readonly uplinkBytesPerSec: number;
  /** Minimum capacity to serve (default 1 MB/s). */
  readonly minUplinkBytesPerSec?: number;
}

/** May this peer become a supernode automatically? Only with its own public, unfiltered address. */
export function supernodeEligible(i: EligibilityInput): { eligible: boolean; reason: string } {
  if (i.optOut) return { eligible: false, reason: 'opted out' };
  if (i.nat.udp === 'blocked') return { eligible: false, reason: 'UDP blocked' };
  if (i.nat.mapping !== 'none') return { eligible: false, reason: `behind a NAT (${i.nat.mapping})` };
  if (i.nat.filtering !== 'EIF') return { eligible: false, reason: `inbound filtered (${i.nat.filtering})` };
  const min = i.minUplinkBytesPerSec ?? 1_000_000;
  if (i.uplinkBytesPerSec < min) return { eligible: false, reason: `uplink ${i.uplinkBytesPerSec} B/s below ${min} B/s` };
  return { eligible: true, reason: 'public, unfiltered address with spare capacity' };
}
