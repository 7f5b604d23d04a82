// Relay messages over reliable byte streams, both ends, with no I/O of its own
// (docs/protocol/relay.md, "Over TCP"). A device whose UDP is blocked reaches its
// supernode over a stream (TCP in relay-tcp.ts; a simulated pipe in the simulator tests);
// the relay messages are the UDP ones, length-prefixed (relay-stream.ts). Both ends
// present the result as a DatagramSocket, so the sans-IO cores (SupernodeCore,
// RelayClient/PeerLink) do not know the difference:
//   - supernode: `RelayStreamServer` wraps the UDP socket; `accept(from, stream)` adds a
//     stream peer and returns the handlers its transport calls (data, close). Datagrams
//     are the UDP ones plus one per frame (source = the stream peer's address); sends to
//     an address that is a stream peer go down that stream (others: UDP). A stream peer
//     and a UDP peer with the same ip:port cannot both be served (the stream one wins).
//     Limits: maxConnections, per-stream write backlog (frames dropped beyond it, as UDP
//     would).
//   - device: `RelayStreamFallback` wraps the device's UDP socket; after `use(relay)`,
//     sends to that relay's address go over a stream opened with the injected connector
//     (reopened 1 s after a drop, on the injected clock; one per relay), everything else
//     over UDP; frames arrive as datagrams from the relay.
// A stream whose framing is broken (zero length) is destroyed.
// RelayStreamServer passes the batch API (src/datagram/batch.ts) through when its UDP socket
// has it: onBatch gets the UDP batches and each stream frame as a batch of one; sendRun to a
// stream peer is framed segment by segment, to anyone else it is the UDP socket's sendRun.
import type { Clock, DatagramHandler, DatagramSocket, TimerHandle, UdpAddress } from '../wire/socket.ts';
import { isBatchSocket, sendRunBySegments, SingleDatagramBatch, type BatchHandler } from '../datagram/batch.ts';
import { formatAddress } from '../wire/socket.ts';
import { encodeFrame, FrameDecoder, RelayStreamError } from './relay-stream.ts';

/** One reliable, in-order byte stream (a TCP connection, a simulated pipe). */
export interface RelayByteStream {
  write(bytes: Uint8Array): void;
  /** Bytes accepted by write() and not yet sent. */
  readonly writableLength: number;
  destroy(): void;
}

/** What the stream's transport reports to the mux. */
export interface RelayStreamHandlers {
  onData(chunk: Uint8Array): void;
  onClose(): void;
}

/** Device side: open a stream to `relay`; call `h.onConnect` once it is up (or `h.onClose` if it fails). */
export type RelayStreamConnector = (relay: UdpAddress, h: RelayStreamHandlers & { onConnect(): void; onError(message: string): void }) => RelayByteStream;

export interface RelayStreamCounters { accepted: number; refused: number; framesIn: number; framesOut: number; framesDropped: number; badStreams: number }

export class RelayStreamServer implements DatagramSocket {
  private readonly conns = new Map<string, RelayByteStream>();
  private handler: DatagramHandler = () => {};
  private batchHandler: BatchHandler | undefined;
  private readonly single = new SingleDatagramBatch();
  /** Present when the UDP socket is batched (see the header). */
  readonly onBatch?: (handler: BatchHandler) => void;
  readonly sendRun?: (to: UdpAddress, bytes: Uint8Array, segmentSize: number) => void;
  readonly counters: RelayStreamCounters = { accepted: 0, refused: 0, framesIn: 0, framesOut: 0, framesDropped: 0, badStreams: 0 };
  private readonly maxConnections: number;
  private readonly maxBacklog: number;

  constructor(private readonly udp: DatagramSocket, o: { maxConnections?: number; maxBacklogBytes?: number } = {}) {
    this.maxConnections = o.maxConnections ?? 10_000;
    this.maxBacklog = o.maxBacklogBytes ?? 1 << 20;
    if (isBatchSocket(udp)) {
      this.onBatch = (h) => {
        this.batchHandler = h;
        udp.onBatch(h);
      };
      this.sendRun = (to, bytes, seg) => {
        if (this.conns.size === 0 || !this.conns.has(formatAddress(to))) udp.sendRun(to, bytes, seg);
        else if (!sendRunBySegments((t, b) => this.send(t, b), to, bytes, seg)) this.counters.framesDropped++;
      };
    }
  }

  get local(): UdpAddress {
    return this.udp.local;
  }

  connections(): number {
    return this.conns.size;
  }

