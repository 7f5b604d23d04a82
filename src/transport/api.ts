// Public transport API: an endpoint on a DatagramSocket + Clock; connect /
// accept; streams as Node Duplex streams with backpressure in both directions
// (a full send buffer holds the write callback; unread data holds back the
// peer through flow control); unreliable datagrams; close / reset with
// reasons. Works over real UDP (bindUdp + realClock) or the simulator.
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { Clock, DatagramSocket, UdpAddress } from '../wire/socket.ts';
import { Driver } from '../datagram/driver.ts';
import { NodeUdpSocket } from '../datagram/udp.ts';
import { Endpoint, type EndpointOptions } from './endpoint.ts';
import type { Connection, ConnectionEvent } from './connection.ts';
import { isServerInitiated, isUni } from './streams/streams.ts';
import { adjacent } from './streams/recv-slab.ts';

export interface TransportOptions extends Omit<EndpointOptions, 'random'> {
  socket: DatagramSocket;
  clock: Clock;
  random: EndpointOptions['random'];
  /**
   * Handle a burst of received datagrams before one transmit pass per event-loop
   * turn (fewer ACKs and timer re-arms, less CPU per packet). Default on; takes
   * effect only with a clock that can defer (realClock; see Driver) — with the
   * simulator's virtual clock every input runs at once.
   */
  batch?: boolean;
}

/**
 * Why a connection closed, as the application sees it (the 'close' event, a rejected
 * connect(), errored streams): the close's `code`, whether the peer closed it (`remote`)
 * and, for a local close, the error behind it (`cause`, e.g. the session layer's
 * SessionError from a failed handshake). Not to be confused with the sans-IO core's
 * internal "close with this transport error code" (errors.ts, TransportError).
 */
export class ConnectionClosedError extends Error {
  constructor(message: string, readonly code: number, readonly remote: boolean, cause?: unknown) { super(message, cause === undefined ? undefined : { cause }); this.name = 'ConnectionClosedError'; }
}

/**
 * A stream cut off by the close of its connection: `code` / `remote` are the
 * close's, the message names the close and why the stream could not survive it
 * (see TransportConnection: close semantics). Also what writes after the close fail with.
 */
export class StreamClosedError extends ConnectionClosedError {
  constructor(message: string, code: number, remote: boolean, readonly streamId: number) { super(message, code, remote); this.name = 'StreamClosedError'; }
}

interface CloseInfo { code: number; reason: string; remote: boolean }
const describeClose = (c: CloseInfo): string => `connection closed${c.remote ? ' by peer' : ''}: ${c.reason || 'no reason'} (code 0x${c.code.toString(16)})`;

/** An endpoint bound to a socket: `connect()` and, with `server: true`, 'connection' events. */
export class TransportEndpoint extends EventEmitter<{ connection: [TransportConnection] }> {
  readonly endpoint: Endpoint;
  readonly driver: Driver;
  private readonly conns = new Map<Connection, TransportConnection>();

  constructor(opts: TransportOptions) {
    super();
    // node:dgram hands over a fresh buffer per datagram: 1-RTT packets may be decrypted in place
    // a socket that copies at send (the native batched socket: `copiesOnSend`) lets every packet reuse one buffer
    // copyReceivedData: true (opt-in, not measured faster yet) over a socket that receivesInPlace (the
    // native batched socket) lends the receive arena instead: decrypted there, only the bytes kept copied
    this.endpoint = new Endpoint({
      ...opts,
      ownsReceivedDatagrams: opts.ownsReceivedDatagrams ?? opts.socket instanceof NodeUdpSocket,
      reuseTransmitBuffers: opts.reuseTransmitBuffers ?? (opts.socket as { copiesOnSend?: boolean }).copiesOnSend === true,
    });
    // batch: one transmit pass per event-loop turn where the clock can defer (see Driver)
    this.driver = new Driver(this.endpoint, opts.socket, opts.clock, { batch: opts.batch });
    this.driver.afterInput = () => this.dispatch();
  }

