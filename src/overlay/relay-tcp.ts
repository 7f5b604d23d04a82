// Relay over TCP (docs/protocol/relay.md, "Over TCP"), I/O glue for both ends. A device
// whose UDP is blocked reaches its supernode over TCP at the same port number; the relay
// messages are the UDP ones, length-prefixed (relay-stream.ts). Both ends present the
// result as a DatagramSocket, so the sans-IO cores (SupernodeCore, RelayClient/PeerLink)
// do not know the difference:
//   - supernode: `listenRelayTcp(udp, ...)` returns a socket whose datagrams are the UDP
//     ones plus one per TCP frame (source = the TCP peer's ip:port), and whose sends to
//     an address that is a TCP peer go down that connection (others: UDP). A TCP peer
//     and a UDP peer with the same ip:port cannot both be served (the TCP one wins).
//     Limits: maxConnections, per-connection write backlog (frames dropped beyond it, as
//     UDP would), idle timeout.
//   - device: `TcpRelayFallback` wraps the peer's UDP socket; after `use(relay)`, sends to
//     that relay's address go over a TCP connection to it (reconnected after a drop, one
//     per relay), everything else still over UDP; frames arrive as datagrams from the relay.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../wire/socket.ts';
import { formatAddress } from '../wire/socket.ts';
import { encodeFrame, FrameDecoder, RelayStreamError } from './relay-stream.ts';

export interface RelayTcpOptions {
  readonly address: string;
  readonly port: number;
  readonly maxConnections?: number; // default 10_000
  /** Bytes queued for one connection's write before frames to it are dropped. Default 1 MiB. */
  readonly maxBacklogBytes?: number;
  readonly idleTimeoutMs?: number; // default 60_000 (devices refresh their BIND every 15 s)
}

export interface RelayTcpListener {
  /** UDP + TCP as one DatagramSocket, for the supernode's Driver. */
  readonly socket: DatagramSocket;
  readonly port: number;
  connections(): number;
  readonly counters: { accepted: number; refused: number; framesIn: number; framesOut: number; framesDropped: number; badStreams: number };
}

const v4 = (a: string) => a.replace(/^::ffff:/, '');

export async function listenRelayTcp(udp: DatagramSocket, o: RelayTcpOptions): Promise<RelayTcpListener> {
  const maxConnections = o.maxConnections ?? 10_000;
  const maxBacklog = o.maxBacklogBytes ?? 1 << 20;
  const conns = new Map<string, Socket>();
  const counters = { accepted: 0, refused: 0, framesIn: 0, framesOut: 0, framesDropped: 0, badStreams: 0 };
  let handler: DatagramHandler = () => {};
  const server: Server = createServer((c) => {
    const from = { address: v4(c.remoteAddress ?? ''), port: c.remotePort ?? 0 };
    const key = formatAddress(from);
    if (conns.size >= maxConnections || conns.has(key) || !from.port) { counters.refused++; c.destroy(); return; }
    counters.accepted++;
    conns.set(key, c);
    c.setNoDelay(true);
    c.setTimeout(o.idleTimeoutMs ?? 60_000, () => c.destroy());
    const dec = new FrameDecoder();
    c.on('data', (chunk: Buffer) => {
      let frames: Uint8Array[];
      try { frames = dec.push(chunk); } catch (e) { if (!(e instanceof RelayStreamError)) throw e; counters.badStreams++; c.destroy(); return; }
      for (const f of frames) { counters.framesIn++; handler(from, f); }
    });
    c.on('error', () => {});
    c.on('close', () => { if (conns.get(key) === c) conns.delete(key); });
  });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen({ host: o.address, port: o.port }, () => { server.off('error', rej); res(); }); });
  const port = (server.address() as { port: number }).port;
  const socket: DatagramSocket = {
    get local() { return udp.local; },
    send(to, bytes) {
      const c = conns.size === 0 ? undefined : conns.get(formatAddress(to)); // no string building on the UDP-only fast path
      if (!c) { udp.send(to, bytes); return; }
      if (c.writableLength > maxBacklog) { counters.framesDropped++; return; }
      counters.framesOut++;
      c.write(encodeFrame(bytes));
    },
    onDatagram(h) { handler = h; udp.onDatagram(h); },
    close() {
      server.close();
      for (const c of conns.values()) c.destroy();
      conns.clear();
      udp.close();
    },
  };
  return { socket, port, connections: () => conns.size, counters };
}

interface TcpRelayConn { readonly relay: UdpAddress; conn?: Socket; up: boolean; retry?: NodeJS.Timeout }

export class TcpRelayFallback implements DatagramSocket {
  private handler: DatagramHandler = () => {};
  private readonly relays = new Map<string, TcpRelayConn>();
  private closed = false;
  readonly counters = { framesOut: 0, framesIn: 0, framesDropped: 0, connects: 0 };

  constructor(private readonly udp: DatagramSocket, private readonly maxBacklogBytes = 1 << 20) {
    udp.onDatagram((from, bytes) => this.handler(from, bytes));
  }

  get local(): UdpAddress {
    return this.udp.local;
  }

  /** Relays reached over TCP. */
  get tcpRelays(): UdpAddress[] {
    return [...this.relays.values()].map((r) => r.relay);
  }

  /** Route traffic for `relay` over TCP from now on; resolves once connected (rejects if the first connect fails). */
  use(relay: UdpAddress): Promise<void> {
    const key = formatAddress(relay);
    const have = this.relays.get(key);
    if (have?.up) return Promise.resolve();
    const r: TcpRelayConn = have ?? { relay, up: false };
    this.relays.set(key, r);
    return this.open(r);
  }

  send(to: UdpAddress, bytes: Uint8Array): void {
    if (this.closed) return;
    const r = this.relays.get(formatAddress(to));
    if (!r) { this.udp.send(to, bytes); return; }
    if (!r.up || !r.conn || r.conn.writableLength > this.maxBacklogBytes) { this.counters.framesDropped++; return; }
    this.counters.framesOut++;
    r.conn.write(encodeFrame(bytes));
  }

  onDatagram(h: DatagramHandler): void {
    this.handler = h;
  }

  close(): void {
    this.closed = true;
    for (const r of this.relays.values()) { if (r.retry) clearTimeout(r.retry); r.conn?.destroy(); }
    this.relays.clear();
    this.udp.close();
  }

  private open(r: TcpRelayConn): Promise<void> {
    return new Promise((res, rej) => {
      const c = connect({ host: r.relay.address, port: r.relay.port });
      r.conn = c;
      this.counters.connects++;
      c.setNoDelay(true);
      const dec = new FrameDecoder();
      let settled = false;
      c.once('connect', () => { r.up = true; settled = true; res(); });
      c.on('data', (chunk: Buffer) => {
        let frames: Uint8Array[];
        try { frames = dec.push(chunk); } catch { c.destroy(); return; }
        for (const f of frames) { this.counters.framesIn++; this.handler(r.relay, f); }
      });
      c.on('error', (e) => { if (!settled) { settled = true; rej(new Error(`relay ${formatAddress(r.relay)} over TCP: ${e.message}`)); } });
      c.on('close', () => {
        if (r.conn !== c) return;
        r.up = false;
        if (this.closed || this.relays.get(formatAddress(r.relay)) !== r) return;
        r.retry = setTimeout(() => { if (!this.closed) this.open(r).catch(() => {}); }, 1000);
        r.retry.unref?.();
      });
    });
  }
}
