// One peer-to-peer link over a shared UDP socket: the glue that lets the transport run
// over whatever path the overlay chose. I/O glue (a DatagramSocket and a Clock), no
// protocol logic of its own:
//   - incoming datagrams are demultiplexed (demux.ts): STUN connectivity checks go to the
//     CheckAgent, relay framing to the RelayClient (whose DATA payload is again a check
//     or a transport packet), transport packets from a known pair to the transport;
//   - `transportSocket` is the DatagramSocket the transport's Driver uses. The transport
//     only ever sees one stable virtual peer address (240.0.0.1:1 by default, never on the
//     wire); sends go out on the selected pair — directly, or wrapped in relay DATA — so
//     a switch between relayed and direct paths is invisible to streams (no migration,
//     no reconnection). Before a pair is nominated, replies follow the pair the last
//     transport packet arrived on.
//   - CheckAgent/RelayClient output is drained after every input and timer; one timer is
//     armed at the earlier of their wake-ups.
//   - Path death under traffic: when the transport keeps sending on the selected pair and
//     nothing has come back on it for the agent's suspectAfterMs() (~2 RTTs), the agent is
//     told (CheckAgent.suspect: probe now, consecutive probe timeouts at the current RTT),
//     so a dead path is noticed in a few RTTs rather than at the next 1 s probe.
import type { Clock, DatagramHandler, DatagramSocket, TimerHandle, UdpAddress } from '../wire/socket.ts';
import { sameAddress } from '../wire/socket.ts';
import { candidateKey, candidatePriority, type Candidate, type CandidatePair } from './candidates.ts';
import type { CheckAgent, CheckEvent } from './checks.ts';
import { decodeCheck, encodeCheckRefusal, encodeCheckRequest, encodeCheckResponse, type IceCredentials } from './check-wire.ts';
import { decodeStun, shortTermKey, verifyStunIntegrity } from '../wire/stun.ts';
import { DecodeError } from '../wire/errors.ts';
import { decodeRelayMessage, RelayDecodeError } from './relay-wire.ts';
import { classifyDatagram } from './demux.ts';
import type { RelayClient, RelayClientEvent } from './relay-client.ts';

export const DEFAULT_VIRTUAL_PEER: UdpAddress = { address: '240.0.0.1', port: 1 };

export interface PeerLinkConfig {
  readonly socket: DatagramSocket;
  readonly clock: Clock;
  readonly agent: CheckAgent;
  readonly creds: IceCredentials;
  readonly controlling: boolean;
  readonly tieBreaker: bigint;
  /** Our host candidate: the socket's own address as the peer may see it. */
  readonly hostCandidate: Candidate;
  /** A bound (or binding) relay session and our relay candidate, if any. */
  readonly relay?: { readonly client: RelayClient; readonly address: UdpAddress; readonly candidate: Candidate };
  readonly virtualPeer?: UdpAddress;
  readonly onEvent?: (e: CheckEvent) => void;
  /** Events of the relay session (bound, refused: e.g. an expired ticket, failed). */
  readonly onRelayEvent?: (e: RelayClientEvent) => void;
  /**
   * Refuse the session: every authenticated check request is answered with a refusal
   * carrying this reason (check-wire.ts) instead of reaching the agent; our own checks
   * still go out (they open our NAT for the peer's checks).
   */
  readonly refuse?: string;
  /** The peer refused the session (an authenticated refusal answered one of our checks). */
  readonly onRefused?: (reason: string) => void;
  /** An authenticated check request of the peer's arrived (it knows this session). */
  readonly onPeerCheck?: () => void;
}

export interface PeerLinkCounters {
  transportIn: number;
  transportOut: number;
  transportOutRelayed: number;
  transportDroppedNoPath: number;
  invalidChecks: number;
  unknownDatagrams: number;
}

export class PeerLink {
  readonly virtualPeer: UdpAddress;
  readonly counters: PeerLinkCounters = { transportIn: 0, transportOut: 0, transportOutRelayed: 0, transportDroppedNoPath: 0, invalidChecks: 0, unknownDatagrams: 0 };
  private transportHandler: DatagramHandler = () => {};
  private lastInbound?: CandidatePair | 'relay';
  /** First transport send on the selected path since we last heard anything on it. */
  private unansweredSince?: number;
  private suspectTimer?: TimerHandle;
  private timer?: TimerHandle;
  private timerAt?: number;
  private closed = false;
  readonly transportSocket: DatagramSocket;
  private readonly localKey: Uint8Array;
  private readonly remoteKey: Uint8Array;