  get local(): UdpAddress { return this.driver.socket.local; }

  /** Connect; resolves once the handshake gave us keys (1 RTT), rejects if the connection closes first. */
  connect(to: UdpAddress, opts: { serverStatic?: Uint8Array } = {}): Promise<TransportConnection> {
    const conn = this.endpoint.connect(this.driver.clock.now(), to, opts);
    const tc = new TransportConnection(this, conn);
    this.conns.set(conn, tc);
    const p = new Promise<TransportConnection>((resolve, reject) => {
      tc.once('connected', () => resolve(tc));
      tc.once('close', (err) => reject(err ?? new Error('closed')));
    });
    this.driver.wake();
    return p;
  }

  private dispatch(): void {
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      const tc = new TransportConnection(this, e.connection);
      this.conns.set(e.connection, tc);
      tc.once('connected', () => this.emit('connection', tc));
    }
    for (const [conn, tc] of this.conns) {
      tc.dispatch();
      if (conn.isClosed) this.conns.delete(conn);
    }
  }

  /** Close every connection (with the given reason) and the socket. */
  close(reason = 'endpoint closed'): void {
    for (const tc of this.conns.values()) tc.close(0, reason);
    this.driver.wake();
    this.driver.close();
  }
}

export class TransportConnection extends EventEmitter<{
  connected: [];
  stream: [TransportStream];
  datagram: [Uint8Array];
  close: [ConnectionClosedError | undefined];
  path: [UdpAddress];
}> {
  private readonly streams = new Map<number, TransportStream>();
  private readonly openWaiters: { bidi: boolean; resolve: (s: TransportStream) => void }[] = [];
  closed = false;
  /** Set with `closed`: the close's code, reason and side. */
  closeInfo: CloseInfo | undefined;

  constructor(readonly owner: TransportEndpoint, readonly conn: Connection) { super(); }

  get remote(): UdpAddress { return this.conn.remote; }
  get peerStatic(): Uint8Array | undefined { return this.conn.peerStatic; }

  wake(): void { this.owner.driver.wake(); }
  now(): number { return this.owner.driver.clock.now(); }

  /** Open a stream (waits for stream credit from the peer if needed). */
  openStream(opts: { bidi?: boolean } = {}): Promise<TransportStream> {
    const bidi = opts.bidi ?? true;
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const id = this.conn.openStream(bidi);
    if (id !== undefined) return Promise.resolve(this.attach(id));
    return new Promise((resolve) => this.openWaiters.push({ bidi, resolve }));
  }

  /** Queue an unreliable datagram; false if too large for one packet. */
  sendDatagram(data: Uint8Array): boolean {
    const ok = this.conn.sendDatagram(data);
    this.wake();
    return ok;
  }

  close(code = 0, reason = ''): void {
    if (this.closed) return;
    this.conn.close(this.now(), code, reason);
    this.wake();
  }

  private attach(id: number): TransportStream {
    const s = new TransportStream(this, id);
    this.streams.set(id, s);
    return s;
  }

  /** Drain connection events into stream / connection events. */
  dispatch(): void {
    for (let e = this.conn.pollEvent(); e; e = this.conn.pollEvent()) this.onEvent(e);
    while (this.openWaiters.length) {
      const w = this.openWaiters[0];
      const id = this.conn.openStream(w.bidi);
      if (id === undefined) break;
      this.openWaiters.shift();
      w.resolve(this.attach(id));
    }
  }

  private onEvent(e: ConnectionEvent): void {
    switch (e.type) {
      case 'connected': this.emit('connected'); return;
      case 'stream_opened': { const s = this.attach(e.id); this.emit('stream', s); s.pull(); return; }
      case 'stream_readable': this.streams.get(e.id)?.pull(); return;
      case 'stream_writable': this.streams.get(e.id)?.unblock(); return;
      case 'stream_reset': this.streams.get(e.id)?.destroy(new Error(`stream ${e.id} reset by peer (code ${e.code})`)); return;
      case 'stream_stop_sending': this.streams.get(e.id)?.destroy(new Error(`stream ${e.id}: peer stopped reading (code ${e.code})`)); return;
      case 'datagram': this.emit('datagram', e.data); return;
      case 'path_validated': this.emit('path', e.address); return;
      case 'closed': {
        this.closed = true;
        this.closeInfo = { code: e.code, reason: e.reason, remote: e.remote };
        const err = e.code === 0 && e.app ? undefined : new ConnectionClosedError(describeClose(this.closeInfo), e.code, e.remote, e.cause);
        for (const s of [...this.streams.values()]) if (!s.destroyed) this.settleOnClose(s, this.closeInfo);
        this.emit('close', err);
        return;
      }
    }
  }

  /**
   * Close semantics for one stream. CONNECTION_CLOSE ends every stream at once
   * (nothing is sent or received afterwards), but what already arrived is not lost:
   * - a close with an error code (or an idle timeout / transport error) destroys the
   *   stream with a StreamClosedError carrying that code;
   * - a clean close (code 0, NO_ERROR) keeps a stream whose outcome is already settled:
   *   the peer's FIN and every byte before it arrived (they stay readable, then 'end')
   *   and nothing we wrote is unacknowledged. It destroys, with a StreamClosedError
   *   (code 0) saying why, a stream the peer never finished (its data was cut off) or
   *   with bytes or a FIN of ours not acknowledged (the peer may not have them).
   * A kept stream whose send half was never ended accepts end() (everything written
   * was acknowledged) but fails any further write with a StreamClosedError.
   */
  private settleOnClose(s: TransportStream, c: CloseInfo): void {
    const fail = (why: string) => s.destroy(new StreamClosedError(`stream ${s.id} cut off (${why}): ${describeClose(c)}`, c.code, c.remote, s.id));
    if (c.code !== 0) { fail('connection closed with an error'); return; }
    const st = this.conn.streamCloseState(s.id);
    const why: string[] = [];
    if (!st.recvComplete && !s.readableEnded) why.push('the peer never finished it');
    if (st.sendUnacked > 0) why.push(`${st.sendUnacked} byte(s)/FIN of ours unacknowledged`);
    if (why.length) { fail(why.join('; ')); return; }
    s.pull(); // deliver the rest and the end if the reader is waiting
  }

  /** The error for a write on a stream of this closed connection. */
  closedError(id: number): StreamClosedError {
    const c = this.closeInfo ?? { code: 0, reason: '', remote: false };
    return new StreamClosedError(`stream ${id}: write after ${describeClose(c)}`, c.code, c.remote, id);
  }

  forget(id: number): void { this.streams.delete(id); }
}

