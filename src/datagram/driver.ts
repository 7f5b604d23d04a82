// The one driver: runs any sans-IO endpoint over a DatagramSocket and a Clock
// (real: node:dgram + performance.now/setTimeout; simulated: the simulator's
// sockets and virtual clock). Contract: every input (datagram, timer, wake())
// is followed by `afterInput` (the API drains events there), then every
// pending datagram is sent and one timer is armed at the endpoint's next
// wake-up. Re-entrant calls (wake() from inside afterInput) are folded in.
// Batching (default on, when the clock can defer): datagrams are handed to the
// endpoint as they arrive, but the rest (afterInput, transmit, timer) runs once
// per event-loop turn, so a burst of received datagrams (libuv reads up to 32
// per poll) costs one pass — one ACK packet, one timer re-arm. Deferral is the
// clock's `defer` (DeferringClock; realClock: setImmediate). A clock without it
// — the simulator's virtual clock, which has no event-loop turns and would
// never run a setImmediate inside net.run() — gets unbatched runs, whatever
// `batch` says. (That was why batching broke the real Peer over simulated NATs.)
// An endpoint whose transmits are fresh buffers (`transmitsOwnedBuffers`) hands
// them to a socket with `sendOwned` (UdpSocket) without the socket's copy. A socket
// with `flush()` (the native batched socket stages sends) is flushed after every
// transmit pass, so one pass's datagrams leave in one sendmmsg.
// Mid-burst passes (batching only): a native receive batch can hand the endpoint
// thousands of datagrams in one JS task; after `runEvery` datagrams without a
// pass (default 128, TINCAN_DRIVER_RUN_EVERY, 0 = off) the pass runs at once, so
// ACKs (receiver) and the data a large ACK lets out (sender) leave during the
// burst instead of after it: one ACK per 128 packets, not one per wake-up.
// (bench:transport loopback native 1200 B, same-hold alternating 0 vs 128, 6 vs 5
// runs: noise 1534 -> 2021 Mb/s median and no half-idle runs (0: two runs at
// ~0.45 CPU/wall per process, 861/906 Mb/s; 128: >= 0.80); plaintext unchanged.)
// Lent receive memory: an endpoint that copies what it keeps of a datagram
// (`copiesReceivedDatagrams`: the transport with copyReceivedData) over a socket
// whose onBatch() reads in place (`receivesInPlace`: the native socket's arena)
// gets every datagram as a view of the socket's receive memory, through onBatch —
// no ArrayBuffer allocated and no copy made per batch on the way in; the endpoint
// copies the bytes it keeps (stream data), may overwrite the rest (decrypt in
// place), and keeps no view once handleDatagram returns, before the socket's next
// receive rewrites that memory. Passes run inside the batch as before (what they
// send is copied into the socket's staging). A handler error does not cost the rest
// of the batch: the first is rethrown after it, as the copied path does.
// Receive time (batching only): the clock is read once per synchronous run of
// received datagrams — a native receive batch arrives in one JS call; the time is
// forgotten at the next microtask checkpoint and by every pass — not once per
// datagram (~55 ns each): the datagrams of one batch were all in the socket
// before it was read, so the batch's read time is their arrival time (no later
// than the moment each is handled). Without batching (virtual time) every
// datagram reads the clock.
import type { Clock, DatagramSocket, Millis, UdpAddress } from '../wire/socket.ts';
import { WakeupTimer } from './wakeup-timer.ts';
import { isBatchSocket, type DatagramBatch } from './batch.ts';

/** A clock on a real event loop: `defer(cb)` runs cb after the I/O callbacks of this turn (setImmediate). */
export interface DeferringClock extends Clock {
  defer(callback: () => void): void;
}

/** The clock's deferral, if it has one. */
export function deferOf(clock: Clock): ((callback: () => void) => void) | undefined {
  const d = (clock as Partial<DeferringClock>).defer;
  return typeof d === 'function' ? d.bind(clock) : undefined;
}

function envRunEvery(): number {
  const v = typeof process !== 'undefined' ? process.env.TINCAN_DRIVER_RUN_EVERY : undefined;
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isInteger(n) && n >= 0 ? n : 128;
}
/** Datagrams per mid-burst pass (TINCAN_DRIVER_RUN_EVERY overrides; 0 = off). */
export const DEFAULT_RUN_EVERY = envRunEvery();

export interface SansIoEndpoint {
  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void;
  handleTimeout(now: Millis): void;
  pollTransmit(now: Millis): { to: UdpAddress; bytes: Uint8Array } | undefined;
  pollTimeout(): Millis | undefined;
  /** Every transmitted buffer is fresh and never touched again by the endpoint (the socket may skip its copy). */
  readonly transmitsOwnedBuffers?: boolean;
  /** handleDatagram keeps no view of the bytes it is given (it copies what it keeps) and may overwrite them: the socket may lend its receive memory. */
  readonly copiesReceivedDatagrams?: boolean;
}

/** A socket that can take a buffer over without copying it (UdpSocket.sendOwned). */
interface OwningSocket { sendOwned(to: UdpAddress, bytes: Uint8Array): void }
/** A socket that stages sends until flush() (NativeUdpSocket; optional). */
interface FlushingSocket { flush(): void }

export class Driver {
  /** One timer at the endpoint's next wake-up; fires handleTimeout + a pass. */
  private readonly wakeup: WakeupTimer;
  private running = false;
  private again = false;
  private closed = false;
  /** Called after every input, before transmitting (drain events, feed the app). */
  afterInput: () => void = () => {};

