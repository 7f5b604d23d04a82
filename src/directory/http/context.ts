// Everything a route handler needs, injected once per app (no globals).
import type { DirectoryStore } from '../store/store.ts';
import type { Fanout } from '../push/fanout.ts';
import type { PushHub } from '../push/hub.ts';
import type { SigningKey } from '../signing-key.ts';
import type { DirectoryConfig } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { FailureCounter } from '../rate-limit.ts';
import type { AuthCache } from '../auth-cache.ts';
import type { ViewCache } from '../view-cache.ts';

export interface AppContext {
  store: DirectoryStore;
  fanout: Fanout;
  hub: PushHub;
  key: SigningKey;
  config: DirectoryConfig;
  metrics: Metrics;
  /** Login failures per account / per client address (shared via Redis when configured). */
  accountLimiter: FailureCounter;
  addressLimiter: FailureCounter;
  /** Registration attempts per client address. */
  registrationLimiter: FailureCounter;
  authCache: AuthCache;
  /** Serialized presence / contact-list answers, invalidated by every write that changes them. */
  views: ViewCache;
  /** Wall clock, Unix ms (injectable for tests). */
  now(): number;
  /** Sends one STUN Binding indication from the directory's STUN endpoint (set when this instance serves STUN). */
  nudge?: (to: { address: string; port: number }) => void;
}