const PULL_COALESCE_BYTES = 64 * 1024;
/** `parts` (total `n` bytes) as one Buffer: a view when they are one part or adjacent in one buffer (recv-slab.ts copies), else one copy. */
function join(parts: Uint8Array[], n: number): Buffer {
  let i = 1;
  while (i < parts.length && adjacent(parts[i - 1], parts[i])) i++;
  if (i === parts.length) return Buffer.from(parts[0].buffer, parts[0].byteOffset, n);
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** One stream as a Node Duplex. Local uni streams are write-only, peer uni streams read-only. */
export class TransportStream extends Duplex {
  private pendingWrite: (() => void) | undefined;
  private reading = false;

  constructor(private readonly tc: TransportConnection, readonly id: number) {
    const local = isServerInitiated(id) === (tc.conn.side === 'server');
    // `readable` / `writable` are Duplex options since Node 15 (missing from @types/node 20's DuplexOptions)
    const halves = { readable: !isUni(id) || !local, writable: !isUni(id) || local };
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024, ...halves } as ConstructorParameters<typeof Duplex>[0]);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.tc.closed) { cb(this.tc.closedError(this.id)); return; }
    this.tc.conn.write(this.id, new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    if (this.tc.conn.writeBlocked(this.id)) this.pendingWrite = () => cb();
    else cb();
    this.tc.wake();
  }

  override _final(cb: (err?: Error | null) => void): void {
    // after a close this stream survived, everything written was acknowledged (settleOnClose): nothing is lost
    if (this.tc.closed) { cb(); return; }
    this.tc.conn.finish(this.id);
    this.tc.wake();
    cb();
  }

  override _read(): void {
    this.reading = true;
    this.pull();
  }

  /** Set by readRecycled(): the callback every chunk goes to instead of the stream. */
  private recycled: ((chunk: Uint8Array) => void) | undefined;

  /**
   * Recycled delivery (opt-in, like net.Socket's `onread`): from now on every chunk of this
   * stream's data goes to `onData` as a view that is valid only during the call — its memory
   * is reused for later data, so copy what you keep — and no longer through 'data' / read();
   * 'end' is still emitted. The transport then allocates no memory per received packet for
   * this stream (with `copyReceivedData`, none per receive batch either): no garbage for V8 to
   * collect. Call it before reading anything (in the 'stream' handler): data the transport holds
   * is delivered the same way, but chunks already pushed into this Readable would come out as
   * 'data' at the end.
   */
  readRecycled(onData: (chunk: Uint8Array) => void): void {
    this.recycled = onData;
    this.tc.conn.setRecycledRead(this.id);
    this.reading = true;
    this.pull();
  }

  /**
   * Move readable bytes from the connection into the stream while Node wants more.
   * Contiguous pieces (one per STREAM frame, ~1.2 KB each) go to Node as one Buffer of up
   * to PULL_COALESCE_BYTES: one copy of the bytes is cheaper than Node's per-chunk
   * push/'data' machinery for every packet's piece.
   */
  pull(): void {
    if (!this.reading || this.destroyed) return;
    if (this.recycled !== undefined) { this.pullRecycled(this.recycled); return; }
    let consumed = false, more = true, end = false, n = 0;
    const parts = this.parts;
    for (;;) {
      const d = this.tc.conn.read(this.id);
      if (d === undefined) break;
      consumed = true;
      if (d === null) { end = true; break; }
      parts.push(d);
      n += d.length;
      // small pieces are gathered; a big one (PMTUD-sized packets) goes at once, as a view when alone
      if (n >= PULL_COALESCE_BYTES || d.length >= PULL_COALESCE_BYTES / 4) {
        more = this.push(join(parts, n));
        parts.length = 0; n = 0;
        if (!more) break;
      }
    }
    if (parts.length) { more = this.push(join(parts, n)) && more; parts.length = 0; }
    if (end) this.push(null);
    if (end || !more) this.reading = false;
    if (consumed && !this.tc.closed) this.tc.wake(); // window updates
  }
  private readonly parts: Uint8Array[] = [];

  private pullRecycled(onData: (chunk: Uint8Array) => void): void {
    const conn = this.tc.conn;
    let consumed = false, end = false;
    // a callback that destroys the stream gets nothing more (the rest stays with the connection)
    while (!this.destroyed) {
      const d = conn.read(this.id);
      if (d === undefined) break;
      consumed = true;
      if (d === null) { end = true; break; }
      try { onData(d); } finally { conn.release(this.id, d); }
    }
    if (end) { this.reading = false; this.push(null); this.resume(); } // no data queued: 'end' follows
    if (consumed && !this.tc.closed) this.tc.wake(); // window updates
  }

  unblock(): void {
    const w = this.pendingWrite;
    this.pendingWrite = undefined;
    w?.();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.tc.closed) {
      if (err) { this.tc.conn.resetStream(this.id, 1); this.tc.conn.stopSending(this.id, 1); }
      this.tc.wake();
    }
    this.tc.forget(this.id);
    cb(err);
  }
}

/** Convenience: an endpoint over a socket and clock. */
export function createTransport(opts: TransportOptions): TransportEndpoint {
  return new TransportEndpoint(opts);
}