  private scheduled = false;
  /** The socket, when transmits may be handed over without a copy. */
  private readonly sendOwned: OwningSocket | undefined;
  /** The socket, when it stages sends until flush(). */
  private readonly flushing: FlushingSocket | undefined;
  /** Deferral when batching (undefined: every input runs at once). */
  private readonly defer: ((callback: () => void) => void) | undefined;
  private readonly deferredRun = () => { if (this.scheduled && !this.closed) this.run(); };
  /** Datagrams handed to the endpoint since the last pass. */
  private sinceRun = 0;
  /** Run a pass at once after this many datagrams (batching only; 0: never mid-burst). */
  private readonly runEvery: number;
  /** Batching: the receive time of the current batch of datagrams (-1: read the clock). */
  private rxNow: Millis = -1;
  private readonly forgetRxNow = () => { this.rxNow = -1; };

  /** `batch` (default true) takes effect only with a clock that can defer (DeferringClock). */
  /** `runEvery`: see the header comment (default DEFAULT_RUN_EVERY). */
  constructor(readonly endpoint: SansIoEndpoint, readonly socket: DatagramSocket, readonly clock: Clock, opts: { batch?: boolean; runEvery?: number } = {}) {
    this.defer = opts.batch === false ? undefined : deferOf(clock);
    this.wakeup = new WakeupTimer(clock, () => {
      if (this.closed) return;
      this.endpoint.handleTimeout(this.clock.now());
      this.run();
    });
    this.runEvery = opts.runEvery ?? DEFAULT_RUN_EVERY;
    const so = socket as Partial<OwningSocket>;
    this.sendOwned = endpoint.transmitsOwnedBuffers && typeof so.sendOwned === 'function' ? (socket as unknown as OwningSocket) : undefined;
    this.flushing = typeof (socket as Partial<FlushingSocket>).flush === 'function' ? (socket as unknown as FlushingSocket) : undefined;
    this.lendsReceiveMemory = endpoint.copiesReceivedDatagrams === true && isBatchSocket(socket) && (socket as { receivesInPlace?: boolean }).receivesInPlace === true;
    if (this.lendsReceiveMemory) (socket as unknown as { onBatch(h: (b: DatagramBatch) => void): void }).onBatch(this.onBatch);
    else socket.onDatagram(this.onDatagram);
  }

  /** Datagrams arrive as views of the socket's receive memory, valid until the handler returns (see the header comment). */
  readonly lendsReceiveMemory: boolean;

  private readonly onDatagram = (from: UdpAddress, bytes: Uint8Array): void => {
    if (this.closed) return;
    this.endpoint.handleDatagram(this.receiveTime(), from, bytes);
    if (++this.sinceRun >= this.runEvery && this.runEvery > 0 && this.defer !== undefined && !this.running) this.run();
    else this.kick();
  };

  /** Lent receive memory: every segment of every run, in order, as a view of the batch. */
  private readonly onBatch = (batch: DatagramBatch): void => {
    const bytes = batch.bytes;
    let failed = false, failure: unknown;
    runs: for (let r = 0, runs = batch.runs; r < runs; r++) {
      const off = batch.offset(r), end = off + batch.length(r), from = batch.from(r);
      const seg = batch.segmentSize(r);
      for (let p = off; ;) {
        if (this.closed) break runs;
        const n = Math.min(seg, end - p);
        try {
          this.onDatagram(from, bytes.subarray(p, p + n));
        } catch (err) {
          if (!failed) { failed = true; failure = err; }
        }
        p += n;
        if (n <= 0 || p >= end) break; // an empty datagram is a run of length 0
      }
    }
    if (failed) throw failure;
  };

  /** The time a received datagram is handed over with (see the header comment). */
  private receiveTime(): Millis {
    if (this.defer === undefined) return this.clock.now();
    let t = this.rxNow;
    if (t < 0) {
      t = this.rxNow = this.clock.now();
      queueMicrotask(this.forgetRxNow);
    }
    return t;
  }

  /** Re-run after an application command (write, open, close...). */
  wake(): void { if (!this.closed) this.kick(); }

  /** Batching in effect (a deferring clock and not turned off). */
  get batching(): boolean { return this.defer !== undefined; }

  private kick(): void {
    if (this.defer === undefined) { this.run(); return; }
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(this.deferredRun);
  }

  private run(): void {
    this.scheduled = false;
    this.sinceRun = 0;
    this.rxNow = -1; // datagrams after this pass get a fresh time
    if (this.running) { this.again = true; return; }
    this.running = true;
    try {
      do {
        this.again = false;
        this.afterInput();
        const now = this.clock.now();
        const owned = this.sendOwned;
        for (let t = this.endpoint.pollTransmit(now); t; t = this.endpoint.pollTransmit(now)) {
          if (owned) owned.sendOwned(t.to, t.bytes); else this.socket.send(t.to, t.bytes);
        }
      } while (this.again);
      this.flushing?.flush();
      if (!this.closed) this.wakeup.arm(this.endpoint.pollTimeout());
    } finally { this.running = false; }
  }

  /** Run now what a batched wake-up would run later (e.g. before closing). */
  flush(): void { if (!this.closed && this.scheduled) this.run(); }

  /** Stop timers and the socket (after sending what is pending). */
  close(): void {
    this.flush();
    this.closed = true;
    this.wakeup.cancel();
    this.socket.close();
  }
}
