// DPLPMTUD (RFC 8899 style) search for the largest UDP payload the path
// carries: start at the initial size (1200), probe the upper bound first
// (loopback often allows it), then binary-search. A probe is a PING padded to
// the probed size; two losses of one size lower the upper bound below it.
// Search done when the bounds are within 32 bytes; re-search after 10 minutes.
import type { Millis } from '../wire/socket.ts';

export class MtuDiscovery {
  current: number;
  private lo: number;
  private hi: number;
  private inFlight: number | undefined;
  private failures = new Map<number, number>();
  private doneAt: Millis | undefined;

  constructor(initial: number, private readonly max: number) {
    this.current = initial;
    this.lo = initial;
    this.hi = Math.max(initial, max);
  }

  wantsProbe(): boolean { return this.inFlight === undefined && this.hi - this.lo >= 32; }

  /** Size of the next probe to send now, if any (marks it in flight). */
  nextProbe(now: Millis, _rttMs: number): number | undefined {
    if (this.doneAt !== undefined && now - this.doneAt > 600_000) { this.hi = this.max; this.doneAt = undefined; }
    if (!this.wantsProbe()) { if (this.doneAt === undefined && this.inFlight === undefined) this.doneAt = now; return undefined; }
    const size = this.failures.size === 0 ? this.hi : Math.floor((this.lo + this.hi) / 2);
    this.inFlight = size;
    return size;
  }

  /** Returns true when the current MTU grew. */
  onProbeAcked(size: number): boolean {
    if (this.inFlight === size) this.inFlight = undefined;
    if (size <= this.current) return false;
    this.current = this.lo = size;
    return true;
  }

  onProbeLost(size: number): void {
    if (this.inFlight === size) this.inFlight = undefined;
    const n = (this.failures.get(size) ?? 0) + 1;
    this.failures.set(size, n);
    if (n >= 2) this.hi = Math.min(this.hi, size - 1);
  }
}
