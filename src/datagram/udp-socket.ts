// The real UDP socket's common shape: what callers of bindUdp() may rely on beyond
// the DatagramSocket contract (src/wire/socket.ts), whichever implementation they
// got — node:dgram (DgramUdpSocket, udp.ts) or the native batched socket
// (NativeUdpSocket, native-udp.ts). `instanceof UdpSocket` holds for both (udp.ts
// also exports it under its old name NodeUdpSocket). Both: send() never throws and
// copies the payload; sendOwned() may skip the copy; refused sends are counted;
// received payloads are views the receiver owns; close() is idempotent. Both also do
// batched I/O (batch.ts): onBatch() hands over runs of datagrams (native: in place, one
// call per recvmmsg; node:dgram: a batch of one per datagram), sendRun() sends a run
// (native: one copy into staging, one GSO message; node:dgram: datagram by datagram).
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../wire/socket.ts';
import type { BatchHandler, BatchSocket } from './batch.ts';

/** Largest UDP payload in one IPv4 datagram: 65,535 - 20 - 8. */
export const MAX_UDP_PAYLOAD = 65_507;
export const DEFAULT_RECV_BUFFER = 4 * 1024 * 1024;

export interface BindUdpOptions {
  /** Local IPv4 address to bind (default '0.0.0.0': all interfaces). */
  address?: string;
  /** Local port (default 0: the kernel picks a free one). */
  port?: number;
  /** SO_RCVBUF request in bytes (default 4 MiB; best effort). */
  recvBufferSize?: number;
  /** SO_SNDBUF request in bytes (default: kernel default; best effort). */
  sendBufferSize?: number;
  /** Implementation (default: TINCAN_UDP if set, else 'native' when the addon loaded, else 'dgram'). */
  impl?: 'native' | 'dgram';
  /** Native socket only: coalesce equal-size datagrams to one destination with UDP GSO (default true). */
  gso?: boolean;
  /** Native socket only: accept UDP GRO super-datagrams (split back into datagrams; default true). */
  gro?: boolean;
  /**
   * Native socket only: busy polling — after a wake-up that received data, keep reading until
   * this many microseconds pass without a datagram (at most 2 ms per wake-up), instead of
   * sleeping until the next one. CPU for latency; 0..1000, default 0 (off).
   */
  busyPollUs?: number;
}

export interface UdpCounters {
  /** Datagrams handed to the kernel (node:dgram: to libuv; native: accepted by sendmmsg). */
  sent: number;
  /** Datagrams received (delivered to the handler, if there is one). */
  received: number;
  /** Sends refused before reaching the kernel (closed, oversize, bad address/port; native: send-queue overflow, unsent at close). */
  dropped: number;
  /** Sends the kernel refused (e.g. ENOBUFS, EHOSTUNREACH, EMSGSIZE), and socket 'error' events. */
  sendErrors: number;
}

export function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

export abstract class UdpSocket implements DatagramSocket, BatchSocket {
  /** 'dgram' (node:dgram) or 'native' (batched addon). */
  abstract readonly kind: 'dgram' | 'native';
  abstract readonly local: UdpAddress;
  abstract readonly counters: UdpCounters;
  /** SO_RCVBUF / SO_SNDBUF as granted by the kernel (Linux reports twice the usable size). */
  abstract readonly recvBufferSize: number;
  abstract readonly sendBufferSize: number;
  /** Last kernel error code seen (e.g. 'ENOBUFS'), for diagnostics. */
  abstract readonly lastError: string | undefined;
  abstract readonly isClosed: boolean;
  /**
   * True when send()/sendOwned() are done with the caller's bytes when they return (the
   * native socket copies into its staging buffer): the caller may reuse one buffer for
   * every datagram even with sendOwned(). False for node:dgram, whose sendOwned() keeps
   * the buffer until libuv has sent it.
   */
  abstract readonly copiesOnSend: boolean;
  /**
   * True when onBatch() hands over views of memory the socket rewrites at its next receive
   * (the native socket's arena): no allocation and no copy per batch, for consumers that copy
   * what they keep (Driver with an endpoint that copiesReceivedDatagrams). False when onBatch()
   * is an emulation over a fresh buffer per datagram (node:dgram: onDatagram() is as cheap).
   */
  get receivesInPlace(): boolean { return this.kind === 'native'; }
  abstract send(to: UdpAddress, bytes: Uint8Array): void;
  /** As send(); the caller hands `bytes` over and never touches them again (may save a copy). */
  abstract sendOwned(to: UdpAddress, bytes: Uint8Array): void;
  abstract onDatagram(handler: DatagramHandler): void;
  /** Receive batches of runs instead (batch.ts; replaces the onDatagram handler, and vice versa). */
  abstract onBatch(handler: BatchHandler): void;
  /**
   * Send `bytes` as datagrams of `segmentSize` (the last may be shorter) to `to`; copied before it
   * returns, except (native) a view of the batch being handled, sent from the batch's memory when
   * the handler returns (do not modify it in between). Invalid: dropped and counted per segment.
   */
  abstract sendRun(to: UdpAddress, bytes: Uint8Array, segmentSize: number): void;
  /** Hand every datagram sent so far to the kernel now (node:dgram: already done in send()). */
  abstract flush(): void;
  abstract close(): void;
  /** Resolves when the port is released (after close()). */
  abstract whenClosed(): Promise<void>;
}
