// quinn-style test harness: a client and a server Endpoint joined by a virtual
// link with fixed one-way latency and an optional drop filter. `step()`
// delivers due datagrams and jumps virtual time to the next wake-up; tests
// never sleep. Loss = a `drop` predicate (or clearing `inflight`).
import { Endpoint, type EndpointOptions } from '../../src/transport/endpoint.ts';
import type { Connection, ConnectionEvent } from '../../src/transport/connection.ts';
import { plaintextCrypto } from '../../src/transport/crypto.ts';
import { seededRandom } from '../../src/transport/random.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';

export interface Flight { at: number; from: UdpAddress; to: UdpAddress; bytes: Uint8Array; sentAt: number }

export class Pair {
  time = 0;
  latencyMs = 10;
  clientAddr: UdpAddress = { address: '198.51.100.1', port: 40000 };
  readonly serverAddr: UdpAddress = { address: '203.0.113.1', port: 4433 };
  readonly client: Endpoint;
  readonly server: Endpoint;
  inflight: Flight[] = [];
  /** every datagram ever sent: [time, 'client' | 'server', bytes] */
  readonly log: { at: number; by: 'client' | 'server'; bytes: Uint8Array }[] = [];
  drop: (f: Flight, by: 'client' | 'server') => boolean = () => false;
  /** max UDP payload the link carries (bigger datagrams vanish) */
  linkMtu = 65535;
  /** copy every transmit as it is polled (what the native socket does): required by reuseTransmitBuffers */
  copyTransmits = false;
  /** transmits polled whose bytes shared an ArrayBuffer with the previous transmit of the same endpoint */
  reusedTransmits = 0;
  private lastTx: Record<'client' | 'server', ArrayBufferLike | undefined> = { client: undefined, server: undefined };
  steps = 0;
  /** overwrite every delivered datagram once handleDatagram returns (a socket lending its receive memory, as the native arena is) */
  scribbleDelivered = false;

  constructor(opts: { client?: Partial<EndpointOptions>; server?: Partial<EndpointOptions>; seed?: number } = {}) {
    const seed = opts.seed ?? 1;
    this.client = new Endpoint({ crypto: plaintextCrypto, random: seededRandom(seed), ...opts.client });
    this.server = new Endpoint({ crypto: plaintextCrypto, random: seededRandom(seed + 1000), server: true, ...opts.server });
  }

  connect(opts: { serverStatic?: Uint8Array } = {}): Connection {
    return this.client.connect(this.time, this.serverAddr, opts);
  }

  private flush(): void {
    for (const [ep, by] of [[this.client, 'client'], [this.server, 'server']] as const) {
      for (let t = ep.pollTransmit(this.time), n = 0; t && n < 100_000; t = ep.pollTransmit(this.time), n++) {
        const from = by === 'client' ? this.clientAddr : this.serverAddr;
        if (t.bytes.buffer === this.lastTx[by]) this.reusedTransmits++;
        this.lastTx[by] = t.bytes.buffer;
        if (this.copyTransmits) t = { to: t.to, bytes: t.bytes.slice() };
        this.log.push({ at: this.time, by, bytes: t.bytes });
        const f: Flight = { at: this.time + this.latencyMs, from: { ...from }, to: t.to, bytes: t.bytes, sentAt: this.time };
        if (t.bytes.length > this.linkMtu || this.drop(f, by)) continue;
        this.inflight.push(f);
      }
    }
  }

  /** One step; false when nothing will ever happen again. */
  step(limitMs = Infinity): boolean {
    if (++this.steps > 5_000_000) throw new Error('Pair: too many steps (busy loop?)');
    this.flush();
    // latency is constant, so arrivals are in send order: a FIFO
    let k = 0;
    while (k < this.inflight.length && this.inflight[k].at <= this.time) k++;
    if (k > 0) {
      const due = this.inflight.splice(0, k);
      for (const f of due) {
        if (f.to.address === this.serverAddr.address && f.to.port === this.serverAddr.port) this.server.handleDatagram(this.time, f.from, f.bytes);
        else if (f.to.address === this.clientAddr.address && f.to.port === this.clientAddr.port) this.client.handleDatagram(this.time, f.from, f.bytes);
        // else: the client moved away; the datagram is lost
        if (this.scribbleDelivered) f.bytes.fill(0xee);
      }
      return true;
    }
    let next: number | undefined = this.inflight[0]?.at;
    for (const ep of [this.client, this.server]) {
      const t = ep.pollTimeout();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    if (next === undefined) return false;
    if (next > limitMs) { this.time = Math.max(this.time, limitMs); return false; }
    this.time = Math.max(this.time, next);
    this.client.handleTimeout(this.time);
    this.server.handleTimeout(this.time);
    return true;
  }

  /** Step until `pred` holds or virtual time passes `untilMs`. Returns pred(). */
  driveUntil(pred: () => boolean, untilMs = this.time + 60_000): boolean {
    while (!pred() && this.time <= untilMs) if (!this.step(untilMs)) break;
    return pred();
  }

  accepted(): Connection | undefined {
    for (let e = this.server.pollEvent(); e; e = this.server.pollEvent()) this.serverConns.push(e.connection);
    return this.serverConns[0];
  }
  readonly serverConns: Connection[] = [];
}

/** Drains a connection's events into an array (for assertions) and keeps reading streams. */
export class Collector {
  readonly events: ConnectionEvent[] = [];
  readonly data = new Map<number, Uint8Array[]>();
  readonly finished = new Set<number>();
  constructor(readonly conn: Connection) {}
  poll(): this {
    for (let e = this.conn.pollEvent(); e; e = this.conn.pollEvent()) {
      this.events.push(e);
      if (e.type === 'stream_readable' || e.type === 'stream_opened') this.readAll(e.id);
    }
    for (const id of this.data.keys()) this.readAll(id);
    return this;
  }
  private readAll(id: number): void {
    if (!this.data.has(id)) this.data.set(id, []);
    for (let d = this.conn.read(id); d !== undefined; d = this.conn.read(id)) {
      if (d === null) { this.finished.add(id); break; }
      this.data.get(id)!.push(d);
    }
  }
  bytes(id: number): Buffer { return Buffer.concat(this.data.get(id) ?? []); }
  has(type: ConnectionEvent['type']): boolean { return this.events.some((e) => e.type === type); }
}

export function pattern(n: number, seed = 1): Uint8Array {
  const r = seededRandom(seed);
  return r.fill(new Uint8Array(n));
}
