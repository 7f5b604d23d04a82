// NewReno as RFC 9002 §7: slow start, congestion avoidance (one MSS per
// window), halving on loss once per recovery period, collapse to the minimum
// window on persistent congestion.
import type { Millis } from '../../wire/socket.ts';
import type { CongestionController } from './types.ts';

export class NewReno implements CongestionController {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = Infinity;
  private recoveryStart: Millis = -Infinity;
  private acked = 0;

  constructor(private mtu: number, initialWindowPackets = 10) {
    this.cwnd = Math.max(initialWindowPackets * mtu, 2 * mtu);
  }
  private get minWindow(): number { return 2 * this.mtu; }
  onMtuUpdate(mtu: number): void { this.mtu = mtu; }
  onSent(): void {}
  onAck(_now: Millis, sentTime: Millis, bytes: number): void {
    if (sentTime <= this.recoveryStart) return;
    if (this.cwnd < this.ssthresh) { this.cwnd += bytes; return; }
    this.acked += bytes;
    if (this.acked >= this.cwnd) { this.acked -= this.cwnd; this.cwnd += this.mtu; }
  }
  onCongestionEvent(now: Millis, sentTime: Millis, persistent: boolean): void {
    if (persistent) { this.cwnd = this.minWindow; this.recoveryStart = now; return; }
    if (sentTime <= this.recoveryStart) return;
    this.recoveryStart = now;
    this.ssthresh = Math.max(this.cwnd / 2, this.minWindow);
    this.cwnd = this.ssthresh;
    this.acked = 0;
  }
  window(): number { return this.cwnd; }
}
