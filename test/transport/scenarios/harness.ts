// Scenario harness: the real transport stack (Endpoint + the one Driver) over
// the deterministic simulator (src/sim): clients -- 1 Gbit/s access links --
// router -- bottleneck link -- server. Default bottleneck: 10 Mbit/s, 15 ms
// one way (access links add none), 25-packet drop-tail queue. Every transfer
// is hashed on both ends. Clients sit behind a switchable socket so a test can
// "NAT-rebind" them (new port, or a new address) mid-connection. Corruption
// is applied to UDP payloads as received (one random byte flipped, after the
// simulator's UDP checksum), so the transport itself must notice it: the
// harness's crypto provider authenticates 1-RTT packets with a CRC-32.
import { createHash, type Hash } from 'node:crypto';
import { Network, type Host, type Link, type LinkOptions } from '../../../src/sim/index.ts';
import { Driver } from '../../../src/datagram/driver.ts';
import { Endpoint, type EndpointOptions } from '../../../src/transport/endpoint.ts';
import type { Connection } from '../../../src/transport/connection.ts';
import type { CryptoProvider } from '../../../src/transport/crypto.ts';
import { checksumCrypto } from '../checksum-crypto.ts';
import { seededRandom, type Random } from '../../../src/transport/random.ts';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../../../src/wire/socket.ts';

export const DEFAULT_LINK: LinkOptions = { latencyMs: 15, bandwidthBps: 10e6, queuePackets: 25 };
export const SERVER: UdpAddress = { address: '203.0.113.10', port: 4433 };
export const MB = 1_000_000;
export { checksumCrypto };

/** A DatagramSocket that flips one random byte of a received datagram with probability `rate`. */
class CorruptingSocket implements DatagramSocket {
  corrupted = 0;
  constructor(private readonly inner: DatagramSocket, private readonly rate: number, private readonly rng: Random) {}
  get local(): UdpAddress { return this.inner.local; }
  send(to: UdpAddress, bytes: Uint8Array): void { this.inner.send(to, bytes); }
  onDatagram(h: DatagramHandler): void {
    this.inner.onDatagram((from, bytes) => {
      if (this.rate > 0 && bytes.length > 0 && this.rng.nextU32() / 2 ** 32 < this.rate) {
        const copy = bytes.slice();
        copy[this.rng.nextU32() % copy.length] ^= 1 + (this.rng.nextU32() % 255);
        this.corrupted++;
        bytes = copy;
      }
      h(from, bytes);
    });
  }
  close(): void { this.inner.close(); }
}

/** A DatagramSocket whose underlying socket can be swapped (NAT rebinding as seen by the peer). */
export class SwitchableSocket implements DatagramSocket {
  private handler: DatagramHandler = () => {};
  constructor(private inner: DatagramSocket) { inner.onDatagram((f, b) => this.handler(f, b)); }
  get local(): UdpAddress { return this.inner.local; }
  send(to: UdpAddress, bytes: Uint8Array): void { this.inner.send(to, bytes); }
  onDatagram(h: DatagramHandler): void { this.handler = h; }
  close(): void { this.inner.close(); }
  switchTo(next: DatagramSocket): void {
    this.inner.close();
    this.inner = next;
    next.onDatagram((f, b) => this.handler(f, b));
  }
}

interface SendState { left: number; hash: Hash; seed: number; written: number; finished: boolean; digest?: string }
interface RecvState { bytes: number; hash: Hash; done: boolean; digest?: string; doneAt?: number }

export interface Flow {
  conn: Connection;
  /** per stream: bytes still to write, sender hash */
  sending: Map<number, SendState>;
  startMs: number;
}

export interface ScenarioOptions {
  /** Probability that a received datagram has one byte flipped (both directions). */
  corruptRate?: number;
  /** Crypto provider for both sides (default: checksumCrypto). */
  crypto?: CryptoProvider;
  /** Wrap the server's socket (observe or filter its traffic). */
  serverSocket?: (s: DatagramSocket) => DatagramSocket;
}

export type Client = ReturnType<Scenario['client']>;

