// Relay over TCP (docs/protocol/relay.md, "Over TCP"): node:net glue for both ends of
// relay-stream-mux.ts. A device whose UDP is blocked reaches its supernode over TCP at the
// same port number; the relay messages are the UDP ones, length-prefixed.
//   - supernode: `listenRelayTcp(udp, ...)` returns a socket whose datagrams are the UDP
//     ones plus one per TCP frame (source = the TCP peer's ip:port), and whose sends to
//     an address that is a TCP peer go down that connection (others: UDP)
//     (RelayStreamServer; with the UDP socket's batch API passed through when it has one).
//     Limits: maxConnections, per-connection write backlog, idle timeout.
//   - device: `TcpRelayFallback` is a RelayStreamFallback whose streams are TCP
//     connections (Nagle off), reconnected 1 s after a drop on the real clock.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { DatagramSocket } from '../wire/socket.ts';
import type { BatchSocket } from '../datagram/batch.ts';
import { realClock } from '../datagram/udp.ts';
import { RelayStreamFallback, RelayStreamServer, type RelayByteStream, type RelayStreamConnector, type RelayStreamCounters } from './relay-stream-mux.ts';

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
  /** UDP and TCP in one; flush() passes on to the UDP socket (the Driver calls it after each transmit pass). */
  readonly socket: DatagramSocket & { flush(): void } & Partial<Pick<BatchSocket, 'onBatch' | 'sendRun'>>;
  readonly port: number;
  connections(): number;
  readonly counters: RelayStreamCounters;
}

const v4 = (a: string) => a.replace(/^::ffff:/, '');

/** A net.Socket as a RelayByteStream. */
function tcpStream(c: Socket): RelayByteStream {
  return { write: (b) => { c.write(b); }, get writableLength() { return c.writableLength; }, destroy: () => { c.destroy(); } };
}

export async function listenRelayTcp(udp: DatagramSocket, o: RelayTcpOptions): Promise<RelayTcpListener> {
  const mux = new RelayStreamServer(udp, o);
  const server: Server = createServer((c) => {
    const from = { address: v4(c.remoteAddress ?? ''), port: c.remotePort ?? 0 };
    const h = mux.accept(from, tcpStream(c));
    if (!h) { c.destroy(); return; }
    c.setNoDelay(true);
    c.setTimeout(o.idleTimeoutMs ?? 60_000, () => c.destroy());
    c.on('data', (chunk: Buffer) => h.onData(chunk));
    c.on('error', () => {});
    c.on('close', () => h.onClose());
  });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen({ host: o.address, port: o.port }, () => { server.off('error', rej); res(); }); });
  const port = (server.address() as { port: number }).port;
  const socket: RelayTcpListener['socket'] = {
    get local() { return mux.local; },
    send: (to, bytes) => mux.send(to, bytes),
    flush: () => mux.flush(),
    onDatagram: (h) => mux.onDatagram(h),
    close() { server.close(); mux.close(); },
    // the batch API (src/datagram/batch.ts) when the UDP socket has it
    ...(mux.onBatch && mux.sendRun ? { onBatch: mux.onBatch, sendRun: mux.sendRun } : {}),
  };
  return { socket, port, connections: () => mux.connections(), counters: mux.counters };
}

/** Opens relay streams as TCP connections. */
export const tcpConnector: RelayStreamConnector = (relay, h) => {
  const c = connect({ host: relay.address, port: relay.port });
  c.setNoDelay(true);
  c.once('connect', () => h.onConnect());
  c.on('data', (chunk: Buffer) => h.onData(chunk));
  c.on('error', (e) => h.onError(e.message));
  c.on('close', () => h.onClose());
  return tcpStream(c);
};

export class TcpRelayFallback extends RelayStreamFallback {
  constructor(udp: DatagramSocket, maxBacklogBytes = 1 << 20) {
    super(udp, tcpConnector, realClock, maxBacklogBytes);
  }
}
