// The supernode's UDP socket (node:dgram), tuned for forwarding. Same DatagramSocket
// contract as src/datagram/udp.ts (never throws on send, drops and counts what the kernel
// or validation refuses, received payloads are fresh buffers the receiver owns) with one
// difference: send() TAKES OWNERSHIP of `bytes` — no defensive copy. The supernode only
// sends datagrams it received (forwarded unchanged: the relay never looks past the DATA
// header) or messages it has just encoded, and never touches them again, so the copy
// udp.ts makes for callers that reuse buffers is pure cost here (an allocation and a
// 1.2 kB memcpy per forwarded datagram, and the garbage they make). Received payloads are
// plain Uint8Array views of the buffer node:dgram allocated for that datagram.
import { createSocket, type Socket } from 'node:dgram';
import { isIpv4 } from '../wire/ipv4-address.ts';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../wire/socket.ts';
import { DEFAULT_RECV_BUFFER, MAX_UDP_PAYLOAD, type UdpCounters } from '../datagram/udp.ts';

export class RelayUdpSocket implements DatagramSocket {
  readonly local: UdpAddress;
  readonly counters: UdpCounters = { sent: 0, received: 0, dropped: 0, sendErrors: 0 };
  lastError: string | undefined;
  private handler: DatagramHandler | undefined;
  private lastTo = '';
  private closed = false;
  private readonly onSent = (err: Error | null) => {
    if (err) { this.counters.sendErrors++; this.lastError = (err as NodeJS.ErrnoException).code ?? err.message; }
  };

  constructor(private readonly socket: Socket) {
    const a = socket.address();
    this.local = { address: a.address, port: a.port };
    let last: UdpAddress = { address: '', port: 0 }; // readonly: reused while the sender repeats
    socket.on('message', (msg, rinfo) => {
      if (this.closed) return;
      this.counters.received++;
      const handler = this.handler;
      if (handler === undefined) return;
      if (rinfo.port !== last.port || rinfo.address !== last.address) last = { address: rinfo.address, port: rinfo.port };
      handler(last, new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)); // a plain view: Buffer#slice would not copy
    });
    socket.on('error', (err) => { this.counters.sendErrors++; this.lastError = (err as NodeJS.ErrnoException).code ?? err.message; });
  }

  /** Sends `bytes` as they are; the caller must not modify them afterwards. */
  send(to: UdpAddress, bytes: Uint8Array): void {
    if (this.closed || bytes.length > MAX_UDP_PAYLOAD || !Number.isInteger(to.port) || to.port < 1 || to.port > 65535 || (to.address !== this.lastTo && !isIpv4(to.address))) {
      this.counters.dropped++;
      return;
    }
    try {
      this.lastTo = to.address;
      this.socket.send(bytes, to.port, to.address, this.onSent);
      this.counters.sent++;
    } catch (err) {
      this.counters.sendErrors++;
      this.lastError = (err as NodeJS.ErrnoException).code ?? String(err);
    }
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    try { this.socket.close(); } catch { /* already closed by the runtime */ }
  }
}

/** Bind the supernode's UDP socket (IPv4; rejects on EADDRINUSE etc.). */
export async function bindRelayUdp(address: string, port: number): Promise<RelayUdpSocket> {
  if (!isIpv4(address)) throw new RangeError(`bindRelayUdp: address must be a dotted-quad IPv4 address, got ${JSON.stringify(address)}`);
  const socket = createSocket({ type: 'udp4', lookup: (host, _o, cb) => cb(null, host, 4) });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => { socket.close(); reject(err); };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => { socket.off('error', onError); resolve(); });
  });
  try { socket.setRecvBufferSize(DEFAULT_RECV_BUFFER); } catch { /* best effort: capped by net.core.rmem_max */ }
  return new RelayUdpSocket(socket);
}