export class Scenario {
  readonly net: Network;
  readonly server: Host;
  readonly router;
  readonly bottleneck: Link;
  readonly serverEp: Endpoint;
  readonly serverDriver: Driver;
  readonly clientHosts: Host[] = [];
  /** receiver side, per server connection and stream */
  readonly received = new Map<Connection, Map<number, RecvState>>();
  /** client connection's local CID (hex) -> the server connection */
  private readonly serverConnByCid = new Map<string, Connection>();
  readonly flows: Flow[] = [];
  private nextClient = 0;
  private readonly corruptRng: Random;
  readonly crypto: CryptoProvider;

  constructor(readonly seed: number, link: LinkOptions = {}, serverOpts: Partial<EndpointOptions> = {}, private readonly opts: ScenarioOptions = {}) {
    this.net = new Network({ seed });
    this.corruptRng = seededRandom(seed * 31 + 5);
    this.crypto = opts.crypto ?? checksumCrypto;
    this.server = this.net.addHost('server', SERVER.address);
    this.router = this.net.addRouter('router');
    this.bottleneck = this.net.connect(this.router, this.server, { ...DEFAULT_LINK, ...link }, 'bottleneck');
    this.serverEp = new Endpoint({ crypto: this.crypto, random: seededRandom(seed * 7 + 1), server: true, ...serverOpts });
    const raw = this.wrap(this.server.bindUdp(SERVER.port));
    this.serverDriver = new Driver(this.serverEp, opts.serverSocket ? opts.serverSocket(raw) : raw, this.net.clock);
    this.serverDriver.afterInput = () => this.pumpServer();
  }

  private wrap(s: DatagramSocket): DatagramSocket {
    return this.opts.corruptRate ? new CorruptingSocket(s, this.opts.corruptRate, this.corruptRng) : s;
  }

  addClientHost(): Host {
    const i = this.nextClient++;
    const h = this.net.addHost(`client${i}`, `198.51.100.${10 + i}`);
    this.net.connect(h, this.router, { latencyMs: 0, bandwidthBps: 1e9 }, `access${i}`);
    this.net.autoRoute();
    this.clientHosts.push(h);
    return h;
  }

  /** A client endpoint on a fresh host; returns its driver, endpoint and switchable socket. */
  client(opts: Partial<EndpointOptions> = {}, host?: Host) {
    const h = host ?? this.addClientHost();
    const sock = new SwitchableSocket(this.wrap(h.bindUdp()));
    const ep = new Endpoint({ crypto: this.crypto, random: seededRandom(this.seed * 13 + this.nextClient), ...opts });
    const driver = new Driver(ep, sock, this.net.clock);
    driver.afterInput = () => this.pumpClients();
    /** NAT rebinding as the server sees it: same host, new port; or (newHost) a new address. */
    const rebind = (newHost?: Host) => {
      sock.switchTo(this.wrap((newHost ?? h).bindUdp()));
    };
    return { host: h, sock, ep, driver, rebind };
  }

  /** Start a connection that sends `sizes` bytes on as many concurrent bidirectional streams. */
  startTransfer(c: Client, sizes: number[]): Flow {
    const conn = c.ep.connect(this.net.clock.now(), SERVER);
    const flow: Flow = { conn, sending: new Map(), startMs: this.net.clock.now() };
    for (const [i, n] of sizes.entries()) this.addStream(flow, n, this.seed * 100 + i);
    this.flows.push(flow);
    this.pumpClients();
    c.driver.wake();
    return flow;
  }

  /** Open one more stream on a flow (undefined while MAX_STREAMS does not allow it). */
  addStream(flow: Flow, bytes: number, seed: number): number | undefined {
    const id = flow.conn.openStream();
    if (id !== undefined) flow.sending.set(id, { left: bytes, hash: createHash('sha256'), seed, written: 0, finished: false });
    return id;
  }

  private pumpClients(): void {
    for (const f of this.flows) {
      for (let e = f.conn.pollEvent(); e; e = f.conn.pollEvent()) { /* the client reads nothing */ }
      if (f.conn.isClosed) continue;
      for (const [id, s] of f.sending) {
        while (s.left > 0 && !f.conn.writeBlocked(id)) {
          const n = Math.min(s.left, 64 * 1024);
          const chunk = chunkBytes(s.seed, s.written, n);
          s.hash.update(chunk);
          f.conn.write(id, chunk);
          s.left -= n; s.written += n;
        }
        if (s.left === 0 && !s.finished) { f.conn.finish(id); s.finished = true; }
      }
    }
  }