  constructor(private readonly c: PeerLinkConfig) {
    this.localKey = shortTermKey(c.creds.localPassword);
    this.remoteKey = shortTermKey(c.creds.remotePassword);
    this.virtualPeer = c.virtualPeer ?? DEFAULT_VIRTUAL_PEER;
    this.transportSocket = {
      get local() { return c.socket.local; },
      send: (to, bytes) => this.sendTransport(to, bytes),
      onDatagram: (h) => { this.transportHandler = h; },
      close: () => this.close(),
    };
    c.socket.onDatagram((from, bytes) => this.onDatagram(from, bytes));
    this.pump();
  }

  /** Run the agent/relay timers and flush their output (call after changing the agent from outside). */
  pump(): void {
    if (this.closed) return;
    const { agent, relay } = this.c;
    for (let t = relay?.client.pollTransmit(); t; t = relay!.client.pollTransmit()) this.c.socket.send(t.to, t.bytes);
    for (let t = agent.pollTransmit(); t; t = agent.pollTransmit()) {
      const bytes = t.kind === 'request'
        ? encodeCheckRequest(this.c.creds, { txId: t.txId, priority: candidatePriority('prflx'), controlling: this.c.controlling, tieBreaker: this.c.tieBreaker, nominate: t.nominate })
        : encodeCheckResponse(this.c.creds, { txId: t.txId, mapped: t.to });
      this.sendVia(t.local, t.to, bytes);
    }
    for (let e = agent.pollEvent(); e; e = agent.pollEvent()) this.c.onEvent?.(e);
    for (let e = relay?.client.pollEvent(); e; e = relay!.client.pollEvent()) this.c.onRelayEvent?.(e);
    const at = Math.min(agent.pollTimeout() ?? Infinity, relay?.client.pollTimeout() ?? Infinity);
    if (at === this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = Number.isFinite(at) ? at : undefined;
    if (this.timerAt !== undefined) {
      this.timer = this.c.clock.setTimer(this.timerAt, () => {
        this.timerAt = undefined;
        const t = this.c.clock.now();
        agent.handleTimeout(t);
        relay?.client.handleTimeout(t);
        this.pump();
      });
    }
  }

  /** The pair the transport's packets currently go out on (undefined before nomination). */
  selectedPair(): CandidatePair | undefined {
    return this.c.agent.selectedPair();
  }

  /**
   * Is this datagram (from the shared socket) ours? For OverlayMux: relay messages for our
   * session or BIND; STUN checks whose USERNAME names our peer and whose MESSAGE-INTEGRITY
   * is keyed with this rendezvous' password (two links to the same device — a stale one and
   * a new or refusing one — share ufrags, never passwords), STUN responses from an address
   * one of our pairs points at with our peer's integrity, transport packets from such an
   * address.
   */
  claims(from: UdpAddress, bytes: Uint8Array): boolean {
    const kind = classifyDatagram(bytes);
    const relay = this.c.relay;
    if (kind === 'relay') {
      if (!relay || !sameAddress(from, relay.address)) return false;
      let m;
      try { m = decodeRelayMessage(bytes); } catch (e) { if (e instanceof RelayDecodeError) return false; throw e; }
      const client = relay.client;
      if (m.type === 'data') return m.sessionId === client.sessionId;
      if (m.type === 'bind-ok') return m.requestId === client.bindRequestId;
      if (m.type === 'error') return m.ref === BigInt(client.bindRequestId) || m.ref === client.sessionId;
      return false;
    }
    if (kind === 'stun') {
      let msg;
      try { msg = decodeStun(bytes); } catch (e) { if (e instanceof DecodeError) return false; throw e; }
      if (msg.class === 'request') return msg.username === `${this.c.creds.localUfrag}:${this.c.creds.remoteUfrag}` && verifyStunIntegrity(bytes, msg, this.localKey);
      return this.knows(from) && verifyStunIntegrity(bytes, msg, this.remoteKey);
    }
    return kind === 'transport' && this.knows(from);
  }

  private knows(from: UdpAddress): boolean {
    return this.c.agent.status().some((s) => s.pair.local.type !== 'relay' && sameAddress(s.pair.remote.address, from));
  }

  /** A trickled remote candidate (e.g. the peer's srflx address, later from the directory). */
  addRemoteCandidate(remote: Candidate): void {
    this.c.agent.addRemoteCandidate(this.c.clock.now(), remote);
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.suspectTimer?.cancel();
    this.c.socket.close();
  }

  private sendVia(local: Candidate, to: UdpAddress, bytes: Uint8Array): void {
    if (local.type === 'relay') {
      const wrapped = this.c.relay?.client.wrap(bytes);
      if (wrapped) this.c.socket.send(this.c.relay!.address, wrapped);
      return;
    }
    this.c.socket.send(to, bytes);
  }

  /** Our transport traffic on the selected path goes unanswered: let the agent probe it now. */
  private noteSent(): void {
    const now = this.c.clock.now();
    if (this.unansweredSince === undefined) { this.unansweredSince = now; return; }
    if (now - this.unansweredSince < this.c.agent.suspectAfterMs() || this.suspectTimer) return;
    this.unansweredSince = now;
    // Not from inside the transport's transmit loop: on the next timer turn.
    this.suspectTimer = this.c.clock.setTimer(now, () => {
      this.suspectTimer = undefined;
      if (this.closed) return;
      this.c.agent.suspect(this.c.clock.now());
      this.pump();
    });
  }

  private sendTransport(to: UdpAddress, bytes: Uint8Array): void {
    if (this.closed || !sameAddress(to, this.virtualPeer)) return;
    const sel = this.c.agent.selectedPair();
    if (sel) this.noteSent();
    const relayed = sel ? sel.relayed : this.lastInbound === 'relay';
    if (relayed) {
      const wrapped = this.c.relay?.client.wrap(bytes);
      if (!wrapped) { this.counters.transportDroppedNoPath++; return; }
      this.counters.transportOut++;
      this.counters.transportOutRelayed++;
      this.c.socket.send(this.c.relay!.address, wrapped);
      return;
    }
    const pair = sel ?? (this.lastInbound !== 'relay' ? this.lastInbound : undefined);
    if (!pair) { this.counters.transportDroppedNoPath++; return; }
    this.counters.transportOut++;
    this.c.socket.send(pair.remote.address, bytes);
  }

  private onDatagram(from: UdpAddress, bytes: Uint8Array): void {
    if (this.closed) return;
    const now = this.c.clock.now();
    const relay = this.c.relay;
    const kind = classifyDatagram(bytes);
    if (kind === 'relay' && relay && sameAddress(from, relay.address)) {
      const payload = relay.client.handleDatagram(now, bytes);
      if (payload) {
        const inner = classifyDatagram(payload);
        if (inner === 'stun') this.handleCheck(now, payload, from, relay.candidate);
        else if (inner === 'transport') this.deliver(payload, 'relay');
        else this.counters.unknownDatagrams++;
      }
    } else if (kind === 'stun') {
      this.handleCheck(now, bytes, from, this.c.hostCandidate);
    } else if (kind === 'transport') {
      const pair = this.c.agent.status().find((s) => s.pair.local.type !== 'relay' && sameAddress(s.pair.remote.address, from) && s.state !== 'failed');
      if (pair) this.deliver(bytes, pair.pair);
      else this.counters.unknownDatagrams++;
    } else this.counters.unknownDatagrams++;
    this.pump();
  }

  private handleCheck(now: number, bytes: Uint8Array, from: UdpAddress, local: Candidate): void {
    const d = decodeCheck(this.c.creds, bytes);
    if (d.kind === 'request' && this.c.refuse !== undefined) this.sendVia(local, from, encodeCheckRefusal(this.c.creds, { txId: d.txId, reason: this.c.refuse }));
    else if (d.kind === 'request') {
      this.c.onPeerCheck?.();
      this.c.agent.handleRequest(now, candidateKey(local), from, d.txId, d.nominate);
    }
    else if (d.kind === 'response') this.c.agent.handleResponse(now, d.txId, from);
    else if (d.kind === 'refusal') this.c.onRefused?.(d.reason);
    else this.counters.invalidChecks++;
  }

  private deliver(bytes: Uint8Array, via: CandidatePair | 'relay'): void {
    this.lastInbound = via;
    const sel = this.c.agent.selectedPair();
    if (sel && (via === 'relay' ? sel.relayed : via.key === sel.key)) this.unansweredSince = undefined;
    this.counters.transportIn++;
    this.transportHandler(this.virtualPeer, bytes);
  }
}
