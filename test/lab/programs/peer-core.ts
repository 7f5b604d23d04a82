// The lab peer as one sans-IO endpoint (handleDatagram/handleTimeout/pollTransmit/
// pollTimeout, runnable by src/datagram/driver.ts over real UDP or the simulator):
// classify the NAT (NatClassifier, probes as real STUN via StunProbeCodec against the
// directory's RFC 5780 STUN server), register host+srflx
// candidates at the rendezvous, on 'go' (peer candidates, coordinated start, ticket)
// bind at the relay and run connectivity checks (CheckAgent; ICE-style STUN checks of
// check-wire.ts with credentials exchanged at the rendezvous) over direct and relayed
// pairs, send a chat line over the selected path and wait for the peer's line and ack.
// result() is set when done (all checks settled) or after giveUpAfterMs.
// STUN, checks and relay framing are the real formats; rendezvous and the chat line are
// the lab-only JSON of lab-wire.ts (until the directory's rendezvous and the transport).
import { NatClassifier, type Classification } from '../../../src/overlay/nat-classify.ts';
import { StunProbeCodec } from '../../../src/overlay/stun-probe.ts';
import { formatNatType } from '../../../src/overlay/nat-types.ts';
import { candidate, candidateKey, candidatePriority, type Candidate } from '../../../src/overlay/candidates.ts';
import { decodeCheck, encodeCheckRequest, encodeCheckResponse, type IceCredentials } from '../../../src/overlay/check-wire.ts';
import { CheckAgent } from '../../../src/overlay/checks.ts';
import { decodeRelayMessage, encodeRelayMessage, RELAY_MARKER, RelayDecodeError } from '../../../src/overlay/relay-wire.ts';
import { sameAddress, type Millis, type UdpAddress } from '../../../src/wire/socket.ts';
import { decodeLab, encodeLab, type LabMessage } from './lab-wire.ts';

export interface LabPeerConfig {
  readonly name: string;
  readonly want: string;
  /** This host's own socket address (host candidate). */
  readonly host: UdpAddress;
  readonly primary: UdpAddress;
  readonly primaryAlt: UdpAddress;
  readonly secondary: UdpAddress;
  readonly relay: UdpAddress;
  /** The lab rendezvous (JSON), standing in for the directory's. */
  readonly rendezvous: UdpAddress;
  readonly randomBytes: (n: number) => Uint8Array;
  readonly giveUpAfterMs?: Millis; // default 12_000
}

export interface LabPeerResult {
  ok: boolean;
  why: string;
  name: string;
  nat?: string;
  certain?: boolean;
  path: 'direct' | 'relayed' | 'none';
  pair?: string;
  srttMs?: number;
  received?: string;
  invalidChecks?: number;
  /** Time from start to the first path selection. */
  connectMs?: number;
  ms: number;
  log: string[];
  pairs?: string[];
}

const TICK_MS = 100;

export class LabPeer {
  private readonly classifier: NatClassifier;
  private readonly stun: StunProbeCodec;
  private nat?: Classification;
  private agent?: CheckAgent;
  private relaySession?: bigint;
  private ticket?: Uint8Array;
  private received?: string;
  private acked = false;
  private chatSent = 0;
  private nextTickAt: Millis;
  private selectedAt?: Millis;
  private outcome?: LabPeerResult;
  private readonly out: { to: UdpAddress; bytes: Uint8Array }[] = [];
  private readonly hostCand: Candidate;
  private readonly relayCand: Candidate;
  private readonly ufrag: string;
  private readonly password: string;
  private readonly tieBreaker: bigint;
  private creds?: IceCredentials;
  private controlling = false;
  private invalidChecks = 0;
  readonly log: string[] = [];

  constructor(private readonly cfg: LabPeerConfig, private readonly t0: Millis) {
    this.hostCand = candidate('host', cfg.host);
    this.relayCand = candidate('relay', cfg.relay);
    this.stun = new StunProbeCodec(cfg.randomBytes);
    const hex = (n: number) => Buffer.from(cfg.randomBytes(n)).toString('hex');
    this.ufrag = hex(4);
    this.password = hex(16);
    this.tieBreaker = BigInt(`0x${hex(8)}`);
    this.classifier = new NatClassifier({
      primary: cfg.primary, primaryAltPort: cfg.primaryAlt, secondary: cfg.secondary, localAddresses: [cfg.host], rtoMs: 100, maxTransmits: 3,
    }, t0);
    this.nextTickAt = t0;
    this.pump(t0);
  }

