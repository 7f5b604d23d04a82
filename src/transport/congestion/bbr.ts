// BBR (v1 style, Cardwell et al. 2016; draft-cardwell-iccrg-bbr-congestion-control):
// a model of the path — bottleneck bandwidth (windowed max of delivery-rate
// samples over 10 round trips) and round-trip propagation time (min RTT over
// 10 s) — sets the pacing rate (gain x bandwidth) and the window (gain x BDP).
// Random loss is not read as congestion, so throughput holds on lossy paths;
// queues stay short because in-flight data is capped near 2 x BDP.
// States: startup (gain 2.885) until bandwidth stops growing 25% for 3
// rounds or a loss coincides with queueing delay (RTT > 1.5 x min), drain (1/2.885) until in flight <= BDP, then probe_bw cycling
// pacing gains [1.25, 0.75, 1 x 6], one min RTT each. No probe_rtt state:
// the min-RTT estimate simply expires after 10 s. The window also covers ACK
// aggregation (bytes acknowledged faster than the bandwidth explains, windowed
// max over 10 rounds), as BBR's extra_acked. Persistent congestion
// (RFC 9002 §7.6) collapses the window to the minimum.
import type { Millis } from '../../wire/socket.ts';
import type { RateSample } from '../delivery-rate.ts';
import type { CongestionController } from './types.ts';

const STARTUP_GAIN = 2.885;
const CYCLE = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
const BW_WINDOW_ROUNDS = 10;
const MIN_RTT_WINDOW_MS = 10_000;
const BW_WINDOW_MIN_MS = 200;

type State = 'startup' | 'drain' | 'probe_bw';

export class Bbr implements CongestionController {
  readonly name = 'bbr';
  state: State = 'startup';
  cwnd: number;
  /** max filter: [round, bytes per ms] */
  private bwSamples: { round: number; at: Millis; bw: number }[] = [];
  btlBw = 0;
  minRttMs = Infinity;
  private minRttStamp: Millis = 0;
  private round = 0;
  private nextRoundDelivered = 0;
  private fullBw = 0;
  private fullBwCount = 0;
  private filledPipe = false;
  private pacingGain = STARTUP_GAIN;
  private cwndGain = STARTUP_GAIN;
  private cycleIndex = 0;
  private cycleStamp: Millis = 0;
  private lastRttMs = 0;
  // ACK aggregation (BBR's extra_acked): data acknowledged beyond what btlBw explains,
  // windowed max over 10 rounds; added to the window so bursty ACKs do not starve it
  private aggEpochStart: Millis = 0;
  private aggEpochAcked = 0;
  private extraAcked: { round: number; bytes: number }[] = [];

  constructor(private mtu: number, private readonly initialWindowPackets = 10) {
    this.cwnd = initialWindowPackets * mtu;
  }

  private get minCwnd(): number { return 4 * this.mtu; }

  onMtuUpdate(mtu: number): void { this.mtu = mtu; }
  onSent(): void {}
  onAck(): void {}
  onCongestionEvent(_now: Millis, _sentTime: Millis, persistent: boolean): void {
    if (persistent) this.cwnd = this.minCwnd;
  }

  /** Startup ends early on loss *with* queueing delay (the queue overflowed); random loss alone does not end it. */
  onPacketsLost(): void {
    if (this.state === 'startup' && this.btlBw > 0 && this.lastRttMs > 1.5 * this.minRttMs) this.filledPipe = true;
  }