  private pumpServer(): void {
    for (let e = this.serverEp.pollEvent(); e; e = this.serverEp.pollEvent()) {
      this.received.set(e.connection, new Map());
      this.serverConnByCid.set(hex(e.connection.remoteCid), e.connection);
    }
    for (const [conn, streams] of this.received) {
      for (let e = conn.pollEvent(); e; e = conn.pollEvent()) {
        if (e.type === 'stream_opened' && !streams.has(e.id)) streams.set(e.id, { bytes: 0, hash: createHash('sha256'), done: false });
      }
      for (const [id, st] of streams) {
        if (st.done) continue;
        for (let d = conn.read(id); d !== undefined; d = conn.read(id)) {
          if (d === null) {
            st.done = true; st.digest = st.hash.digest('hex'); st.doneAt = this.net.clock.now();
            conn.finish(id); // close our half so the stream is forgotten and its credit returned
            break;
          }
          st.bytes += d.length; st.hash.update(d);
        }
      }
    }
  }

  /** Run until every flow's streams arrived byte-exact, or the limit. */
  runUntilDone(limitMs: number, stepMs = 50): boolean {
    while (this.net.clock.now() < limitMs) {
      this.net.run(Math.min(limitMs, this.net.clock.now() + stepMs));
      if (this.allDone()) return true;
    }
    return this.allDone();
  }

  allDone(): boolean {
    for (const f of this.flows) if (!this.flowDone(f)) return false;
    return true;
  }

  private serverSide(f: Flow): Map<number, RecvState> | undefined {
    const sc = this.serverConnByCid.get(hex(f.conn.localCid));
    return sc && this.received.get(sc);
  }

  /** All streams of the flow arrived complete; throws on a hash mismatch. */
  flowDone(f: Flow): boolean {
    const streams = this.serverSide(f);
    if (!streams) return false;
    for (const [id, s] of f.sending) {
      const r = streams.get(id);
      if (!r?.done || s.left > 0) return false;
      s.digest ??= s.hash.digest('hex');
      if (r.digest !== s.digest) throw new Error(`stream ${id}: hash mismatch (seed ${this.seed})`);
    }
    return true;
  }

  /** Time the last stream of a flow completed, ms after the flow started. */
  flowTimeMs(f: Flow): number {
    const streams = this.serverSide(f);
    if (!streams) return Infinity;
    return Math.max(...[...streams.values()].map((s) => s.doneAt ?? Infinity)) - f.startMs;
  }

  /** Bytes of the flow's streams delivered in order to the server application so far. */
  bytesReceived(f: Flow): number {
    const streams = this.serverSide(f);
    let n = 0;
    if (streams) for (const s of streams.values()) n += s.bytes;
    return n;
  }

  /** The server's connection for a client flow. */
  serverConn(f: Flow): Connection | undefined { return this.serverConnByCid.get(hex(f.conn.localCid)); }
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/** Deterministic content: byte i of stream `seed` (cheap to generate, hard to confuse). */
export function chunkBytes(seed: number, offset: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0;
  for (let i = 0; i < n; i++) {
    const pos = offset + i;
    if (i === 0 || pos % 4 === 0) x = Math.imul((seed + Math.floor(pos / 4)) ^ 0x9e3779b9, 2246822519) >>> 0;
    out[i] = (x >>> (8 * (pos % 4))) & 0xff;
  }
  return out;
}

/** Jain's fairness index of the throughputs `xs` (1 = perfectly fair). */
export function jain(xs: number[]): number {
  const sum = xs.reduce((a, b) => a + b, 0);
  const sq = xs.reduce((a, b) => a + b * b, 0);
  return sq === 0 ? 1 : (sum * sum) / (xs.length * sq);
}

/** Fixed seed 1; TINCAN_SCENARIO_SEEDS=N runs every scenario over seeds 1000..1000+N-1 (nightly). */
export const SEEDS: number[] = Number(process.env.TINCAN_SCENARIO_SEEDS ?? 0) > 0
  ? Array.from({ length: Number(process.env.TINCAN_SCENARIO_SEEDS) }, (_, i) => 1000 + i)
  : [1];
