// The lab peer as one sans-IO endpoint (handleDatagram/handleTimeout/pollTransmit/
// pollTimeout, run by src/datagram/driver.ts over real UDP or the simulator):
//  1. classify the NAT (NatClassifier; probes are real STUN via StunProbeCodec against
//     the directory's RFC 5780 STUN server);
//  2. register host+srflx candidates and ICE credentials at the lab rendezvous until
//     'go' arrives (peer candidates and credentials, coordinated start, relay ticket);
//  3. hand the socket to a PeerLink (src/overlay/peer-link.ts): relay session
//     (RelayClient), ICE-style STUN checks (CheckAgent), and the real transport (Endpoint
//     + Driver, plaintext crypto until the session layer is wired) on the selected path;
//  4. the controlling peer connects and writes a chat line on a stream; the other reads
//     it and answers with its own line; both report.
// result() is set when the lines crossed and every check settled, or after giveUpAfterMs.
// Only the rendezvous is lab-only JSON (lab-wire.ts), standing in for the directory's.
import { NatClassifier, type Classification } from '../../../src/overlay/nat-classify.ts';
import { StunProbeCodec } from '../../../src/overlay/stun-probe.ts';
import { formatNatType } from '../../../src/overlay/nat-types.ts';
import { candidate, type Candidate } from '../../../src/overlay/candidates.ts';
import { CheckAgent } from '../../../src/overlay/checks.ts';
import { RelayClient } from '../../../src/overlay/relay-client.ts';
import { PeerLink } from '../../../src/overlay/peer-link.ts';
import { Driver } from '../../../src/datagram/driver.ts';
import { Endpoint } from '../../../src/transport/endpoint.ts';
import type { Connection } from '../../../src/transport/connection.ts';
import { plaintextCrypto } from '../../../src/transport/crypto.ts';
import { seededRandom } from '../../../src/transport/random.ts';
import { sameAddress, type Clock, type DatagramHandler, type DatagramSocket, type Millis, type UdpAddress } from '../../../src/wire/socket.ts';
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
  /** The clock the Driver runs this peer on (PeerLink and the transport use it too). */
  readonly clock: Clock;
  /** Ask the Driver to flush (PeerLink's timers produce output outside Driver inputs). */
  readonly wake: () => void;
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
  /** Transport datagrams this peer sent: in total and through the relay. */
  transportOut?: number;
  transportOutRelayed?: number;
  ms: number;
  log: string[];
  pairs?: string[];
}

const TICK_MS = 100;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The DatagramSocket PeerLink gets: sends go out through this endpoint's Driver. */
class SubSocket implements DatagramSocket {
  handler: DatagramHandler = () => {};
  constructor(readonly local: UdpAddress, private readonly out: { to: UdpAddress; bytes: Uint8Array }[], private readonly wake: () => void) {}
  send(to: UdpAddress, bytes: Uint8Array): void { this.out.push({ to, bytes }); this.wake(); }
  onDatagram(h: DatagramHandler): void { this.handler = h; }
  close(): void { this.handler = () => {}; }
}

export class LabPeer {
  private readonly classifier: NatClassifier;
  private readonly stun: StunProbeCodec;
  private nat?: Classification;
  private link?: PeerLink;
  private agent?: CheckAgent;
  private sub?: SubSocket;
  private conn?: Connection;
  private received?: string;
  private replied = false;
  private nextTickAt: Millis;
  private selectedAt?: Millis;
  private outcome?: LabPeerResult;
  private readonly out: { to: UdpAddress; bytes: Uint8Array }[] = [];
  private readonly hostCand: Candidate;
  private readonly ufrag: string;
  private readonly password: string;
  private readonly tieBreaker: bigint;
  readonly log: string[] = [];

  constructor(private readonly cfg: LabPeerConfig, private readonly t0: Millis) {
    this.hostCand = candidate('host', cfg.host);
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
    return Math.min(c ?? Infinity, this.nextTickAt);
  }

  handleTimeout(now: Millis): void {
    if (this.outcome) return;
    if (!this.classifier.result()) this.classifier.handleTimeout(now);
    if (now >= this.nextTickAt) {
      this.nextTickAt = now + TICK_MS;
      this.tick(now);
    }
    this.pump(now);
  }

  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void {
    if (this.sub) {
      // Phase 3: everything but the rendezvous belongs to the PeerLink.
      if (!sameAddress(from, this.cfg.rendezvous)) this.sub.handler(from, bytes);
      return;
    }
    if (this.outcome) return;
    if (StunProbeCodec.isStun(bytes)) {
      const r = this.stun.decodeResponse(bytes, from);
      if (r) this.classifier.handleResponse(now, r.probeId, r.fact);
    } else if (sameAddress(from, this.cfg.rendezvous)) {
      const m = decodeLab(bytes);
      if (m?.t === 'go') this.start(now, m);
    }
    this.pump(now);
  }

  // ---- internals ----

  private pump(now: Millis): void {
    for (let p = this.classifier.pollProbe(); p; p = this.classifier.pollProbe()) this.out.push({ to: p.to, bytes: this.stun.encodeProbe(p) });
    if (!this.nat && this.classifier.result()) {
      this.nat = this.classifier.result()!;
      this.log.push(`${Math.round(now - this.t0)}ms nat ${formatNatType(this.nat.nat)}${this.nat.certain ? '' : ' (uncertain)'}`);
      this.tick(now);
    }
  }

