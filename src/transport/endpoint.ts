// A sans-IO endpoint: owns many connections on one socket, routes datagrams to
// them by destination connection ID (never by address, so many connections
// between the same two hosts stay apart), accepts new connections (server),
// answers with a stateless Retry when address validation is on, and forgets
// closed connections. Same poll interface as a Connection, plus pollEvent()
// for `incoming` connections.
import type { Millis, UdpAddress } from '../wire/socket.ts';
import { makeConfig, type TransportConfig } from './config.ts';
import { Connection, type Transmit } from './connection.ts';
import { checkRetryToken, makeRetryToken } from './retry-token.ts';
import { DecodeError } from './wire/errors.ts';
import { CID_LEN, encodeLongPacket, parseDatagram, type Packet } from './wire/header.ts';

export type EndpointEvent = { type: 'incoming'; connection: Connection };

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

export type EndpointOptions = Partial<TransportConfig> & Pick<TransportConfig, 'crypto' | 'random'> & {
  /** Accept incoming connections. */
  server?: boolean;
  /** Incoming connections kept at most. */
  maxConnections?: number;
};

export class Endpoint {
  readonly config: TransportConfig;
  readonly server: boolean;
  private readonly byCid = new Map<string, Connection>();
  /** connection -> the connection IDs routing to it */
  private readonly conns = new Map<Connection, string[]>();
  private readonly stateless: Transmit[] = [];
  private readonly events: EndpointEvent[] = [];
  private readonly maxConnections: number;
  private rr: Connection[] = [];
  readonly stats = { datagramsDropped: 0, retriesSent: 0, accepted: 0 };

  constructor(opts: EndpointOptions) {
    this.config = makeConfig(opts);
    this.server = !!opts.server;
    this.maxConnections = opts.maxConnections ?? 10_000;
    const r = this.config.retry;
    if (typeof r === 'object' && !(Number.isInteger(r.whenPendingHandshakesAbove) && r.whenPendingHandshakesAbove >= 0)) throw new Error('retry.whenPendingHandshakesAbove must be a non-negative integer');
    if (r && (!this.config.tokenSecret || this.config.tokenSecret.length < 16)) throw new Error('retry needs a tokenSecret of at least 16 bytes');
  }

  get connections(): Connection[] { return [...this.conns.keys()]; }

  private newCid(): Uint8Array {
    for (;;) {
      const cid = this.config.random.fill(new Uint8Array(CID_LEN));
      if (!this.byCid.has(hex(cid))) return cid;
    }
  }

  /** Start a client connection to `to`. */
  connect(now: Millis, to: UdpAddress, opts: { serverStatic?: Uint8Array } = {}): Connection {
    const localCid = this.newCid();
    const conn = new Connection({ side: 'client', config: this.config, now, handshake: this.config.crypto.client(opts), localCid, remoteCid: this.config.random.fill(new Uint8Array(CID_LEN)), remote: to });
    this.add(conn, [localCid]);
    return conn;
  }

  private add(conn: Connection, cids: Uint8Array[]): void {
    for (const c of cids) this.byCid.set(hex(c), conn);
    this.conns.set(conn, cids.map(hex));
    this.rr.push(conn);
  }

  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void {
    let packets: Packet[];
    try { packets = parseDatagram(bytes); } catch (e) {
      if (e instanceof DecodeError) { this.stats.datagramsDropped++; return; }
      throw e;
    }
    const first = packets[0];
    let conn = this.byCid.get(hex(first.dcid));
    if (!conn) {
      if (!this.server || first.form !== 'long' || first.type !== 'initial') { this.stats.datagramsDropped++; return; }
      conn = this.accept(now, from, first, bytes.length);
      if (!conn) return;
    }
    conn.onDatagramBytes(from, bytes.length);
    for (const p of packets) conn.handlePacket(now, from, p);
  }

