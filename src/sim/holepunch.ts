// A minimal UDP hole-punching exercise for scenarios (ASCII messages, readable in a pcap),
// written only against DatagramSocket + Clock:
//   peer -> rendezvous   "REG <session> <a|b>"           every 1 s until it learns the peer
//   rendezvous -> peer   "PEER <session> <ip>:<port>"   the other side's observed (public) endpoint
//   peer -> peer         "PUNCH <session>"              every punchIntervalMs, punchAttempts times
//   peer -> peer         "ACK <session>"                answer to a PUNCH (to its source)
//   then `messages` data messages: "DATA <session> <n>" directly if an ACK arrived,
//   otherwise "RELAY <session> <n>" to the rendezvous, which forwards "DATA ..." to the peer.
// The outcome shows whether the chosen NAT pair can be punched and that the relay works.
import type { Clock, DatagramSocket, UdpAddress } from '../wire/socket.ts';
import { formatAddress } from '../wire/socket.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (b: Uint8Array) => dec.decode(b);

/** Rendezvous + relay server: pairs sessions, tells each side the other's observed endpoint, forwards RELAY. */
export class Rendezvous {
  relayed = 0;
  private readonly sessions = new Map<string, { a?: UdpAddress; b?: UdpAddress }>();

  constructor(private readonly socket: DatagramSocket) {
    socket.onDatagram((from, bytes) => this.handle(from, text(bytes)));
  }

  private handle(from: UdpAddress, msg: string): void {
    const [verb, session, arg] = msg.split(' ');
    if (session === undefined) return;
    if (verb === 'REG' && (arg === 'a' || arg === 'b')) {
      const s = this.sessions.get(session) ?? {};
      s[arg] = from;
      this.sessions.set(session, s);
      if (s.a && s.b) {
        this.socket.send(s.a, enc.encode(`PEER ${session} ${formatAddress(s.b)}`));
        this.socket.send(s.b, enc.encode(`PEER ${session} ${formatAddress(s.a)}`));
      }
    } else if (verb === 'RELAY') {
      const s = this.sessions.get(session);
      if (!s?.a || !s.b) return;
      const to = sameEp(from, s.a) ? s.b : sameEp(from, s.b) ? s.a : undefined;
      if (to === undefined) return;
      this.relayed++;
      this.socket.send(to, enc.encode(`DATA ${session} ${arg ?? ''}`));
    }
  }
}

const sameEp = (x: UdpAddress, y: UdpAddress) => x.address === y.address && x.port === y.port;

export interface PunchOptions {
  session: string;
  role: 'a' | 'b';
  rendezvous: UdpAddress;
  startMs: number;
  punchIntervalMs?: number;
  punchAttempts?: number;
  /** Data messages sent after the punch phase (direct or relayed). */
  messages?: number;
}

export interface PunchReport {
  /** The peer's public endpoint as told by the rendezvous. */
  peerEndpoint: string | undefined;
  punchesSent: number;
  punchesReceived: number;
  /** An ACK for our PUNCH came back: a direct path works both ways. */
  direct: boolean;
  directAtMs: number | undefined;
  path: 'direct' | 'relay' | 'none';
  dataSent: number;
  dataReceived: number;
}

export class HolePunchPeer {
  private peer: UdpAddress | undefined;
  private punchesSent = 0;
  private punchesReceived = 0;
  private directAtMs: number | undefined;
  private path: PunchReport['path'] = 'none';
  private dataSent = 0;
  private dataReceived = 0;
  private punching = false;
  private readonly o: Required<PunchOptions>;

  constructor(private readonly clock: Clock, private readonly socket: DatagramSocket, options: PunchOptions) {
    this.o = { punchIntervalMs: 200, punchAttempts: 10, messages: 5, ...options };
    socket.onDatagram((from, bytes) => this.handle(from, text(bytes)));
    clock.setTimer(this.o.startMs, () => this.register(0));
  }

  private register(attempt: number): void {
    if (this.peer !== undefined || attempt >= 30) return;
    this.socket.send(this.o.rendezvous, enc.encode(`REG ${this.o.session} ${this.o.role}`));
    this.clock.setTimer(this.clock.now() + 1000, () => this.register(attempt + 1));
  }

  private handle(from: UdpAddress, msg: string): void {
    const [verb, session, arg] = msg.split(' ');
    if (session !== this.o.session) return;
    if (verb === 'PEER' && arg !== undefined && this.peer === undefined) {
      const i = arg.lastIndexOf(':');
      this.peer = { address: arg.slice(0, i), port: Number(arg.slice(i + 1)) };
      this.punching = true;
      this.punch();
    } else if (verb === 'PUNCH') {
      this.punchesReceived++;
      this.socket.send(from, enc.encode(`ACK ${this.o.session}`));
    } else if (verb === 'ACK' && this.directAtMs === undefined) {
      this.directAtMs = this.clock.now();
      // Use the endpoint the ACK came from: it is the one that demonstrably works.
      this.peer = from;
    } else if (verb === 'DATA') {
      this.dataReceived++;
    }
  }

  private punch(): void {
    if (!this.punching) return;
    if (this.directAtMs !== undefined || this.punchesSent >= this.o.punchAttempts) {
      this.punching = false;
      this.path = this.directAtMs !== undefined ? 'direct' : 'relay';
      this.sendData();
      return;
    }
    this.punchesSent++;
    this.socket.send(this.peer!, enc.encode(`PUNCH ${this.o.session}`));
    this.clock.setTimer(this.clock.now() + this.o.punchIntervalMs, () => this.punch());
  }

  private sendData(): void {
    if (this.dataSent >= this.o.messages) return;
    const n = this.dataSent++;
    if (this.path === 'direct') this.socket.send(this.peer!, enc.encode(`DATA ${this.o.session} ${n}`));
    else this.socket.send(this.o.rendezvous, enc.encode(`RELAY ${this.o.session} ${n}`));
    this.clock.setTimer(this.clock.now() + 100, () => this.sendData());
  }

  report(): PunchReport {
    return {
      peerEndpoint: this.peer ? formatAddress(this.peer) : undefined,
      punchesSent: this.punchesSent, punchesReceived: this.punchesReceived,
      direct: this.directAtMs !== undefined, directAtMs: this.directAtMs, path: this.path,
      dataSent: this.dataSent, dataReceived: this.dataReceived,
    };
  }
}
