// Delivery-rate sampling (draft-cheng-iccrg-delivery-rate-estimation), the
// input of model-based congestion control (BBR). Every in-flight packet
// remembers how much had been delivered when it was sent; when it is
// acknowledged, bytes delivered since then over the longer of the send and
// ACK intervals is one bandwidth sample. Samples taken while the sender had
// nothing to send ("application-limited") are flagged: they underestimate
// the path. Units: bytes and milliseconds.
import type { Millis } from '../wire/socket.ts';

/** What a sent packet records for rate sampling. */
export interface RateStamp {
  delivered: number;
  deliveredTime: Millis;
  firstSentTime: Millis;
  appLimited: boolean;
}

export interface RateSample {
  /** Bytes delivered over the interval. */
  deliveredBytes: number;
  intervalMs: number;
  /** bytes per ms (0 when the interval is empty) */
  rate: number;
  appLimited: boolean;
  /** Total bytes delivered on the connection when the sampled packet was sent (round counting). */
  priorDelivered: number;
  /** Total bytes delivered so far. */
  totalDelivered: number;
  /** Bytes newly acknowledged by this ACK. */
  ackedBytes: number;
}

export class DeliveryRate {
  delivered = 0;
  private deliveredTime: Millis = 0;
  private firstSentTime: Millis = 0;
  /** delivered count after which samples are no longer app-limited (0: not app-limited) */
  private appLimitedUntil = 0;
  // per-ACK accumulation
  private priorDelivered = -1;
  private priorTime: Millis = 0;
  private sendElapsed = 0;
  private sampleAppLimited = false;
  private acked = 0;

  /** Stamp a packet about to be sent; `inFlightBefore` = bytes in flight before it. */
  onSent(now: Millis, inFlightBefore: number): RateStamp {
    if (inFlightBefore === 0) this.firstSentTime = this.deliveredTime = now;
    return { delivered: this.delivered, deliveredTime: this.deliveredTime, firstSentTime: this.firstSentTime, appLimited: this.appLimitedUntil > 0 };
  }

  /** One in-flight packet (sent at `timeSent`, `size` bytes) was acknowledged. */
  onPacketAcked(now: Millis, timeSent: Millis, size: number, s: RateStamp): void {
    this.delivered += size;
    this.deliveredTime = now;
    this.acked += size;
    if (s.delivered >= this.priorDelivered) {
      this.priorDelivered = s.delivered;
      this.priorTime = s.deliveredTime;
      this.sendElapsed = timeSent - s.firstSentTime;
      this.sampleAppLimited = s.appLimited;
      this.firstSentTime = timeSent;
    }
  }

  /** After all packets of one ACK: the sample, if any packet was acknowledged. */
  takeSample(): RateSample | undefined {
    if (this.priorDelivered < 0) return undefined;
    if (this.appLimitedUntil > 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    const deliveredBytes = this.delivered - this.priorDelivered;
    const intervalMs = Math.max(this.sendElapsed, this.deliveredTime - this.priorTime);
    const out: RateSample = {
      deliveredBytes, intervalMs, rate: intervalMs > 0 ? deliveredBytes / intervalMs : 0, appLimited: this.sampleAppLimited,
      priorDelivered: this.priorDelivered, totalDelivered: this.delivered, ackedBytes: this.acked,
    };
    this.priorDelivered = -1;
    this.acked = 0;
    return out;
  }

  /** The sender ran out of data (or flow-control credit) with room in the window. */
  onAppLimited(bytesInFlight: number): void {
    this.appLimitedUntil = Math.max(1, this.delivered + bytesInFlight);
  }
}
