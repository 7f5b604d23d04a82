// Connectivity checks and path choice, sans-IO (RFC 8445 §6–8 in spirit, simplified).
//
// Contract:
//   const a = new CheckAgent(config)       // nothing is sent before config.startAt
//   a.handleTimeout(now) at a.pollTimeout(); drain a.pollTransmit() and a.pollEvent()
//   a.handleRequest(now, localKey, from, txId, nominate)  a check arrived on local candidate `localKey`
//   a.handleResponse(now, txId, from)                    an answer to one of our requests arrived
// The driver encodes requests/responses (e.g. STUN binding or a transport path probe),
// sends host-pair traffic from the host socket and relay-pair traffic through the relay
// session. Every transmission carries a fresh txId from config.newTxId (unguessable in
// production: inject random bytes), so each RTT sample is unambiguous.
//
// Schedule: pairs start in priority order, one new check every paceMs from startAt (the
// rendezvous' coordinated start); triggered checks (a request arrived on a pair) go first.
// A check is retransmitted after rtoMs, 2·rtoMs, ... and fails after maxTransmits.
// The controlling agent nominates the best working pair nominateAfterMs after the first
// success (or as soon as no check is pending); the controlled agent follows nominations of pairs
// its own check proved (at once, or when that check succeeds: a replayed nomination from
// another address moves nothing).
// Every working pair is then probed every probeIntervalMs (RTT by EWMA, keeps NAT mappings
// open); a probe is missed after 3 x its pair's smoothed RTT (clamped to minProbeTimeoutMs..
// probeTimeoutMs), and a pair missing deadAfterMisses probes in a row is dead. On the
// selected pair a missed probe is followed at once by the next one (consecutive probe
// timeouts at the current RTT, like a transport's PTOs), and `suspect(now)` (the driver saw
// its own traffic go unanswered for suspectAfterMs()) probes it at once: a path that dies
// under traffic is declared dead within ~3 x 3 RTTs instead of seconds. When the selected
// pair dies either side fails over at once to the best other working pair (the controlled
// side too, locally, until the controlling side's next nomination); pairs that died are
// re-checked fastRecheckMs later, the wait doubling (a path that comes back, or the contact
// re-bound at the relay from a new network, is found in a fraction of a second).
// The controlling agent switches when the selected pair dies, when a direct pair starts working while a relayed
// one is selected (preferDirect), or when another pair of the same kind has beaten its score by
// more than max(hysteresisMs, hysteresisFraction·score) for switchHoldMs without a break.
// Hysteresis: lost probes short of death never move the path between two pairs of one kind
// (they used to: a selected pair that missed one probe while another answered was left at
// once, so two equally good pairs flipped under loss). Score = the lowest of the pair's last
// RTT_WINDOW RTT samples (its latency without momentary queueing: paths that share a
// congested access link would otherwise look alike), plus relayPenaltyMs if relayed.
// Re-checks: while the selected pair is relayed (a direct path may open later: a firewall
// or NAT state that blocked the first checks goes away), every failed direct pair is
// checked again recheckIntervalMs after it failed, the wait doubling after each failed
// re-check up to recheckMaxIntervalMs (reset when the pair works). A failed re-check is
// silent (no second 'pair-failed'); one that succeeds makes the pair working, and
// preferDirect switches to it like to any new direct pair. recheckIntervalMs 0 disables.
import type { Millis, UdpAddress } from '../wire/socket.ts';
import { formatAddress, sameAddress } from '../wire/socket.ts';
import { candidate, candidateKey, comparePairs, formPairs, makePair, type Candidate, type CandidatePair } from './candidates.ts';

