// Failure counters for login rate limiting. Contract: a key (account or
// client address) is blocked once it has `max` failures inside the window;
// retryAfterMs says how long until it may try again.
// - FailureLimiter: in memory, one instance; sliding window. Bounded: at most
//   `maxKeys` keys (oldest evicted first) and `max` stamps per key.
// - RedisFailureCounter: shared by every instance on one Redis; fixed window
//   that starts at the first failure (INCR + PEXPIRE NX).
import type { Redis } from 'ioredis';

export interface FailureCounter {
  retryAfterMs(key: string, now: number): Promise<number>;
  recordFailure(key: string, now: number): Promise<void>;
  clear(key: string): Promise<void>;
}

export class RedisFailureCounter implements FailureCounter {
  constructor(private readonly redis: Redis, private readonly max: number, private readonly windowMs: number, private readonly prefix: string) {}

  async retryAfterMs(key: string): Promise<number> {
    const k = this.prefix + key;
    const [count, ttl] = await Promise.all([this.redis.get(k), this.redis.pttl(k)]);
    return Number(count ?? 0) >= this.max ? Math.max(ttl, 1) : 0;
  }

  async recordFailure(key: string): Promise<void> {
    const k = this.prefix + key;
    await this.redis.multi().incr(k).pexpire(k, this.windowMs, 'NX').exec();
  }

  async clear(key: string): Promise<void> { await this.redis.del(this.prefix + key); }
}

/** Adapts the in-memory limiter to the FailureCounter interface. */
export function memoryCounter(l: FailureLimiter): FailureCounter {
  return {
    retryAfterMs: async (key, now) => l.retryAfterMs(key, now),
    recordFailure: async (key, now) => l.recordFailure(key, now),
    clear: async (key) => l.clear(key),
  };
}

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
