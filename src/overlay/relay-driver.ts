// I/O glue: runs a supernode core on a socket so that a burst received in one batch is
// forwarded in one flush. Contract: every received datagram goes to the core at once
// (`handleDatagram(now, from, bytes)`, `now` read once per batch); the first datagram of a
// batch queues one microtask, which runs when the socket's receive callback returns —
// after the whole batch (the native socket hands a recvmmsg batch to JS in one callback;
// node:dgram one datagram per callback) — and sends everything the core queued
// (`pollInto`, one reused slot: no allocation per forwarded datagram) followed by one
// `flush()` (the native socket: one sendmmsg, equal-size consecutive datagrams to one
// destination as one GSO message). One timer is armed at the core's `pollTimeout()`.
// Unlike the generic Driver's per-event-loop-turn batching (setImmediate), each receive
// batch leaves as soon as it was read, so the next hop works on it while the relay reads
// the next batch (pipelining); unlike an unbatched Driver, the core's output is drained
// once per batch, not once per datagram.
// Batched sockets (src/datagram/batch.ts: the native socket, also through relay-udp.ts and
// the TCP mux) with a run-capable core: the driver takes onBatch() instead — per received
// batch, `now` read once, each run to `core.handleRun` and the core's queue drained right
// after it with `pollRunInto` + `sendRun` (a relayed run leaves as one GSO message; the
// socket copies it into its staging buffer, so nothing refers to the batch's memory once
// the run is drained, before the socket reuses it), then one flush() per batch.
// With `busyPoll` (a BusyPollPolicy and how to apply it to the socket), every batch's
// datagrams are counted and the policy's verdict applied when it changes: the socket spins
// between bursts while a bulk flow passes (relay-busy-poll.ts), and sleeps otherwise.
import type { Clock, DatagramSocket, Millis, UdpAddress } from '../wire/socket.ts';
import { WakeupTimer } from '../datagram/wakeup-timer.ts';
import { isBatchSocket, segmentCount, type BatchSocket, type DatagramBatch } from '../datagram/batch.ts';
import type { BusyPollPolicy } from './relay-busy-poll.ts';

/** Adaptive busy polling for the driver's socket: the policy, and how to set the socket's busy polling (us, 0 = off). */
export interface DriverBusyPoll {
  readonly policy: BusyPollPolicy;
  apply(us: number): void;
}

/** What the driver needs of a supernode core (SupernodeCore). */
export interface BatchCore {
  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void;
  handleTimeout(now: Millis): void;
  pollInto(slot: { to: UdpAddress; bytes: Uint8Array }): boolean;
  pollTimeout(): Millis | undefined;
  /** Optional run path (SupernodeCore): handleRun + pollRunInto, used with batched sockets. */
  handleRun?(now: Millis, from: UdpAddress, buf: Uint8Array, off: number, len: number, seg: number): void;
  pollRunInto?(slot: { to: UdpAddress; bytes: Uint8Array; segmentSize: number }): boolean;
}

export class RelayBatchDriver {
  private readonly slot = { to: undefined as unknown as UdpAddress, bytes: undefined as unknown as Uint8Array, segmentSize: 0 };
  /** The socket when the batch path is used. */
  private readonly runs: BatchSocket | undefined;
  private readonly flushing: { flush(): void } | undefined;
  /** Time of the batch being received (read once, on its first datagram). */
  private batchNow: Millis | undefined;
  private readonly wakeup: WakeupTimer;
  private closed = false;
  private readonly drainTask = () => this.drain();
  /** Batches drained (for tests and monitoring). */
  drains = 0;
  /** The busy polling last applied (us, 0 = off). */
  private spinUs = 0;

  /** Whether the batch path (onBatch/handleRun/sendRun) is in use. */
  get batched(): boolean { return this.runs !== undefined; }

  constructor(private readonly core: BatchCore, private readonly socket: DatagramSocket, private readonly clock: Clock, private readonly busyPoll?: DriverBusyPoll) {
    const f = (socket as Partial<{ flush(): void }>).flush;
    this.wakeup = new WakeupTimer(clock, () => {
      if (this.closed) return;
      this.core.handleTimeout(this.clock.now());
      this.drain();
    });
    this.flushing = typeof f === 'function' ? (socket as unknown as { flush(): void }) : undefined;
    if (isBatchSocket(socket) && typeof core.handleRun === 'function' && typeof core.pollRunInto === 'function') {
      this.runs = socket;
      socket.onBatch((batch) => this.onBatch(batch));
      return;
    }
    socket.onDatagram((from, bytes) => {
      if (this.closed) return;
      let now = this.batchNow;
      if (now === undefined) {
        now = this.batchNow = this.clock.now();
        queueMicrotask(this.drainTask);
      }
      if (this.busyPoll !== undefined) this.noteBatch(now, 1);
      this.core.handleDatagram(now, from, bytes);
    });
  }

  /** Send what the core queued after an outside change (seeding gossip, ...). */
  wake(): void { if (!this.closed) this.drain(); }

  close(): void {
    if (this.closed) return;
    this.drain();
    this.closed = true;
    if (this.spinUs !== 0) { this.spinUs = 0; this.busyPoll?.apply(0); }
    this.wakeup.cancel();
    this.socket.close();
  }

  private onBatch(batch: DatagramBatch): void {
    if (this.closed) return;
    const core = this.core, now = this.clock.now(), bytes = batch.bytes;
    if (this.busyPoll !== undefined) {
      let n = 0;
      for (let r = 0; r < batch.runs; r++) n += segmentCount(batch.length(r), batch.segmentSize(r));
      this.noteBatch(now, n);
    }
    try {
      for (let r = 0; r < batch.runs; r++) {
        core.handleRun!(now, batch.from(r), bytes, batch.offset(r), batch.length(r), batch.segmentSize(r));
        this.sendQueued();
      }
    } finally {
      this.drain(); // even when handling threw: nothing queued (views of the batch) may outlive the batch's memory
    }
  }

  /** Tell the busy-poll policy about `n` datagrams received at `now`; apply its verdict when it changed. */
  private noteBatch(now: Millis, n: number): void {
    const us = this.busyPoll!.policy.note(now, n);
    if (us !== this.spinUs) {
      this.spinUs = us;
      this.busyPoll!.apply(us);
    }
  }

  /** Send what the core queued, runs as runs. */
  private sendQueued(): void {
    const slot = this.slot, sock = this.runs!;
    while (this.core.pollRunInto!(slot)) sock.sendRun(slot.to, slot.bytes, slot.segmentSize);
  }

  private drain(): void {
    this.batchNow = undefined;
    if (this.closed) return;
    this.drains++;
    const slot = this.slot;
    if (this.runs !== undefined) this.sendQueued();
    else while (this.core.pollInto(slot)) this.socket.send(slot.to, slot.bytes);
    this.flushing?.flush();
    this.wakeup.arm(this.core.pollTimeout());
  }
}
