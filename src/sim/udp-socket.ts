// A simulated host's UDP socket: implements the shared DatagramSocket interface so
// code written against real UDP runs unchanged in the simulator. Sends build real
// IPv4+UDP bytes (wire codecs) and hand them to the host's routing; receives come from
// the host after IP/UDP checksums were verified. Handlers run inside the simulator's
// event loop, at the virtual time of arrival.
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../wire/socket.ts';
import type { Host } from './host.ts';

/** Largest UDP payload in one IPv4 packet: 65,535 - 20 (IPv4) - 8 (UDP). */
export const MAX_UDP_PAYLOAD = 65_507;

export interface SocketCounters {
  sent: number;
  received: number;
  /** Sends refused: closed socket, oversize payload, or a destination that is not IPv4:1..65535. */
  dropped: number;
}

export class SimUdpSocket implements DatagramSocket {
  readonly local: UdpAddress;
  readonly counters: SocketCounters = { sent: 0, received: 0, dropped: 0 };
  private handler: DatagramHandler | undefined;
  private closed = false;

  constructor(private readonly host: Host, port: number) {
    this.local = { address: host.address, port };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(to: UdpAddress, bytes: Uint8Array): void {
    if (this.closed) {
      this.counters.dropped++;
      this.host.countSendDrop('socket-closed');
      return;
    }
    if (bytes.length > MAX_UDP_PAYLOAD) {
      this.counters.dropped++;
      this.host.countSendDrop('oversize');
      return;
    }
    const port = to.port;
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535) || !this.host.sendUdp(this.local.port, to, bytes)) {
      this.counters.dropped++;
      this.host.countSendDrop('bad-destination');
      return;
    }
    this.counters.sent++;
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.host.unbind(this.local.port, this);
  }

  /** Called by the host with a verified datagram addressed to this socket. */
  deliver(from: UdpAddress, payload: Uint8Array): void {
    this.counters.received++;
    this.handler?.(from, payload);
  }
}
