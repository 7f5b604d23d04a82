// The supernode's UDP socket: whatever bindUdp() returns (src/datagram/udp.ts: the native
// batched socket — recvmmsg/sendmmsg, UDP GSO/GRO — when its addon is built, else
// node:dgram; TINCAN_UDP=dgram forces node:dgram), with the same DatagramSocket contract
// (never throws on send, drops and counts what the kernel or validation refuses, received
// payloads are views the receiver owns) and send() = the socket's sendOwned(): the
// supernode only sends datagrams it received (forwarded unchanged: the relay never looks
// past the DATA header) or messages it has just encoded, and never touches them again, so
// a defensive copy would be pure cost (node:dgram: an allocation and a 1.2 kB memcpy per
// forwarded datagram; the native socket copies into its staging buffer either way).
// flush() hands what was sent so far to the kernel (native: one sendmmsg; equal-size
// consecutive datagrams to one destination leave as one GSO message); the Driver calls it
// after each transmit pass, so a burst received in one native batch is forwarded in one
// flush. A wrapper rather than the Driver's transmitsOwnedBuffers path because the relay's
// TCP mux (relay-tcp.ts) sends through it.
// Over the native socket it also offers the batch API (src/datagram/batch.ts: onBatch,
// sendRun), which RelayBatchDriver then uses: runs in, runs out, no per-datagram call.
// Over node:dgram it does not (emulated runs would cost a copy per forwarded datagram that
// send() = sendOwned() saves), so the driver keeps the per-datagram path there.
import { bindUdp, type NodeUdpSocket, type UdpCounters } from '../datagram/udp.ts';
import type { BatchHandler } from '../datagram/batch.ts';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../wire/socket.ts';

/** What the socket may offer beyond DatagramSocket (the native socket stages sends until flush()). */
interface MaybeBatched { flush?(): void; readonly kind?: string }

export class RelayUdpSocket implements DatagramSocket {
  private readonly batched: MaybeBatched;
  /** Native socket only: receive batches of runs (replaces onDatagram). */
  readonly onBatch?: (handler: BatchHandler) => void;
  /** Native socket only: send a run (copied into staging; one GSO message at the flush). */
  readonly sendRun?: (to: UdpAddress, bytes: Uint8Array, segmentSize: number) => void;
  /** Native socket only: busy polling at run time (us without a datagram before sleeping; 0 = off). */
  readonly setBusyPoll?: (us: number) => void;

  constructor(private readonly udp: NodeUdpSocket) {
    this.batched = udp as unknown as MaybeBatched;
    if (udp.kind === 'native') {
      this.onBatch = (h) => udp.onBatch(h);
      this.sendRun = (to, bytes, seg) => udp.sendRun(to, bytes, seg);
      const spin = (udp as Partial<{ setBusyPoll(us: number): void }>).setBusyPoll; // NativeUdpSocket
      if (typeof spin === 'function') this.setBusyPoll = (us) => spin.call(udp, us);
    }
  }

  get local(): UdpAddress { return this.udp.local; }
  get counters(): UdpCounters { return this.udp.counters; }
  get lastError(): string | undefined { return this.udp.lastError; }
  /** 'native' (batched addon) or 'dgram' (node:dgram). */
  get kind(): string { return this.batched.kind ?? 'dgram'; }

  /** Sends `bytes` as they are; the caller must not modify them afterwards. */
  send(to: UdpAddress, bytes: Uint8Array): void { this.udp.sendOwned(to, bytes); }
  /** Hand the staged datagrams to the kernel now (node:dgram: nothing to do). */
  flush(): void { this.batched.flush?.(); }
  onDatagram(handler: DatagramHandler): void { this.udp.onDatagram(handler); }
  close(): void { this.udp.close(); }
}

/** Bind the supernode's UDP socket (IPv4; rejects on EADDRINUSE etc.); busyPollUs: see BindUdpOptions (native only, default off). */
export async function bindRelayUdp(address: string, port: number, busyPollUs = 0): Promise<RelayUdpSocket> {
  return new RelayUdpSocket(await bindUdp({ address, port, busyPollUs }));
}
