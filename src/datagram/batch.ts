// Batched datagram I/O, the shape shared by both real sockets (native-udp.ts, udp.ts) and
// the relay's socket wrappers: a received batch is a list of RUNS — a run is datagrams of
// one source laid out back to back in `bytes`, every one exactly `segmentSize` long except
// the last, which may be shorter (a GRO super-datagram is one run; a plain datagram is a
// run of one with segmentSize = length; an empty datagram is a run with length 0 and
// segmentSize 0) — so a consumer walks segments with no object or call per datagram.
// Contract of a batch: valid only while the handler runs (the native socket reuses the
// memory for its next recvmmsg; anything to keep must be copied before returning);
// offset(i) + length(i) <= bytes.length; from(i) may return the same object for
// consecutive runs of one sender (never mutated: a new object when the sender changes).
// sendRun(to, bytes, segmentSize) sends `bytes` as datagrams of segmentSize (the last may
// be shorter) to one destination, copying them before it returns (the native socket: one
// copy into its staging buffer, sent as one UDP GSO message at the next flush) — except a
// view of the batch being handled, which the native socket sends from the batch's memory
// when the handler returns: do not modify those bytes after sendRun within the handler.
import type { DatagramSocket, UdpAddress } from '../wire/socket.ts';

export interface DatagramBatch {
  /** The batch's memory; runs are views into it. Valid during the handler call only. */
  readonly bytes: Uint8Array;
  /** Runs in this batch. */
  readonly runs: number;
  offset(run: number): number;
  /** Bytes of the run (all its segments). */
  length(run: number): number;
  /** Every segment but the last is this long (0 only for an empty datagram). */
  segmentSize(run: number): number;
  from(run: number): UdpAddress;
}

export type BatchHandler = (batch: DatagramBatch) => void;

/** A socket that can hand over batches of runs and send runs. */
export interface BatchSocket extends DatagramSocket {
  /** Receive batches instead of datagrams (replaces an onDatagram handler, and vice versa). */
  onBatch(handler: BatchHandler): void;
  /** Send `bytes` as datagrams of `segmentSize` (last may be shorter) to `to`; copied before it returns (a view of the batch being handled: sent as it is when the handler returns). */
  sendRun(to: UdpAddress, bytes: Uint8Array, segmentSize: number): void;
  /** Hand what was sent so far to the kernel. */
  flush(): void;
}

export function isBatchSocket(s: DatagramSocket): s is BatchSocket {
  const b = s as Partial<BatchSocket>;
  return typeof b.onBatch === 'function' && typeof b.sendRun === 'function' && typeof b.flush === 'function';
}

/** Number of segments of a run (an empty datagram is one; so is a run with an invalid segment size). */
export function segmentCount(length: number, segmentSize: number): number {
  return Number.isInteger(segmentSize) && segmentSize > 0 && length > segmentSize ? Math.ceil(length / segmentSize) : 1;
}

/** A batch of one datagram (node:dgram and stream frames emulate batches with it); reusable via set(). */
export class SingleDatagramBatch implements DatagramBatch {
  bytes: Uint8Array = new Uint8Array(0);
  readonly runs = 1;
  private src: UdpAddress = { address: '', port: 0 };

  set(from: UdpAddress, bytes: Uint8Array): this {
    this.src = from;
    this.bytes = bytes;
    return this;
  }

  offset(): number { return 0; }
  length(): number { return this.bytes.length; }
  segmentSize(): number { return this.bytes.length; }
  from(): UdpAddress { return this.src; }
}

/** Whether `segmentSize` describes a run of `length` bytes (an integer >= 1; 0 only for an empty datagram). */
export function validRun(length: number, segmentSize: number): boolean {
  return Number.isInteger(segmentSize) && (segmentSize >= 1 || (segmentSize === 0 && length === 0));
}

/**
 * Send a run segment by segment with `send` (a socket without run support): each segment is
 * a subarray view, so `send` must copy or send it before `bytes` changes. False (nothing
 * sent) when the segment size is invalid (validRun), for the caller to count as dropped.
 */
export function sendRunBySegments(send: (to: UdpAddress, bytes: Uint8Array) => void, to: UdpAddress, bytes: Uint8Array, segmentSize: number): boolean {
  const len = bytes.length;
  if (!validRun(len, segmentSize)) return false;
  if (segmentSize >= len) { send(to, bytes); return true; }
  for (let off = 0; off < len; off += segmentSize) send(to, bytes.subarray(off, Math.min(len, off + segmentSize)));
  return true;
}