  /** Every 100 ms: register until 'go'; then check whether we are done. */
  private tick(now: Millis): void {
    if (now - this.t0 > (this.cfg.giveUpAfterMs ?? 12_000)) return this.finish(now, false, 'timeout');
    if (this.nat && !this.link) {
      if (this.nat.nat.udp === 'blocked') return this.finish(now, false, 'UDP blocked');
      const cands: Candidate[] = [this.hostCand];
      if (this.nat.mapped && !sameAddress(this.nat.mapped, this.cfg.host)) cands.push(candidate('srflx', this.nat.mapped));
      const m: LabMessage = { t: 'register', name: this.cfg.name, want: this.cfg.want, candidates: cands, ufrag: this.ufrag, password: this.password };
      this.out.push({ to: this.cfg.rendezvous, bytes: encodeLab(m) });
    }
    const settled = this.agent?.status().every((x) => x.state === 'succeeded' || x.state === 'failed');
    if (this.received && this.replied && settled) this.finish(now, true, 'done');
  }

  private start(now: Millis, m: Extract<LabMessage, { t: 'go' }>): void {
    if (this.link) return;
    const ticket = Uint8Array.from(Buffer.from(m.ticketHex, 'hex'));
    const relayCand = candidate('relay', this.cfg.relay);
    this.log.push(`${Math.round(now - this.t0)}ms go controlling=${m.controlling} start in ${Math.round(m.startAt - now)}ms`);
    this.agent = new CheckAgent({
      controlling: m.controlling, startAt: m.startAt, localCandidates: [this.hostCand, relayCand],
      remoteCandidates: [...m.candidates, relayCand], newTxId: () => Buffer.from(this.cfg.randomBytes(12)).toString('hex'),
    });
    this.sub = new SubSocket(this.cfg.host, this.out, this.cfg.wake);
    this.link = new PeerLink({
      socket: this.sub, clock: this.cfg.clock, agent: this.agent, controlling: m.controlling, tieBreaker: this.tieBreaker, hostCandidate: this.hostCand,
      creds: { localUfrag: this.ufrag, localPassword: this.password, remoteUfrag: m.ufrag, remotePassword: m.password },
      relay: { client: new RelayClient({ relay: this.cfg.relay, deviceId: this.cfg.name, ticket }, now), address: this.cfg.relay, candidate: relayCand },
      onEvent: (e) => {
        const t = this.cfg.clock.now();
        const d = e.type === 'path-selected' ? CheckAgent.describe(e.pair) : e.type === 'path-switched' ? `${CheckAgent.describe(e.from)} => ${CheckAgent.describe(e.to)} (${e.reason})`
          : e.type === 'no-path' ? '' : CheckAgent.describe(e.pair);
        this.log.push(`${Math.round(t - this.t0)}ms ${e.type} ${d}`);
        if (e.type === 'path-selected' || e.type === 'path-switched') {
          this.selectedAt ??= t;
          if (m.controlling && !this.conn) this.connect();
        }
      },
    });
    if (!m.controlling) this.serve();
  }

  /** Controlling side: connect the transport to the peer's virtual address, write our line. */
  private connect(): void {
    const ep = new Endpoint({ crypto: plaintextCrypto, random: seededRandom(this.seed()) });
    const drv = new Driver(ep, this.link!.transportSocket, this.cfg.clock);
    const conn = ep.connect(this.cfg.clock.now(), this.link!.virtualPeer);
    this.conn = conn;
    const id = conn.openStream()!;
    conn.write(id, enc.encode(`hello from ${this.cfg.name}`));
    conn.finish(id);
    let got = '';
    drv.afterInput = () => {
      for (let e = conn.pollEvent(); e; e = conn.pollEvent()) { /* events are read through read() */ }
      for (let d = conn.read(id); d !== undefined; d = conn.read(id)) {
        if (d === null) { this.received = got; this.replied = true; break; }
        got += dec.decode(d);
      }
    };
    drv.wake();
  }

  /** Controlled side: accept, read the line, answer with ours. */
  private serve(): void {
    const ep = new Endpoint({ crypto: plaintextCrypto, random: seededRandom(this.seed()), server: true });
    const drv = new Driver(ep, this.link!.transportSocket, this.cfg.clock);
    let got = '';
    drv.afterInput = () => {
      for (let e = ep.pollEvent(); e; e = ep.pollEvent()) this.conn = e.connection;
      const conn = this.conn;
      if (!conn) return;
      for (let e = conn.pollEvent(); e; e = conn.pollEvent()) { /* stream_opened etc. */ }
      for (let d = conn.read(0); d !== undefined; d = conn.read(0)) {
        if (d === null) {
          this.received = got;
          if (!this.replied) { conn.write(0, enc.encode(`hello from ${this.cfg.name}`)); conn.finish(0); this.replied = true; }
          break;
        }
        got += dec.decode(d);
      }
    };
    drv.wake();
  }

  private seed(): number {
    return Buffer.from(this.cfg.randomBytes(4)).readUInt32BE(0);
  }

  private finish(now: Millis, ok: boolean, why: string): void {
    if (this.outcome) return;
    const sel = this.agent?.selectedPair();
    const st = sel ? this.agent!.status().find((s) => s.pair.key === sel.key) : undefined;
    this.outcome = {
      ok, why, name: this.cfg.name, nat: this.nat ? formatNatType(this.nat.nat) : undefined, certain: this.nat?.certain,
      path: sel ? (sel.relayed ? 'relayed' : 'direct') : 'none', pair: sel ? CheckAgent.describe(sel) : undefined, srttMs: st?.srttMs,
      received: this.received, invalidChecks: this.link?.counters.invalidChecks,
      transportOut: this.link?.counters.transportOut, transportOutRelayed: this.link?.counters.transportOutRelayed,
      connectMs: this.selectedAt === undefined ? undefined : this.selectedAt - this.t0, ms: now - this.t0, log: this.log,
      pairs: this.agent?.status().map((x) => `${CheckAgent.describe(x.pair)} ${x.state}`),
    };
  }
}
