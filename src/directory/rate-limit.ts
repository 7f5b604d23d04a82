// Failure counter for login rate limiting (in memory, per directory instance).
// Contract: a key (account or client address) is blocked once it has `max`
// failures inside the last `windowMs`; retryAfterMs tells how long until the
// oldest counted failure leaves the window. Memory is bounded: at most
// `maxKeys` keys are tracked (oldest evicted first) and `max` stamps per key.
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly max: number, private readonly windowMs: number, private readonly maxKeys = 100_000) {}

  /** 0 if `key` may try now, else milliseconds until it may. */
  retryAfterMs(key: string, now: number): number {
    const stamps = this.live(key, now);
    if (!stamps || stamps.length < this.max) return 0;
    return stamps[stamps.length - this.max] + this.windowMs - now;
  }

  recordFailure(key: string, now: number): void {
    const stamps = this.live(key, now) ?? [];
    stamps.push(now);
    if (stamps.length > this.max) stamps.splice(0, stamps.length - this.max);
    this.failures.delete(key);
    this.failures.set(key, stamps);
    if (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
  }

  clear(key: string): void { this.failures.delete(key); }

  private live(key: string, now: number): number[] | undefined {
    const stamps = this.failures.get(key);
    if (!stamps) return undefined;
    while (stamps.length && stamps[0] <= now - this.windowMs) stamps.shift();
    if (!stamps.length) { this.failures.delete(key); return undefined; }
    return stamps;
  }
}
