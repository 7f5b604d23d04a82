// Token bucket for byte-rate limits, sans-IO: refills continuously at ratePerSec up
// to burst, and tryTake(now, n) either takes n tokens or takes nothing.
import type { Millis } from '../wire/socket.ts';

export class TokenBucket {
  private tokens: number;
  private last: Millis;

  constructor(readonly ratePerSec: number, readonly burst: number, now: Millis) {
    if (!(ratePerSec > 0) || !(burst > 0)) throw new RangeError('TokenBucket: rate and burst must be > 0');
    this.tokens = burst;
    this.last = now;
  }

  tryTake(now: Millis, n: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
    }
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}
