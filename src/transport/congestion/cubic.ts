// CUBIC (RFC 9438): W_cubic(t) = C (t - K)^3 + W_max, beta 0.7, C 0.4 (in
// MSS and seconds), with the Reno-friendly estimate and fast convergence.
// Slow start as NewReno; one reduction per recovery period.
import type { Millis } from '../../wire/socket.ts';
import type { CongestionController } from './types.ts';

const C = 0.4, BETA = 0.7;

export class Cubic implements CongestionController {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = Infinity;
  private recoveryStart: Millis = -Infinity;
  private epochStart: Millis | undefined;
  private wMaxSeg = 0; // W_max in segments
  private k = 0; // seconds
  private wEstSeg = 0; // Reno-friendly estimate, segments
  private cwndEpochSeg = 0;

  constructor(private mtu: number, initialWindowPackets = 10) {
    this.cwnd = Math.max(initialWindowPackets * mtu, 2 * mtu);
  }
  onMtuUpdate(mtu: number): void { this.mtu = mtu; }
  onSent(): void {}
  onAck(now: Millis, sentTime: Millis, bytes: number, rttMs: number): void {
    if (sentTime <= this.recoveryStart) return;
    if (this.cwnd < this.ssthresh) { this.cwnd += bytes; return; }
    if (this.epochStart === undefined) {
      this.epochStart = now;
      this.cwndEpochSeg = this.cwnd / this.mtu;
      if (this.wMaxSeg < this.cwndEpochSeg) { this.wMaxSeg = this.cwndEpochSeg; this.k = 0; }
      else this.k = Math.cbrt((this.wMaxSeg - this.cwndEpochSeg) / C);
      this.wEstSeg = this.cwndEpochSeg;
    }
    const t = (now - this.epochStart + rttMs) / 1000;
    const target = C * (t - this.k) ** 3 + this.wMaxSeg;
    const seg = bytes / this.mtu;
    const cwndSeg = this.cwnd / this.mtu;
    this.wEstSeg += ((3 * (1 - BETA)) / (1 + BETA)) * (seg / cwndSeg);
    let next = cwndSeg;
    if (this.wEstSeg > target) next = this.wEstSeg;
    else if (target > cwndSeg) next = cwndSeg + ((Math.min(target, 1.5 * cwndSeg) - cwndSeg) / cwndSeg) * seg;
    this.cwnd = Math.max(next * this.mtu, this.cwnd);
  }
  onCongestionEvent(now: Millis, sentTime: Millis, persistent: boolean): void {
    if (persistent) { this.cwnd = 2 * this.mtu; this.recoveryStart = now; this.epochStart = undefined; return; }
    if (sentTime <= this.recoveryStart) return;
    this.recoveryStart = now;
    const cwndSeg = this.cwnd / this.mtu;
    this.wMaxSeg = cwndSeg < this.wMaxSeg ? (cwndSeg * (1 + BETA)) / 2 : cwndSeg; // fast convergence
    this.cwnd = Math.max(this.cwnd * BETA, 2 * this.mtu);
    this.ssthresh = this.cwnd;
    this.epochStart = undefined;
  }
  window(): number { return this.cwnd; }
}
