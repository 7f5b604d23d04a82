// The supernode's UDP socket: src/datagram/udp.ts's NodeUdpSocket (same DatagramSocket
// contract: never throws on send, drops and counts what the kernel or validation
// refuses, received payloads are fresh buffers the receiver owns) whose send() TAKES
// OWNERSHIP of `bytes` (NodeUdpSocket.sendOwned — no defensive copy). The supernode only
// sends datagrams it received (forwarded unchanged: the relay never looks past the DATA
// header) or messages it has just encoded, and never touches them again, so the copy
// send() makes for callers that reuse buffers would be pure cost here (an allocation and
// a 1.2 kB memcpy per forwarded datagram). A wrapper rather than the Driver's
// transmitsOwnedBuffers path because the relay's TCP mux (relay-tcp.ts) sends through it.
import { bindUdp, type NodeUdpSocket, type UdpCounters } from '../datagram/udp.ts';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../wire/socket.ts';

export class RelayUdpSocket implements DatagramSocket {
  constructor(private readonly udp: NodeUdpSocket) {}

  get local(): UdpAddress { return this.udp.local; }
  get counters(): UdpCounters { return this.udp.counters; }
  get lastError(): string | undefined { return this.udp.lastError; }

  /** Sends `bytes` as they are; the caller must not modify them afterwards. */
  send(to: UdpAddress, bytes: Uint8Array): void { this.udp.sendOwned(to, bytes); }
  onDatagram(handler: DatagramHandler): void { this.udp.onDatagram(handler); }
  close(): void { this.udp.close(); }
}

/** Bind the supernode's UDP socket (IPv4; rejects on EADDRINUSE etc.). */
export async function bindRelayUdp(address: string, port: number): Promise<RelayUdpSocket> {
  return new RelayUdpSocket(await bindUdp({ address, port }));
}