  /** A new stream from `from`: its handlers, or undefined when refused (the caller closes it). */
  accept(from: UdpAddress, stream: RelayByteStream): RelayStreamHandlers | undefined {
    const key = formatAddress(from);
    if (this.conns.size >= this.maxConnections || this.conns.has(key) || !from.port) { this.counters.refused++; return undefined; }
    this.counters.accepted++;
    this.conns.set(key, stream);
    const dec = new FrameDecoder();
    return {
      onData: (chunk) => {
        let frames: Uint8Array[];
        try { frames = dec.push(chunk); } catch (e) {
          if (!(e instanceof RelayStreamError)) throw e;
          this.counters.badStreams++;
          stream.destroy();
          return;
        }
        for (const f of frames) {
          this.counters.framesIn++;
          const bh = this.batchHandler;
          if (bh !== undefined) bh(this.single.set(from, f));
          else this.handler(from, f);
        }
      },
      onClose: () => { if (this.conns.get(key) === stream) this.conns.delete(key); },
    };
  }

  send(to: UdpAddress, bytes: Uint8Array): void {
    const c = this.conns.size === 0 ? undefined : this.conns.get(formatAddress(to)); // no string building on the UDP-only fast path
    if (!c) { this.udp.send(to, bytes); return; }
    if (c.writableLength > this.maxBacklog) { this.counters.framesDropped++; return; }
    this.counters.framesOut++;
    c.write(encodeFrame(bytes));
  }

  onDatagram(h: DatagramHandler): void {
    this.handler = h;
    this.batchHandler = undefined;
    this.udp.onDatagram(h);
  }

  /** Flush the UDP socket's staged datagrams, if it stages (relay-udp.ts over the native socket). */
  flush(): void {
    (this.udp as Partial<{ flush(): void }>).flush?.();
  }

  close(): void {
    for (const c of this.conns.values()) c.destroy();
    this.conns.clear();
    this.udp.close();
  }
}

interface RelayConn { readonly relay: UdpAddress; stream?: RelayByteStream; up: boolean; retry?: TimerHandle }

export class RelayStreamFallback implements DatagramSocket {
  private handler: DatagramHandler = () => {};
  private readonly relays = new Map<string, RelayConn>();
  private closed = false;
  readonly counters = { framesOut: 0, framesIn: 0, framesDropped: 0, connects: 0 };

  constructor(
    private readonly udp: DatagramSocket, private readonly connector: RelayStreamConnector, private readonly clock: Clock,
    private readonly maxBacklogBytes = 1 << 20,
  ) {
    udp.onDatagram((from, bytes) => this.handler(from, bytes));
  }

  get local(): UdpAddress {
    return this.udp.local;
  }

  /** Relays reached over a stream. */
  get streamRelays(): UdpAddress[] {
    return [...this.relays.values()].map((r) => r.relay);
  }

  /** Route traffic for `relay` over a stream from now on; resolves once connected (rejects if the first attempt fails). */
  use(relay: UdpAddress): Promise<void> {
    const key = formatAddress(relay);
    const have = this.relays.get(key);
    if (have?.up) return Promise.resolve();
    const r: RelayConn = have ?? { relay, up: false };
    this.relays.set(key, r);
    return this.open(r);
  }

  send(to: UdpAddress, bytes: Uint8Array): void {
    if (this.closed) return;
    const r = this.relays.size === 0 ? undefined : this.relays.get(formatAddress(to));
    if (!r) { this.udp.send(to, bytes); return; }
    if (!r.up || !r.stream || r.stream.writableLength > this.maxBacklogBytes) { this.counters.framesDropped++; return; }
    this.counters.framesOut++;
    r.stream.write(encodeFrame(bytes));
  }

  onDatagram(h: DatagramHandler): void {
    this.handler = h;
  }

  close(): void {
    this.closed = true;
    for (const r of this.relays.values()) { r.retry?.cancel(); r.stream?.destroy(); }
    this.relays.clear();
    this.udp.close();
  }

  private open(r: RelayConn): Promise<void> {
    return new Promise((res, rej) => {
      const dec = new FrameDecoder();
      let settled = false;
      const ref: { stream?: RelayByteStream } = {}; // handlers may run before connector() returns
      const stream = this.connector(r.relay, {
        onConnect: () => { r.up = true; settled = true; res(); },
        onData: (chunk) => {
          let frames: Uint8Array[];
          try { frames = dec.push(chunk); } catch { ref.stream?.destroy(); return; }
          for (const f of frames) { this.counters.framesIn++; this.handler(r.relay, f); }
        },
        onError: (message) => { if (!settled) { settled = true; rej(new Error(`relay ${formatAddress(r.relay)} over a stream: ${message}`)); } },
        onClose: () => {
          if (r.stream !== ref.stream) return;
          r.up = false;
          if (!settled) { settled = true; rej(new Error(`relay ${formatAddress(r.relay)} over a stream: closed before connecting`)); }
          if (this.closed || this.relays.get(formatAddress(r.relay)) !== r) return;
          r.retry = this.clock.setTimer(this.clock.now() + 1000, () => { if (!this.closed) this.open(r).catch(() => {}); });
        },
      });
      ref.stream = stream;
      r.stream = stream;
      this.counters.connects++;
    });
  }
}