  onRateSample(now: Millis, s: RateSample, rttMs: number, bytesInFlight: number): void {
    // round trips, counted in delivered data
    let roundStart = false;
    if (s.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = s.totalDelivered;
      this.round++;
      roundStart = true;
    }
    // bottleneck bandwidth: windowed max
    if (s.rate > 0 && (!s.appLimited || s.rate >= this.btlBw)) {
      while (this.bwSamples.length && this.bwSamples[this.bwSamples.length - 1].bw <= s.rate) this.bwSamples.pop();
      this.bwSamples.push({ round: this.round, at: now, bw: s.rate });
    }
    // expire after 10 rounds, but never sooner than BW_WINDOW_MIN_MS: on sub-millisecond paths
    // (loopback) ten rounds pass during one scheduling hiccup and the estimate would collapse
    while (this.bwSamples.length && this.bwSamples[0].round + BW_WINDOW_ROUNDS <= this.round && now - this.bwSamples[0].at > BW_WINDOW_MIN_MS) this.bwSamples.shift();
    this.btlBw = this.bwSamples[0]?.bw ?? this.btlBw;
    // propagation delay: min filter that expires
    if (rttMs > 0) {
      this.lastRttMs = rttMs;
      if (rttMs <= this.minRttMs || now - this.minRttStamp > MIN_RTT_WINDOW_MS) { this.minRttMs = rttMs; this.minRttStamp = now; }
    }
    // startup: is the pipe full?
    if (!this.filledPipe && roundStart && !s.appLimited) {
      if (this.btlBw >= this.fullBw * 1.25) { this.fullBw = this.btlBw; this.fullBwCount = 0; }
      else if (++this.fullBwCount >= 3) this.filledPipe = true;
    }
    if (this.state === 'startup' && this.filledPipe) { this.state = 'drain'; this.pacingGain = 1 / STARTUP_GAIN; this.cwndGain = STARTUP_GAIN; }
    if (this.state === 'drain' && bytesInFlight <= this.bdp(1)) this.enterProbeBw(now);
    if (this.state === 'probe_bw' && now - this.cycleStamp > this.minRttMs) {
      this.cycleIndex = (this.cycleIndex + 1) % CYCLE.length;
      this.cycleStamp = now;
      this.pacingGain = CYCLE[this.cycleIndex];
    }
    // ACK aggregation
    const expected = this.btlBw * (now - this.aggEpochStart);
    if (this.aggEpochAcked + s.ackedBytes <= expected || this.aggEpochStart === 0) { this.aggEpochStart = now; this.aggEpochAcked = 0; }
    this.aggEpochAcked += s.ackedBytes;
    const extra = Math.min(Math.max(0, this.aggEpochAcked - expected), this.cwnd);
    while (this.extraAcked.length && this.extraAcked[this.extraAcked.length - 1].bytes <= extra) this.extraAcked.pop();
    this.extraAcked.push({ round: this.round, bytes: extra });
    while (this.extraAcked[0].round + BW_WINDOW_ROUNDS <= this.round) this.extraAcked.shift();
    // window
    const target = this.bdp(this.cwndGain) + (this.filledPipe ? this.extraAcked[0].bytes : 0) + 3 * this.mtu;
    if (this.filledPipe) this.cwnd = Math.min(this.cwnd + s.ackedBytes, target);
    else if (this.cwnd < target || s.totalDelivered < this.initialWindowPackets * this.mtu) this.cwnd += s.ackedBytes;
    this.cwnd = Math.max(this.cwnd, this.minCwnd);
  }

  private enterProbeBw(now: Millis): void {
    this.state = 'probe_bw';
    this.cwndGain = 2;
    this.cycleIndex = 2; // start in a cruising phase
    this.pacingGain = 1;
    this.cycleStamp = now;
  }

  /** gain x estimated bandwidth-delay product (bytes); before any sample, the initial window. */
  private bdp(gain: number): number {
    if (this.btlBw === 0 || this.minRttMs === Infinity) return this.initialWindowPackets * this.mtu;
    return gain * this.btlBw * this.minRttMs;
  }

  window(): number { return this.cwnd; }

  /**
   * Pacing rate, bytes per ms: pacing gain x bottleneck bandwidth. Until the pipe
   * is full it never decreases and is at least startup gain x initial window / RTT
   * (Linux BBR's bbr_init_pacing_rate / bbr_set_pacing_rate): the first delivery-rate
   * samples (the handshake, a first flight held back by the 1-RTT key wait) are far
   * below the path's rate, and pacing at 2.885x those throttled startup to
   * ~1 packet per 20 ms at first and cost ~4 round trips of ramp-up.
   */
  pacingRate(smoothedRttMs: number): number {
    const rttMs = Math.max(this.minRttMs === Infinity ? smoothedRttMs : this.minRttMs, 0.001);
    if (this.filledPipe) return this.btlBw === 0 ? (this.pacingGain * this.cwnd) / rttMs : this.pacingGain * this.btlBw;
    const floor = (STARTUP_GAIN * this.initialWindowPackets * this.mtu) / rttMs;
    this.startupRate = Math.max(this.startupRate, floor, this.pacingGain * this.btlBw);
    return this.startupRate;
  }
  private startupRate = 0;

  get lastRtt(): number { return this.lastRttMs; }
}