  private accept(now: Millis, from: UdpAddress, p: Extract<Packet, { form: 'long' }>, size: number): Connection | undefined {
    if (size < 1200 || p.dcid.length < CID_LEN || p.scid.length === 0 || this.conns.size >= this.maxConnections) { this.stats.datagramsDropped++; return undefined; }
    let validated = false;
    if (this.config.retry) {
      if (p.token.length === 0 || !checkRetryToken(this.config.tokenSecret!, now, p.token, from, p.dcid)) {
        if (p.token.length !== 0) { this.stats.datagramsDropped++; return undefined; } // invalid token: drop (no state, no reply)
        if (!this.retryNow()) return this.createServerConnection(now, from, p, false);
        const retryScid = this.config.random.fill(new Uint8Array(CID_LEN));
        const token = makeRetryToken(this.config.tokenSecret!, now, this.config.tokenLifetimeMs, from, retryScid);
        if (this.stateless.length < 1024) this.stateless.push({ to: from, bytes: encodeLongPacket({ type: 'retry', dcid: p.scid, scid: retryScid, token }) });
        this.stats.retriesSent++;
        return undefined;
      }
      validated = true;
    }
    return this.createServerConnection(now, from, p, validated);
  }

  /** Whether a token-less Initial gets a Retry now (the retry policy). */
  private retryNow(): boolean {
    const r = this.config.retry;
    if (typeof r !== 'object') return r;
    // count connections still in their handshake, stopping once above the threshold
    let n = 0;
    for (const c of this.handshaking) {
      if (c.state !== 'handshake') { this.handshaking.delete(c); continue; }
      if (++n > r.whenPendingHandshakesAbove) return true;
    }
    return false;
  }

  /** Connections accepted whose handshake may still be pending (pruned lazily by retryNow). */
  private readonly handshaking = new Set<Connection>();

  private createServerConnection(now: Millis, from: UdpAddress, p: Extract<Packet, { form: 'long' }>, validated: boolean): Connection {
    const localCid = this.newCid();
    const conn = new Connection({ side: 'server', config: this.config, now, handshake: this.config.crypto.server(), localCid, remoteCid: p.scid.slice(), remote: from, addressValidated: validated });
    this.add(conn, [localCid, p.dcid.slice()]);
    if (typeof this.config.retry === 'object') this.handshaking.add(conn);
    this.stats.accepted++;
    this.events.push({ type: 'incoming', connection: conn });
    return conn;
  }

  pollEvent(): EndpointEvent | undefined { return this.events.shift(); }

  /** Sizes of the endpoint's own tables (for tests and monitoring). */
  stateSizes(): { connections: number; cids: number; stateless: number; events: number } {
    return { connections: this.conns.size, cids: this.byCid.size, stateless: this.stateless.length, events: this.events.length };
  }

  handleTimeout(now: Millis): void {
    for (const c of this.conns.keys()) {
      const t = c.pollTimeout();
      if (t !== undefined && t <= now) c.handleTimeout(now);
    }
    this.reap();
  }

  /** One datagram to send, from any connection (round-robin), or undefined. */
  pollTransmit(now: Millis): Transmit | undefined {
    const s = this.stateless.shift();
    if (s) return s;
    const n = this.rr.length;
    for (let i = 0; i < n; i++) {
      const c = this.rr.shift()!;
      this.rr.push(c);
      const t = c.pollTransmit(now);
      if (t) return t;
    }
    this.reap();
    return undefined;
  }

  pollTimeout(): Millis | undefined {
    if (this.stateless.length) return -Infinity;
    let min: Millis | undefined;
    for (const c of this.conns.keys()) {
      const t = c.pollTimeout();
      if (t !== undefined && (min === undefined || t < min)) min = t;
    }
    return min;
  }

  private reap(): void {
    for (const c of this.conns.keys()) {
      if (!c.isClosed) continue;
      for (const k of this.conns.get(c)!) if (this.byCid.get(k) === c) this.byCid.delete(k);
      this.conns.delete(c);
      this.handshaking.delete(c);
      this.rr = this.rr.filter((x) => x !== c);
    }
  }
}