  result(): LabPeerResult | undefined {
    return this.outcome;
  }

  pollTransmit(): { to: UdpAddress; bytes: Uint8Array } | undefined {
    return this.out.shift();
  }

  pollTimeout(): Millis | undefined {
    if (this.outcome) return undefined;
    const c = this.classifier.result() ? undefined : this.classifier.pollTimeout();
    return Math.min(c ?? Infinity, this.agent?.pollTimeout() ?? Infinity, this.nextTickAt);
  }

  handleTimeout(now: Millis): void {
    if (this.outcome) return;
    if (!this.classifier.result()) this.classifier.handleTimeout(now);
    this.agent?.handleTimeout(now);
    if (now >= this.nextTickAt) {
      this.nextTickAt = now + TICK_MS;
      this.tick(now);
    }
    this.pump(now);
  }

  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void {
    if (this.outcome) return;
    if (sameAddress(from, this.cfg.relay) && bytes[0] === RELAY_MARKER) {
      try {
        const r = decodeRelayMessage(bytes);
        if (r.type === 'bind-ok') {
          if (this.relaySession === undefined) this.log.push(`${now - this.t0}ms relay-bound as ${r.observed.address}:${r.observed.port}`);
          this.relaySession = r.sessionId;
        } else if (r.type === 'data') {
          if (StunProbeCodec.isStun(r.payload)) this.handleCheck(now, r.payload, this.cfg.relay, this.relayCand);
          else {
            const m = decodeLab(r.payload);
            if (m) this.handleLab(now, m, this.cfg.relay, this.relayCand);
          }
        } else if (r.type === 'error') this.log.push(`${now - this.t0}ms relay-error ${r.code} ${r.reason}`);
      } catch (e) {
        if (!(e instanceof RelayDecodeError)) throw e;
      }
    } else if (StunProbeCodec.isStun(bytes)) {
      const r = this.stun.decodeResponse(bytes, from);
      if (r) this.classifier.handleResponse(now, r.probeId, r.fact);
      else this.handleCheck(now, bytes, from, this.hostCand);
    } else {
      const m = decodeLab(bytes);
      if (m) this.handleLab(now, m, from, this.hostCand);
    }
    this.pump(now);
  }

  // ---- internals ----

  private handleCheck(now: Millis, bytes: Uint8Array, from: UdpAddress, local: Candidate): void {
    if (!this.agent || !this.creds) return;
    const c = decodeCheck(this.creds, bytes);
    if (c.kind === 'request') this.agent.handleRequest(now, candidateKey(local), from, c.txId, c.nominate);
    else if (c.kind === 'response') this.agent.handleResponse(now, c.txId, from);
    else this.invalidChecks++;
  }

  private sendBytesVia(local: Candidate, to: UdpAddress, bytes: Uint8Array): void {
    if (local.type !== 'relay') { this.out.push({ to, bytes }); return; }
    if (this.relaySession === undefined) return; // not bound yet: checks are retransmitted
    this.out.push({ to: this.cfg.relay, bytes: encodeRelayMessage({ type: 'data', sessionId: this.relaySession, payload: bytes }) });
  }

  private send(to: UdpAddress, m: LabMessage): void {
    this.out.push({ to, bytes: encodeLab(m) });
  }

  private sendVia(local: Candidate, to: UdpAddress, m: LabMessage): void {
    this.sendBytesVia(local, to, encodeLab(m));
  }

  private pump(now: Millis): void {
    for (let p = this.classifier.pollProbe(); p; p = this.classifier.pollProbe()) this.out.push({ to: p.to, bytes: this.stun.encodeProbe(p) });
    if (!this.nat && this.classifier.result()) {
      this.nat = this.classifier.result()!;
      this.log.push(`${now - this.t0}ms nat ${formatNatType(this.nat.nat)}${this.nat.certain ? '' : ' (uncertain)'}`);
      this.tick(now);
    }
    if (!this.agent) return;
    for (let t = this.agent.pollTransmit(); t; t = this.agent.pollTransmit()) {
      const bytes = t.kind === 'request'
        ? encodeCheckRequest(this.creds!, { txId: t.txId, priority: candidatePriority('prflx'), controlling: this.controlling, tieBreaker: this.tieBreaker, nominate: t.nominate })
        : encodeCheckResponse(this.creds!, { txId: t.txId, mapped: t.to });
      this.sendBytesVia(t.local, t.to, bytes);
    }
    for (let e = this.agent.pollEvent(); e; e = this.agent.pollEvent()) {
      const d = e.type === 'path-selected' ? CheckAgent.describe(e.pair) : e.type === 'path-switched' ? `${CheckAgent.describe(e.from)} => ${CheckAgent.describe(e.to)} (${e.reason})`
        : e.type === 'no-path' ? '' : CheckAgent.describe(e.pair);
      if ((e.type === 'path-selected' || e.type === 'path-switched') && this.selectedAt === undefined) this.selectedAt = now;
      this.log.push(`${now - this.t0}ms ${e.type} ${d}`);
    }
  }