export interface CheckConfig {
  readonly controlling: boolean;
  /** Coordinated start time (from the directory's rendezvous). */
  readonly startAt: Millis;
  readonly localCandidates: readonly Candidate[];
  readonly remoteCandidates: readonly Candidate[];
  /** Fresh transaction id for every transmission. */
  readonly newTxId: () => string;
  readonly paceMs?: Millis; // default 20
  readonly rtoMs?: Millis; // default 100
  readonly maxTransmits?: number; // default 4
  readonly nominateAfterMs?: Millis; // default 100
  readonly probeIntervalMs?: Millis; // default 1000
  readonly probeTimeoutMs?: Millis; // default 500: the longest a probe waits (3 x srtt below this)
  readonly minProbeTimeoutMs?: Millis; // default 100: the shortest
  readonly deadAfterMisses?: number; // default 3
  readonly hysteresisMs?: Millis; // default 5
  readonly hysteresisFraction?: number; // default 0.2
  readonly minSamples?: number; // default 2: RTT samples before a pair may win a "faster" switch
  /** A faster pair must stay better by the margin this long before the switch (default 2000). */
  readonly switchHoldMs?: Millis;
  readonly relayPenaltyMs?: Millis; // default 20
  /**
   * Default true: a working direct pair always beats a relayed one (as ICE's type
   * preferences and Tailscale's "direct over DERP"): relays cost supernode capacity, and
   * RTT samples taken while a transfer fills a shared access link cannot tell the two
   * apart. Among direct pairs (or among relayed ones) the lowest score wins.
   */
  readonly preferDirect?: boolean;
  readonly maxPairs?: number; // default 64
  readonly recheckIntervalMs?: Millis; // default 5000; 0: never re-check failed direct pairs
  readonly recheckMaxIntervalMs?: Millis; // default 30000
  /** First re-check of a pair that died (had worked): default 250, doubling per failed re-check. */
  readonly fastRecheckMs?: Millis;
}

export type PairState = 'waiting' | 'in-progress' | 'succeeded' | 'failed';

export type CheckTransmit =
  | { readonly kind: 'request'; readonly pairKey: string; readonly local: Candidate; readonly to: UdpAddress; readonly txId: string; readonly nominate: boolean; readonly purpose: 'check' | 'probe' }
  | { readonly kind: 'response'; readonly local: Candidate; readonly to: UdpAddress; readonly txId: string };

export type CheckEvent =
  | { readonly type: 'pair-succeeded'; readonly pair: CandidatePair; readonly rttMs: Millis }
  | { readonly type: 'pair-failed'; readonly pair: CandidatePair; readonly reason: 'timeout' | 'dead' }
  | { readonly type: 'path-selected'; readonly pair: CandidatePair }
  | { readonly type: 'path-switched'; readonly from: CandidatePair; readonly to: CandidatePair; readonly reason: 'faster' | 'direct' | 'dead' | 'nominated' }
  /** The selected pair missed a probe (the first miss of a run): it may be dying. */
  | { readonly type: 'path-trouble'; readonly pair: CandidatePair }
  | { readonly type: 'no-path' };

export interface PairStatus {
  readonly pair: CandidatePair;
  readonly state: PairState;
  readonly srttMs?: Millis;
  /** Lowest of the last RTT_WINDOW samples: the path's latency without momentary queueing. */
  readonly minRttMs?: Millis;
  readonly samples: number;
}

/** RTT samples kept per pair for minRttMs. */
export const RTT_WINDOW = 8;

interface PairEntry {
  readonly pair: CandidatePair;
  state: PairState;
  transmissions: number;
  nextAt: Millis; // in-progress: next retransmission or give-up
  srttMs?: Millis;
  recent: Millis[];
  samples: number;
  misses: number;
  probeNextAt: Millis;
  probe?: { txId: string; timeoutAt: Millis };
  /** When a failed direct pair may be checked again (while the selected pair is relayed). */
  recheckAt: Millis;
  /** The wait before the next re-check. */
  recheckWaitMs: Millis;
  /** This check is a re-check of a pair that had failed. */
  rechecking: boolean;
}

interface Transaction {
  readonly pairKey: string;
  readonly sentAt: Millis;
  readonly purpose: 'check' | 'probe';
}

function minOf(xs: readonly number[]): number | undefined {
  return xs.length === 0 ? undefined : Math.min(...xs);
}

