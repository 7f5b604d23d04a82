// The congestion-control policy interface (quinn-proto style). The connection
// calls `onSent` for every in-flight packet, `onAck` per newly acknowledged
// in-flight packet, `onCongestionEvent` once per loss signal, and never sends
// an ack-eliciting packet while bytesInFlight >= window().
import type { Millis } from '../../wire/socket.ts';
import type { RateSample } from '../delivery-rate.ts';

export interface CongestionController {
  onSent(now: Millis, bytes: number): void;
  onAck(now: Millis, sentTime: Millis, bytes: number, rttMs: number): void;
  /** A packet sent at `sentTime` was lost. `persistent`: persistent congestion (RFC 9002 §7.6). */
  onCongestionEvent(now: Millis, sentTime: Millis, persistent: boolean): void;
  /** New path MTU (bytes of UDP payload). */
  onMtuUpdate?(mtu: number): void;
  /** Congestion window, bytes. */
  window(): number;
  /** Model-based controllers: one delivery-rate sample per ACK (rttMs 0 when the ACK gave no RTT sample). */
  onRateSample?(now: Millis, sample: RateSample, rttMs: number, bytesInFlight: number): void;
  /** Bytes of in-flight packets just declared lost (every loss, not once per congestion event). */
  onPacketsLost?(now: Millis, lostBytes: number): void;
  /** Model-based controllers: the pacing rate in bytes per ms (default: 1.25 x window / smoothed RTT). */
  pacingRate?(smoothedRttMs: number): number;
  readonly name: string;
}

export type CongestionFactory = (mtu: number) => CongestionController;
