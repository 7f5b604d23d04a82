// The one driver: runs any sans-IO endpoint over a DatagramSocket and a Clock
// (real: node:dgram + performance.now/setTimeout; simulated: the simulator's
// sockets and virtual clock). Contract: every input (datagram, timer, wake())
// is followed by `afterInput` (the API drains events there), then every
// pending datagram is sent and one timer is armed at the endpoint's next
// wake-up. Re-entrant calls (wake() from inside afterInput) are folded in.
// Option `batch` (real sockets): datagrams are handed to the endpoint as they
// arrive, but the rest (afterInput, transmit, timer) runs once per event-loop
// turn (setImmediate), so a burst of received datagrams costs one pass —
// fewer ACK packets, fewer timer re-arms. Never with the simulator's virtual
// clock (it has no event loop turns).
import type { Clock, DatagramSocket, Millis, TimerHandle, UdpAddress } from '../wire/socket.ts';

export interface SansIoEndpoint {
  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void;
  handleTimeout(now: Millis): void;
  pollTransmit(now: Millis): { to: UdpAddress; bytes: Uint8Array } | undefined;
  pollTimeout(): Millis | undefined;
}

export class Driver {
  private timer: TimerHandle | undefined;
  private timerAt: Millis | undefined;
  private running = false;
  private again = false;
  private closed = false;
  /** Called after every input, before transmitting (drain events, feed the app). */
  afterInput: () => void = () => {};

  private scheduled = false;

  constructor(readonly endpoint: SansIoEndpoint, readonly socket: DatagramSocket, readonly clock: Clock, private readonly opts: { batch?: boolean } = {}) {
    socket.onDatagram((from, bytes) => {
      if (this.closed) return;
      this.endpoint.handleDatagram(this.clock.now(), from, bytes);
      this.kick();
    });
  }

  /** Re-run after an application command (write, open, close...). */
  wake(): void { if (!this.closed) this.kick(); }

  private kick(): void {
    if (!this.opts.batch) { this.run(); return; }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => { if (this.scheduled && !this.closed) this.run(); });
  }

  private run(): void {
    this.scheduled = false;
    if (this.running) { this.again = true; return; }
    this.running = true;
    try {
      do {
        this.again = false;
        this.afterInput();
        const now = this.clock.now();
        for (let t = this.endpoint.pollTransmit(now); t; t = this.endpoint.pollTransmit(now)) this.socket.send(t.to, t.bytes);
      } while (this.again);
      this.arm(this.endpoint.pollTimeout());
    } finally { this.running = false; }
  }

  private arm(at: Millis | undefined): void {
    if (at === this.timerAt || this.closed) return;
    // an armed earlier timer is kept: it fires, the endpoint has nothing due, and we re-arm then
    if (at !== undefined && this.timerAt !== undefined && this.timerAt <= at && this.timerAt > this.clock.now()) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = this.clock.setTimer(at, () => {
      this.timer = undefined;
      this.timerAt = undefined;
      if (this.closed) return;
      this.endpoint.handleTimeout(this.clock.now());
      this.run();
    });
  }

  /** Run now what a batched wake-up would run later (e.g. before closing). */
  flush(): void { if (!this.closed && this.scheduled) this.run(); }

  /** Stop timers and the socket (after sending what is pending). */
  close(): void {
    this.flush();
    this.closed = true;
    this.timer?.cancel();
    this.socket.close();
  }
}