export class CheckAgent {
  private readonly c: Required<Omit<CheckConfig, 'localCandidates' | 'remoteCandidates'>>;
  private readonly locals = new Map<string, Candidate>();
  private readonly remotes: Candidate[];
  private readonly entries = new Map<string, PairEntry>();
  private readonly triggered: string[] = [];
  private readonly txs = new Map<string, Transaction>();
  private readonly transmits: CheckTransmit[] = [];
  private readonly events: CheckEvent[] = [];
  private nextStartAt: Millis;
  private nominateAt?: Millis;
  private selected?: PairEntry;
  /** A pair was selected once: losing every path later is recoverable (re-checks, relay included). */
  private everSelected = false;
  /** The pair that has been better than the selected one by the margin, since challengerSince. */
  private challenger?: PairEntry;
  private challengerSince = 0;
  /** Controlled side: the pair the controlling side nominated before our own check of it succeeded. */
  private pendingNomination?: PairEntry;

  constructor(config: CheckConfig) {
    this.c = {
      controlling: config.controlling, startAt: config.startAt, newTxId: config.newTxId,
      paceMs: config.paceMs ?? 20, rtoMs: config.rtoMs ?? 100, maxTransmits: config.maxTransmits ?? 4,
      nominateAfterMs: config.nominateAfterMs ?? 100, probeIntervalMs: config.probeIntervalMs ?? 1000,
      probeTimeoutMs: config.probeTimeoutMs ?? 500, deadAfterMisses: config.deadAfterMisses ?? 3,
      hysteresisMs: config.hysteresisMs ?? 5, hysteresisFraction: config.hysteresisFraction ?? 0.2,
      minSamples: config.minSamples ?? 2, relayPenaltyMs: config.relayPenaltyMs ?? 20, maxPairs: config.maxPairs ?? 64,
      preferDirect: config.preferDirect ?? true,
      recheckIntervalMs: config.recheckIntervalMs ?? 5000, recheckMaxIntervalMs: config.recheckMaxIntervalMs ?? 30_000,
      minProbeTimeoutMs: config.minProbeTimeoutMs ?? 100, fastRecheckMs: config.fastRecheckMs ?? 250,
      switchHoldMs: config.switchHoldMs ?? 2000,
    };
    for (const l of config.localCandidates) this.locals.set(candidateKey(l), l);
    this.remotes = [...config.remoteCandidates];
    for (const p of formPairs(config.localCandidates, config.remoteCandidates, this.c.controlling, this.c.maxPairs)) this.addEntry(p);
    this.nextStartAt = config.startAt;
  }

  // ---- output ----

