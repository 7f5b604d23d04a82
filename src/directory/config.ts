// Tunables of a directory instance, with their defaults. Contract: every field
// has a safe production default; tests override cost and timing fields only.
import { DEFAULT_SCRYPT, type ScryptParams } from './password.ts';

export interface DirectoryConfig {
  /** scrypt cost for new password hashes (default ~100 ms). */
  scrypt: ScryptParams;
  /** Bearer token lifetime. */
  tokenTtlMs: number;
  /** How long an authenticated token is cached per instance (0: never). Revocations evict at once, across instances via the fan-out. */
  authCacheMs: number;
  /**
   * Longest life of a cached presence / contact-list answer (0: no cache). Writes
   * invalidate at once on this instance and its cluster workers; this only bounds
   * staleness on other instances if a Redis message is lost.
   */
  viewCacheMs: number;
  /** Presence not refreshed for this long reads as offline. */
  presenceTtlMs: number;
  /** A supernode without heartbeat for this long is dropped from lists. */
  supernodeTtlMs: number;
  /** Relay ticket lifetime. */
  ticketTtlMs: number;
  /** Rendezvous: both sides start punching this long after the request. */
  punchDelayMs: number;
  /** Login failures per account / per client address within the window before 429. */
  loginFailuresPerAccount: number;
  loginFailuresPerAddress: number;
  loginWindowMs: number;
  /** Account registrations (attempts, successful or not) per client address within registrationWindowMs before 429; 0: no limit. */
  registrationsPerAddress: number;
  registrationWindowMs: number;
  /**
   * Devices one user may register (POST /v1/devices beyond it: 409 device_limit); 0: no limit.
   * Devices are free otherwise, and each can hold relay sessions (and tickets) of its own.
   */
  maxDevicesPerUser: number;
  /** Largest accepted request body. */
  bodyLimitBytes: number;
  /** Value of the Server header. */
  serverName: string;
  /** Log one line per HTTP request (info level). */
  logRequests: boolean;
  /** Behind a load balancer: take the client address from X-Forwarded-For (per-address login limits). */
  trustProxy: boolean;
}

export const DEFAULT_CONFIG: DirectoryConfig = {
  scrypt: DEFAULT_SCRYPT,
  tokenTtlMs: 30 * 24 * 3600_000,
  authCacheMs: 10_000,
  viewCacheMs: 10_000,
  presenceTtlMs: 5 * 60_000,
  supernodeTtlMs: 30_000,
  ticketTtlMs: 5 * 60_000,
  punchDelayMs: 300,
  loginFailuresPerAccount: 5,
  loginFailuresPerAddress: 20,
  loginWindowMs: 15 * 60_000,
  registrationsPerAddress: 20,
  registrationWindowMs: 3600_000,
  maxDevicesPerUser: 16,
  bodyLimitBytes: 16 * 1024,
  serverName: 'tincan-directory/0.1',
  logRequests: true,
  trustProxy: false,
};
