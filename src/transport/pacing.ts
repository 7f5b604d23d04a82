// Token-bucket pacer: spreads a congestion window over one smoothed RTT at
// 1.25x the window rate (or at the congestion controller's own rate), with a burst of at most `burstPackets` packets.
// `delayUntil(now, bytes)` returns undefined when a packet may go now, or the
// time when enough tokens will have accumulated. The bucket also holds at
// least `granularityMs` worth of sending, so that a driver whose timers fire
// at 1 ms granularity still reaches the full rate. A pacing timer that fires
// late (a loaded machine, setTimeout's 1 ms floor) does not lose the sending
// time it overslept: `onLateTimer` lets the next refill keep that much more,
// bounded by one RTT of sending (a burst no larger than what an ACK-clocked
// window releases). Virtual-time drivers fire timers on time: no change there.
import type { Millis } from '../wire/socket.ts';

export class Pacer {
  private tokens: number;
  private last: Millis | undefined;
  /** ms the last pacing timer fired late, credited at the next refill */
  private lateMs = 0;
  constructor(private burstBytes: number, private readonly granularityMs = 2) { this.tokens = burstBytes; }

  private refill(now: Millis, windowBytes: number, rttMs: number, rateOverride?: number): number {
    const rate = rateOverride ?? (1.25 * windowBytes) / Math.max(rttMs, 0.001); // bytes per ms
    const cap = Math.max(this.burstBytes, rate * (this.granularityMs + this.lateMs));
    if (this.last !== undefined && now > this.last) this.tokens = Math.min(cap, this.tokens + rate * (now - this.last));
    this.last = now;
    this.lateMs = 0;
    return rate;
  }
  /** The pacing timer fired `lateMs` after its deadline: keep the tokens of that time too (at most `rttMs`). */
  onLateTimer(lateMs: number, rttMs: number): void { this.lateMs = Math.max(0, Math.min(lateMs, rttMs)); }
  setBurst(bytes: number): void { this.burstBytes = bytes; this.tokens = Math.min(this.tokens, bytes); }

  /** `rate` (bytes per ms) overrides the window-derived rate (model-based congestion control). */
  delayUntil(now: Millis, bytes: number, windowBytes: number, rttMs: number, rate?: number): Millis | undefined {
    rate = this.refill(now, windowBytes, rttMs, rate);
    if (this.tokens + 0.5 >= bytes || this.tokens + 0.5 >= this.burstBytes) return undefined;
    return now + (bytes - this.tokens) / rate;
  }
  onSent(bytes: number): void { this.tokens = Math.max(0, this.tokens - bytes); }
}