  /** Every 100 ms: register until 'go', bind at the relay until BIND-OK, chat until acked. */
  private tick(now: Millis): void {
    if (now - this.t0 > (this.cfg.giveUpAfterMs ?? 12_000)) return this.finish(now, false, 'timeout');
    if (this.nat && !this.agent) {
      if (this.nat.nat.udp === 'blocked') return this.finish(now, false, 'UDP blocked');
      const cands: Candidate[] = [this.hostCand];
      if (this.nat.mapped && !sameAddress(this.nat.mapped, this.cfg.host)) cands.push(candidate('srflx', this.nat.mapped));
      this.send(this.cfg.rendezvous, { t: 'register', name: this.cfg.name, want: this.cfg.want, candidates: cands, ufrag: this.ufrag, password: this.password });
    }
    if (this.ticket && this.relaySession === undefined) this.out.push({ to: this.cfg.relay, bytes: encodeRelayMessage({ type: 'bind', deviceId: this.cfg.name, ticket: this.ticket }) });
    const sel = this.agent?.selectedPair();
    if (sel && !this.acked && this.chatSent < 50) {
      this.chatSent++;
      this.sendVia(sel.local, sel.remote.address, { t: 'msg', text: `hello from ${this.cfg.name}` });
    }
    const settled = this.agent?.status().every((x) => x.state === 'succeeded' || x.state === 'failed');
    if (this.received && this.acked && settled) this.finish(now, true, 'done');
  }

  private handleLab(now: Millis, m: LabMessage, from: UdpAddress, local: Candidate): void {
    switch (m.t) {
      case 'go':
        if (this.agent) break;
        this.ticket = Uint8Array.from(Buffer.from(m.ticketHex, 'hex'));
        this.creds = { localUfrag: this.ufrag, localPassword: this.password, remoteUfrag: m.ufrag, remotePassword: m.password };
        this.controlling = m.controlling;
        this.log.push(`${now - this.t0}ms go controlling=${m.controlling} start in ${m.startAt - now}ms`);
        this.agent = new CheckAgent({
          controlling: m.controlling, startAt: m.startAt, localCandidates: [this.hostCand, this.relayCand],
          remoteCandidates: [...m.candidates, this.relayCand], newTxId: () => Buffer.from(this.cfg.randomBytes(12)).toString('hex'),
        });
        this.out.push({ to: this.cfg.relay, bytes: encodeRelayMessage({ type: 'bind', deviceId: this.cfg.name, ticket: this.ticket }) });
        break;
      case 'msg':
        this.received = m.text;
        this.sendVia(local, from, { t: 'ack', text: m.text });
        break;
      case 'ack': this.acked = true; break;
      default: break;
    }
  }

  private finish(now: Millis, ok: boolean, why: string): void {
    if (this.outcome) return;
    const sel = this.agent?.selectedPair();
    const st = sel ? this.agent!.status().find((s) => s.pair.key === sel.key) : undefined;
    this.outcome = {
      ok, why, name: this.cfg.name, nat: this.nat ? formatNatType(this.nat.nat) : undefined, certain: this.nat?.certain,
      path: sel ? (sel.relayed ? 'relayed' : 'direct') : 'none', pair: sel ? CheckAgent.describe(sel) : undefined, srttMs: st?.srttMs,
      received: this.received, invalidChecks: this.invalidChecks, connectMs: this.selectedAt === undefined ? undefined : this.selectedAt - this.t0, ms: now - this.t0, log: this.log,
      pairs: this.agent?.status().map((x) => `${CheckAgent.describe(x.pair)} ${x.state}`),
    };
  }
}
