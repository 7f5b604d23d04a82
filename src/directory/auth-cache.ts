// Cache of authenticated bearer tokens (token hash -> user), per instance.
// Contract: an entry lives at most `ttlMs` and never past the token's expiry;
// logout and password change evict at once on this instance, and the fan-out
// carries the eviction to every other instance (see push/fanout.ts
// 'control' messages), so a revoked token stops working everywhere within
// the fan-out latency (and at worst after ttlMs if Redis is down).
// Bounded: at most maxEntries, oldest evicted first.
import type { AuthUser } from './http/route.ts';

interface Entry { user: AuthUser; until: number }

export class AuthCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 100_000) {}

  get(tokenHash: string, now: number): AuthUser | undefined {
    const e = this.entries.get(tokenHash);
    if (!e) return undefined;
    if (now >= e.until) { this.entries.delete(tokenHash); return undefined; }
    return e.user;
  }

  set(user: AuthUser, tokenExpiresAt: number, now: number): void {
    if (this.ttlMs <= 0) return;
    this.entries.set(user.tokenHash, { user, until: Math.min(now + this.ttlMs, tokenExpiresAt) });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  evictToken(tokenHash: string): void { this.entries.delete(tokenHash); }

  /** Evicts every token of `userId` except `keepTokenHash`. */
  evictUser(userId: string, keepTokenHash?: string): void {
    for (const [k, e] of this.entries) if (e.user.userId === userId && k !== keepTokenHash) this.entries.delete(k);
  }
}
