// When a supernode's socket should busy-poll, sans-IO: the relay's hop costs wake-ups — each
// burst a sender flushes to a sleeping relay wakes it (an IPI, a context switch; measured on
// loopback as the sender's largest extra cost per relayed datagram), and the relay's forward
// wakes the next hop — so while a bulk flow passes, the socket keeps reading for `spinUs`
// after its last datagram instead of sleeping (src/datagram/native: busy polling, an empty
// poll yields the core to any other runnable task). Spinning costs CPU, so it is on only
// while the relay forwards a lot: the rate is measured over windows of `windowMs` (ended by
// the first batch after the window, no timer) and spinning turns on at >= `onAbove`
// datagrams/s and off below `offBelow` (hysteresis). A relay that goes idle stops spinning by
// itself (no datagram for spinUs); the batch after the gap closes a window with a low rate.
// Contract: note(now, datagrams) per received batch -> the busy polling to use from now on
// (0 = off, else spinUs); a change is for the caller to apply (socket.setBusyPoll).
import type { Millis } from '../wire/socket.ts';

export interface BusyPollPolicyOptions {
  /** Microseconds without a datagram before a spinning socket sleeps (1..1000), default 200. */
  readonly spinUs?: number;
  /** Spin from this many received datagrams/s, default 50,000 (60 MB/s of 1,200-byte datagrams). */
  readonly onAbove?: number;
  /** Stop spinning below this many datagrams/s, default onAbove / 2. */
  readonly offBelow?: number;
  /** Rate window, default 20 ms. */
  readonly windowMs?: Millis;
}

export class BusyPollPolicy {
  readonly spinUs: number;
  private readonly onAbove: number;
  private readonly offBelow: number;
  private readonly windowMs: Millis;
  private windowStart: Millis | undefined;
  private count = 0;
  private spinning = false;
  /** Times spinning was turned on (monitoring, tests). */
  turnedOn = 0;

  constructor(o: BusyPollPolicyOptions = {}) {
    this.spinUs = Math.min(1000, Math.max(1, Math.round(o.spinUs ?? 200)));
    this.onAbove = o.onAbove ?? 50_000;
    this.offBelow = o.offBelow ?? this.onAbove / 2;
    this.windowMs = o.windowMs ?? 20;
    if (!(this.onAbove > 0) || !(this.offBelow >= 0) || this.offBelow > this.onAbove || !(this.windowMs > 0)) throw new RangeError('BusyPollPolicy: need onAbove > 0, 0 <= offBelow <= onAbove, windowMs > 0');
  }

  /** Whether the socket should be spinning now. */
  get on(): boolean { return this.spinning; }

  /** A batch of `datagrams` received at `now`: the busy polling to use (0 or spinUs). */
  note(now: Millis, datagrams: number): number {
    if (this.windowStart === undefined) this.windowStart = now;
    const elapsed = now - this.windowStart;
    if (elapsed >= this.windowMs) {
      // the window closes before this batch: its rate decides
      const rate = (this.count * 1000) / elapsed;
      if (!this.spinning && rate >= this.onAbove) { this.spinning = true; this.turnedOn++; }
      else if (this.spinning && rate < this.offBelow) this.spinning = false;
      this.windowStart = now;
      this.count = 0;
    }
    this.count += datagrams;
    return this.spinning ? this.spinUs : 0;
  }
}