  pollTransmit(): CheckTransmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): CheckEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): Millis | undefined {
    let t: Millis | undefined;
    const min = (x: Millis | undefined) => { if (x !== undefined && (t === undefined || x < t)) t = x; };
    if (this.nextWaiting()) min(this.nextStartAt);
    min(this.nominateAt);
    const recheck = this.recheckEnabled();
    for (const e of this.entries.values()) {
      if (recheck && this.rechecks(e)) min(e.recheckAt);
      if (e.state === 'in-progress') min(e.nextAt);
      if (e.state === 'succeeded') min(e.probe ? e.probe.timeoutAt : e.probeNextAt);
    }
    return t;
  }

  selectedPair(): CandidatePair | undefined {
    return this.selected?.pair;
  }

  status(): PairStatus[] {
    return [...this.entries.values()].map((e) => ({ pair: e.pair, state: e.state, srttMs: e.srttMs, minRttMs: minOf(e.recent), samples: e.samples }));
  }

  /**
   * How long the driver's own traffic on the selected pair may go unanswered before it calls
   * suspect(): 2 x the pair's smoothed RTT + 30 ms (the peer's ACK delay), at least 60 ms.
   */
  suspectAfterMs(): Millis {
    const srtt = this.selected?.srttMs;
    return srtt === undefined ? this.c.probeTimeoutMs : Math.max(60, 2 * srtt + 30);
  }

  // ---- input ----

  /**
   * The driver sent on the selected pair and heard nothing back for suspectAfterMs(): probe
   * it now (unless a probe is already out). Consecutive misses then declare it dead fast.
   */
  suspect(now: Millis): void {
    const e = this.selected;
    if (!e || e.state !== 'succeeded' || e.probe) return;
    this.sendProbe(e, now);
  }

  /**
   * Something changed that may revive failed relayed pairs (our relay binding was re-made,
   * e.g. after we changed networks): re-check them now instead of at their next re-check
   * time. Only when re-checks are on and a pair had been selected once (a live session).
   */
  recheckRelayNow(now: Millis): void {
    if (this.c.recheckIntervalMs <= 0 || !this.everSelected) return;
    for (const e of this.entries.values()) {
      if (e.state !== 'failed' || !e.pair.relayed) continue;
      e.state = 'waiting';
      e.rechecking = true;
      if (!this.triggered.includes(e.pair.key)) this.triggered.push(e.pair.key);
    }
    this.handleTimeout(now);
  }

  /** Trickled remote candidate (e.g. a relay candidate that arrived later). */
  addRemoteCandidate(now: Millis, remote: Candidate): void {
    this.remotes.push(remote);
    for (const l of this.locals.values()) {
      const p = formPairs([l], [remote], this.c.controlling)[0];
      if (p && !this.entries.has(p.key)) this.addEntry(p);
    }
    this.handleTimeout(now);
  }

  handleTimeout(now: Millis): void {
    this.queueRechecks(now);
    this.startChecks(now);
    for (const e of this.entries.values()) {
      if (e.state === 'in-progress' && now >= e.nextAt) {
        if (e.transmissions < this.c.maxTransmits) this.sendCheck(e, now);
        else this.fail(e, 'timeout', now);
      } else if (e.state === 'succeeded') {
        if (e.probe && now >= e.probe.timeoutAt) {
          this.txs.delete(e.probe.txId);
          e.probe = undefined;
          if (++e.misses >= this.c.deadAfterMisses) { this.fail(e, 'dead', now); continue; }
          if (e === this.selected) {
            e.probeNextAt = now; // consecutive probe timeouts on the path in use
            if (e.misses === 1) this.events.push({ type: 'path-trouble', pair: e.pair });
          }
        }
        if (!e.probe && now >= e.probeNextAt) this.sendProbe(e, now);
      }
    }
    if (this.nominateAt !== undefined && now >= this.nominateAt) this.nominate(now);
  }

  /** A check request arrived on our local candidate `localKey` from `from`: answer it and check back. */
  handleRequest(now: Millis, localKey: string, from: UdpAddress, txId: string, nominate: boolean): void {
    const local = this.locals.get(localKey);
    if (!local) return;
    this.transmits.push({ kind: 'response', local, to: from, txId });
    let e = [...this.entries.values()].find((x) => x.pair.local === local && sameAddress(x.pair.remote.address, from));
    if (!e) {
      if (this.entries.size >= this.c.maxPairs && !this.evictFailedPrflx()) return;
      const remote = local.type === 'relay' ? undefined : candidate('prflx', from);
      if (!remote) return; // relay traffic only arrives from the relay's own address
      e = this.addEntry(makePair(local, remote, this.c.controlling));
    }
    if ((e.state === 'waiting' || e.state === 'failed') && !this.triggered.includes(e.pair.key)) {
      e.state = 'waiting';
      this.triggered.push(e.pair.key);
    }
    if (nominate && !this.c.controlling) {
      // Only a pair our own check proved is followed (RFC 8445 §7.3.1.5): a nomination is
      // authenticated but not bound to its source, so a replayed one from another address
      // must not move our traffic there. An unproven pair is followed when its check succeeds,
      // unless a later nomination came first (only the latest one counts).
      if (e.state === 'succeeded' || this.selected === e) {
        this.pendingNomination = undefined;
        if (this.selected !== e) this.follow(e);
      } else this.pendingNomination = e;
    }
    this.handleTimeout(now);
  }

  handleResponse(now: Millis, txId: string, from: UdpAddress): void {
    const tx = this.txs.get(txId);
    if (!tx) return;
    const e = this.entries.get(tx.pairKey);
    if (!e || !sameAddress(e.pair.remote.address, from)) return; // responses must be symmetric
    this.txs.delete(txId);
    const sample = now - tx.sentAt;
    if (tx.purpose === 'check') {
      if (e.state !== 'in-progress') return;
      for (const [id, t] of this.txs) if (t.pairKey === e.pair.key) this.txs.delete(id);
      e.state = 'succeeded';
      e.srttMs = sample;
      e.recent = [sample];
      e.samples = 1;
      e.misses = 0;
      e.probeNextAt = now + this.c.probeIntervalMs;
      e.rechecking = false;
      e.recheckWaitMs = this.c.recheckIntervalMs;
      this.events.push({ type: 'pair-succeeded', pair: e.pair, rttMs: sample });
      if (this.pendingNomination === e) { this.pendingNomination = undefined; if (this.selected !== e) this.follow(e); }
      this.considerSwitch(now);
      if (this.c.controlling && !this.selected) {
        const pending = [...this.entries.values()].some((x) => x.state === 'waiting' || x.state === 'in-progress');
        if (!pending || this.everSelected) this.nominateAt = now; // a live session without a path takes the first that works
        else if (this.nominateAt === undefined) this.nominateAt = now + this.c.nominateAfterMs;
      }
    } else {
      if (e.state !== 'succeeded' || e.probe?.txId !== txId) return;
      e.probe = undefined;
      e.srttMs = e.srttMs === undefined ? sample : (7 * e.srttMs + sample) / 8;
      e.recent.push(sample);
      if (e.recent.length > RTT_WINDOW) e.recent.shift();
      e.samples++;
      e.misses = 0;
      this.considerSwitch(now);
    }
    this.handleTimeout(now);
  }

  // ---- internals ----

  private addEntry(pair: CandidatePair): PairEntry {
    const e: PairEntry = {
      pair, state: 'waiting', transmissions: 0, nextAt: 0, recent: [], samples: 0, misses: 0, probeNextAt: 0,
      recheckAt: 0, recheckWaitMs: this.c.recheckIntervalMs, rechecking: false,
    };
    this.entries.set(pair.key, e);
    return e;
  }

  /**
   * A full table makes room for a new peer-reflexive pair by forgetting a failed one (the oldest;
   * a new request from its address makes it again): addresses the contact left behind (each NAT
   * renumbering adds one), or checks replayed from other addresses, must not keep the contact's
   * new address out. Pairs from the candidates are kept.
   */
  private evictFailedPrflx(): boolean {
    for (const [key, x] of this.entries) {
      if (x.state !== 'failed' || x.pair.remote.type !== 'prflx' || x === this.selected) continue;
      this.entries.delete(key);
      for (const [id, t] of this.txs) if (t.pairKey === key) this.txs.delete(id);
      const i = this.triggered.indexOf(key);
      if (i >= 0) this.triggered.splice(i, 1);
      if (this.challenger === x) this.challenger = undefined;
      return true;
    }
    return false;
  }

  private nextWaiting(): PairEntry | undefined {
    for (const k of this.triggered) {
      const e = this.entries.get(k);
      if (e?.state === 'waiting') return e;
    }
    let best: PairEntry | undefined;
    for (const e of this.entries.values()) if (e.state === 'waiting' && (!best || comparePairs(e.pair, best.pair) < 0)) best = e;
    return best;
  }

  private startChecks(now: Millis): void {
    if (now < this.nextStartAt) return;
    const e = this.nextWaiting();
    if (!e) return;
    const i = this.triggered.indexOf(e.pair.key);
    if (i >= 0) this.triggered.splice(i, 1);
    e.state = 'in-progress';
    e.transmissions = 0;
    this.sendCheck(e, now);
    this.nextStartAt = now + this.c.paceMs;
  }

  private sendCheck(e: PairEntry, now: Millis): void {
    const txId = this.c.newTxId();
    this.txs.set(txId, { pairKey: e.pair.key, sentAt: now, purpose: 'check' });
    e.transmissions++;
    e.nextAt = now + this.c.rtoMs * 2 ** (e.transmissions - 1);
    const nominate = this.c.controlling && this.selected === e;
    this.transmits.push({ kind: 'request', pairKey: e.pair.key, local: e.pair.local, to: e.pair.remote.address, txId, nominate, purpose: 'check' });
  }

  private sendProbe(e: PairEntry, now: Millis): void {
    const txId = this.c.newTxId();
    this.txs.set(txId, { pairKey: e.pair.key, sentAt: now, purpose: 'probe' });
    e.probe = { txId, timeoutAt: now + this.probeTimeout(e) };
    e.probeNextAt = now + this.c.probeIntervalMs;
    const nominate = this.c.controlling && this.selected === e;
    this.transmits.push({ kind: 'request', pairKey: e.pair.key, local: e.pair.local, to: e.pair.remote.address, txId, nominate, purpose: 'probe' });
  }

  /** 3 x the pair's smoothed RTT, within minProbeTimeoutMs..probeTimeoutMs (the maximum before any sample). */
  private probeTimeout(e: PairEntry): Millis {
    if (e.srttMs === undefined) return this.c.probeTimeoutMs;
    return Math.min(this.c.probeTimeoutMs, Math.max(this.c.minProbeTimeoutMs, 3 * e.srttMs));
  }

  private fail(e: PairEntry, reason: 'timeout' | 'dead', now: Millis): void {
    e.state = 'failed';
    if (this.pendingNomination === e) this.pendingNomination = undefined;
    e.probe = undefined;
    for (const [id, t] of this.txs) if (t.pairKey === e.pair.key) this.txs.delete(id);
    // A pair that worked and died (the contact moved, an outage) is re-checked soon: it may come right back.
    if (reason === 'dead' && this.c.recheckIntervalMs > 0) e.recheckWaitMs = Math.min(this.c.fastRecheckMs, this.c.recheckIntervalMs);
    e.recheckAt = now + e.recheckWaitMs;
    if (e.rechecking) {
      // A failed re-check: already reported as failed; wait longer next time.
      e.rechecking = false;
      e.recheckWaitMs = Math.min(this.c.recheckMaxIntervalMs, e.recheckWaitMs * 2);
      e.recheckAt = now + e.recheckWaitMs;
      return;
    }
    this.events.push({ type: 'pair-failed', pair: e.pair, reason });
    if (this.selected === e) {
      this.selected = undefined;
      const next = this.best(0);
      if (!next) this.events.push({ type: 'no-path' });
      else {
        // Fail over at once. The controlled side does too, locally (its traffic must not wait
        // for a nomination that may itself be lost); the controlling side's next nomination wins.
        this.select(next, now);
        this.events.push({ type: 'path-switched', from: e.pair, to: next.pair, reason: 'dead' });
      }
      return;
    }
    const pending = [...this.entries.values()].some((x) => x.state === 'waiting' || x.state === 'in-progress');
    const working = [...this.entries.values()].some((x) => x.state === 'succeeded');
    if (!this.selected && !pending) {
      if (working && this.c.controlling) this.nominate(now);
      else if (!working) this.events.push({ type: 'no-path' });
    }
  }

  /**
   * Re-checks run while a relayed pair is selected (a direct path is what they look for), and
   * after every path was lost once a pair had been selected (the contact changed networks, an
   * outage): then the relay pair is re-checked too.
   */
  private recheckEnabled(): boolean {
    return this.c.recheckIntervalMs > 0 && (!!this.selected?.pair.relayed || (this.everSelected && !this.selected));
  }

  private rechecks(e: PairEntry): boolean {
    return e.state === 'failed' && (!e.pair.relayed || !this.selected);
  }

  /** Failed pairs whose wait is over go back to 'waiting' (then paced like any check). */
  private queueRechecks(now: Millis): void {
    if (!this.recheckEnabled()) return;
    for (const e of this.entries.values()) {
      if (!this.rechecks(e) || now < e.recheckAt) continue;
      e.state = 'waiting';
      e.rechecking = true;
    }
  }

  private score(e: PairEntry): number {
    return (minOf(e.recent) ?? Infinity) + (e.pair.relayed ? this.c.relayPenaltyMs : 0);
  }

  /** 1 for a relayed pair when direct pairs are preferred, else 0: compared before the score. */
  private rank(e: PairEntry): number {
    return this.c.preferDirect && e.pair.relayed ? 1 : 0;
  }

  private better(a: PairEntry, b: PairEntry): boolean {
    if (this.rank(a) !== this.rank(b)) return this.rank(a) < this.rank(b);
    return this.score(a) < this.score(b) || (this.score(a) === this.score(b) && comparePairs(a.pair, b.pair) < 0);
  }

  private best(minSamples: number): PairEntry | undefined {
    let best: PairEntry | undefined;
    for (const e of this.entries.values()) {
      if (e.state !== 'succeeded' || (e.samples < minSamples && e !== this.selected)) continue;
      if (!best || this.better(e, best)) best = e;
    }
    return best;
  }

  private nominate(now: Millis): void {
    this.nominateAt = undefined;
    if (this.selected) return;
    const e = this.best(0);
    if (!e) return;
    this.select(e, now);
    this.events.push({ type: 'path-selected', pair: e.pair });
  }

  /** Controlled side: the controlling side nominated `e` and our check of it succeeded. */
  private follow(e: PairEntry): void {
    const old = this.selected;
    this.selected = e;
    this.everSelected = true;
    this.events.push(old ? { type: 'path-switched', from: old.pair, to: e.pair, reason: 'nominated' } : { type: 'path-selected', pair: e.pair });
  }

  /** Make `e` the selected pair and tell the controlled side right away (nominate flag). */
  private select(e: PairEntry, now: Millis): void {
    this.selected = e;
    this.everSelected = true;
    if (e.probe) this.txs.delete(e.probe.txId);
    this.sendProbe(e, now);
  }

  private considerSwitch(now: Millis): void {
    if (!this.c.controlling || !this.selected) return;
    const cur = this.selected;
    // A direct pair that answered once beats a relayed one: no wait for a second RTT sample then.
    const best = this.best(this.rank(cur) > 0 ? 1 : this.c.minSamples);
    if (!best || best === cur) { this.challenger = undefined; return; }
    const margin = Math.max(this.c.hysteresisMs, this.score(cur) * this.c.hysteresisFraction);
    const toDirect = this.rank(best) < this.rank(cur);
    // Missed probes alone never move the path between pairs of one kind: a lost probe is no
    // reason, a dead pair (deadAfterMisses in a row, the selected one re-probed at once) is,
    // and fail() moves it. Faster = better by the margin, continuously for switchHoldMs.
    let faster = false;
    if (this.rank(best) === this.rank(cur) && this.score(best) < this.score(cur) - margin) {
      if (this.challenger !== best) { this.challenger = best; this.challengerSince = now; }
      faster = now - this.challengerSince >= this.c.switchHoldMs;
    } else this.challenger = undefined;
    if (toDirect || faster) {
      this.challenger = undefined;
      this.selected = best;
      this.events.push({ type: 'path-switched', from: cur.pair, to: best.pair, reason: toDirect ? 'direct' : 'faster' });
      // The next probe on `best` carries the nomination; send one now so the peer follows quickly.
      if (!best.probe) best.probeNextAt = -Infinity;
    }
  }

  /** For logs: "host:192.0.2.2:5000 -> srflx 198.51.100.3:40000". */
  static describe(p: CandidatePair): string {
    return `${p.local.type}:${formatAddress(p.local.address)} -> ${p.remote.type}:${formatAddress(p.remote.address)}`;
  }
}
