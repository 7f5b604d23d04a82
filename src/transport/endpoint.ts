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
  readonly stats = { datagramsDropped: 0, retriesSent: 0, accepted: 0 };
  /** Every Transmit's bytes are a fresh buffer the endpoint never touches again (the driver may skip a copy); not with reuseTransmitBuffers. */
  readonly transmitsOwnedBuffers: boolean;
  /** handleDatagram keeps no view of the bytes it is given (copyReceivedData): the caller may reuse their memory once it returns. */
  readonly copiesReceivedDatagrams: boolean;

  constructor(opts: EndpointOptions) {
    this.config = makeConfig(opts);
    this.transmitsOwnedBuffers = !this.config.reuseTransmitBuffers;
    this.copiesReceivedDatagrams = this.config.copyReceivedData;
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
    const conn = new Connection({ side: 'client', config: this.config, now, handshake: this.config.crypto.client({ ...opts, clientCid: localCid.slice() }), localCid, remoteCid: this.config.random.fill(new Uint8Array(CID_LEN)), remote: to });
    this.add(conn, [localCid]);
    return conn;
  }

  private add(conn: Connection, cids: Uint8Array[]): void {
    for (const c of cids) this.byCid.set(hex(c), conn);
    this.conns.set(conn, cids.map(hex));
    conn.onActivity = () => { this.active.add(conn); this.dirty.add(conn); };
    this.active.add(conn);
    this.dirty.add(conn);
  }

  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void {
    let packets: Packet[];
    try { packets = parseDatagram(bytes); } catch (e) {
      if (e instanceof DecodeError) { this.stats.datagramsDropped++; return; }
      throw e;
    }
    const first = packets[0];
    let conn = this.lookup(first.dcid);
    if (!conn) {
      if (!this.server || first.form !== 'long' || first.type !== 'initial') { this.stats.datagramsDropped++; return; }
      conn = this.accept(now, from, first, bytes.length);
      if (!conn) return;
    }
    conn.onDatagramBytes(from, bytes.length);
    for (const p of packets) conn.handlePacket(now, from, p);
    this.active.add(conn);
    this.dirty.add(conn);
  }

  /** The connection a destination CID routes to; the last hit is cached (a bulk flow skips the hex key and the Map). */
  private lookup(dcid: Uint8Array): Connection | undefined {
    const last = this.lastCid;
    if (last !== undefined && last.length === dcid.length) {
      let i = 0;
      while (i < dcid.length && dcid[i] === last[i]) i++;
      if (i === dcid.length) return this.lastConn;
    }
    const conn = this.byCid.get(hex(dcid));
    if (conn) { this.lastCid = dcid.slice(); this.lastConn = conn; }
    return conn;
  }
  private lastCid: Uint8Array | undefined;
  private lastConn: Connection | undefined;

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
    const conn = new Connection({ side: 'server', config: this.config, now, handshake: this.config.crypto.server({ clientCid: p.scid.slice(), serverCid: localCid.slice() }), localCid, remoteCid: p.scid.slice(), remote: from, addressValidated: validated });
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
    this.refreshTimeouts();
    const due: Connection[] = [];
    while (this.heap.length && this.heap[0].at <= now) {
      const e = heapPop(this.heap);
      if (this.nextAt.get(e.conn) === e.at) { this.nextAt.delete(e.conn); due.push(e.conn); }
    }
    for (const c of due) {
      const t = c.pollTimeout();
      if (t !== undefined && t <= now) c.handleTimeout(now);
      this.active.add(c);
      this.dirty.add(c);
    }
  }

  /**
   * One datagram to send, or undefined. Only connections that may have something
   * to send are asked (those that received a datagram, had a timer fire or an
   * application command since they last had nothing), round-robin: the cost does
   * not grow with the number of idle connections.
   */
  pollTransmit(now: Millis): Transmit | undefined {
    const s = this.stateless.shift();
    if (s) return s;
    if (this.active.size === 1) {
      // one connection with work (a bulk flow): no round-robin to keep
      const c = this.active.values().next().value as Connection;
      this.dirty.add(c);
      const t = c.pollTransmit(now);
      if (!t) this.active.delete(c);
      return t;
    }
    for (const c of this.active) {
      this.dirty.add(c);
      const t = c.pollTransmit(now);
      this.active.delete(c);
      if (t) { this.active.add(c); return t; } // to the back of the queue
    }
    return undefined;
  }

  pollTimeout(): Millis | undefined {
    if (this.stateless.length) return -Infinity;
    this.refreshTimeouts();
    while (this.heap.length && this.nextAt.get(this.heap[0].conn) !== this.heap[0].at) heapPop(this.heap);
    return this.heap[0]?.at;
  }

  /** Connections that may have something to send. */
  private readonly active = new Set<Connection>();
  /** Connections whose next timeout may have changed (and that may have closed). */
  private readonly dirty = new Set<Connection>();
  /** Each connection's current next timeout, and a min-heap of (time, connection) with stale entries skipped. */
  private readonly nextAt = new Map<Connection, Millis>();
  private readonly heap: HeapEntry[] = [];

  private refreshTimeouts(): void {
    for (const c of this.dirty) {
      if (c.isClosed) { this.forget(c); continue; }
      const t = c.pollTimeout();
      if (t === undefined) { this.nextAt.delete(c); continue; }
      if (this.nextAt.get(c) === t) continue;
      this.nextAt.set(c, t);
      heapPush(this.heap, { at: t, conn: c });
    }
    this.dirty.clear();
    // stale entries are dropped lazily; rebuild when they dominate
    if (this.heap.length > 64 && this.heap.length > 4 * this.nextAt.size) {
      this.heap.length = 0;
      for (const [conn, at] of this.nextAt) heapPush(this.heap, { at, conn });
    }
  }

  private forget(c: Connection): void {
    if (this.lastConn === c) { this.lastCid = undefined; this.lastConn = undefined; }
    for (const k of this.conns.get(c) ?? []) if (this.byCid.get(k) === c) this.byCid.delete(k);
    this.conns.delete(c);
    this.handshaking.delete(c);
    this.active.delete(c);
    this.nextAt.delete(c);
    c.onActivity = undefined;
  }
}

interface HeapEntry { at: Millis; conn: Connection }

function heapPush(h: HeapEntry[], e: HeapEntry): void {
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p].at <= h[i].at) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

function heapPop(h: HeapEntry[]): HeapEntry {
  const top = h[0];
  const last = h.pop()!;
  if (h.length) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && h[l].at < h[m].at) m = l;
      if (r < h.length && h[r].at < h[m].at) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
  return top;
}
