// RTT estimation as RFC 9002 §5: latest, smoothed, variance, minimum; and the
// probe timeout base (smoothed + max(4*var, granularity)). Units: milliseconds.
export const INITIAL_RTT_MS = 333;
export const GRANULARITY_MS = 1;

export class RttEstimator {
  latestMs = 0;
  smoothedMs: number;
  varMs: number;
  minMs = Infinity;
  hasSample = false;

  constructor(initialRttMs = INITIAL_RTT_MS) {
    this.smoothedMs = initialRttMs;
    this.varMs = initialRttMs / 2;
  }

  /** One RTT sample; `ackDelayMs` is the peer-reported delay, already capped by the caller. */
  update(latestMs: number, ackDelayMs: number): void {
    this.latestMs = latestMs;
    this.minMs = Math.min(this.minMs, latestMs);
    if (!this.hasSample) {
      this.hasSample = true;
      this.smoothedMs = latestMs;
      this.varMs = latestMs / 2;
      return;
    }
    let adjusted = latestMs;
    if (latestMs >= this.minMs + ackDelayMs) adjusted = latestMs - ackDelayMs;
    this.varMs = 0.75 * this.varMs + 0.25 * Math.abs(this.smoothedMs - adjusted);
    this.smoothedMs = 0.875 * this.smoothedMs + 0.125 * adjusted;
  }

  /** PTO without the max_ack_delay term and without backoff. */
  ptoBaseMs(): number {
    return this.smoothedMs + Math.max(4 * this.varMs, GRANULARITY_MS);
  }

  /** Loss-detection time threshold: 9/8 x max(smoothed, latest), at least 1 ms. */
  lossDelayMs(): number {
    return Math.max((9 / 8) * Math.max(this.smoothedMs, this.latestMs), GRANULARITY_MS);
  }
}
