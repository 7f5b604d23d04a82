// The supernode's relay forwarder, sans-IO (docs/protocol/relay.md).
//
// Contract:
//   const r = new RelayForwarder(config, now)     // `now` is Unix time in ms (tickets expire in it)
//   r.handleDatagram(now, from, bytes)            // every datagram that reached the relay socket
//   r.handleTimeout(now) at r.pollTimeout()       // expiry/idle sweep
//   drain r.pollTransmit() -> { to, bytes }       // what to send; r.counters() for monitoring
//
// A session is keyed by the two device ids of a directory-issued ticket. Each device
// BINDs with the ticket; its source address (as seen by the relay) becomes its side's
// endpoint. DATA from one bound endpoint is forwarded unchanged — the relay never looks
// past the 10-byte header, the payload is an end-to-end encrypted transport packet — to
// the other side's endpoint, and nowhere else. Everything else is refused: no or bad
// ticket, expired ticket, a device not named in the ticket, sources in loopback/private/
// special ranges (no reply is sent to them at all), unknown sessions, unbound senders.
// Limits: sessions in total and per device, bytes/s per sending device and in total
// (token buckets: excess is dropped), and a bounded transmit queue that drops the
// oldest datagram when full. Refusals to public sources get a short ERROR that is never
// larger than the request (no amplification).
import type { Millis, UdpAddress } from '../wire/socket.ts';
import { sameAddress } from '../wire/socket.ts';
import { specialRange } from './ip-ranges.ts';
import { decodeRelayMessage, encodeRelayMessage, peekDataSessionId, RelayDecodeError, RelayErrorCode, DATA_HEADER_BYTES, ERROR_HEADER_BYTES } from './relay-wire.ts';
import { TokenBucket } from './token-bucket.ts';

export interface TicketClaims {
  readonly deviceA: string;
  readonly deviceB: string;
  /** Unix time in ms. */
  readonly expiresAt: Millis;
}

export type TicketVerdict =
  | { readonly ok: true; readonly claims: TicketClaims }
  | { readonly ok: false; readonly expired?: boolean; readonly error: string };

/** Verifies a directory-issued ticket (src/wire/ticket.ts: Ed25519 over device ids + expiry). */
export interface TicketVerifier {
  verify(ticket: Uint8Array, now: Millis): TicketVerdict;
}

export interface RelayConfig {
  readonly verifier: TicketVerifier;
  /** Fresh 64-bit session id (random in production). */
  readonly newSessionId: () => bigint;
  /** Accept peers on loopback (benchmarks and loopback tests only). Default false. */
  readonly allowLoopback?: boolean;
  /** Accept peers in private/shared ranges (a relay on a LAN). Default false. */
  readonly allowPrivate?: boolean;
  readonly maxSessions?: number; // default 10_000
  readonly maxSessionsPerDevice?: number; // default 8
  readonly deviceBytesPerSec?: number; // default 2_000_000
  readonly deviceBurstBytes?: number; // default 256 KiB
  readonly totalBytesPerSec?: number; // default 100_000_000
  readonly totalBurstBytes?: number; // default 4 MiB
  readonly maxQueuePackets?: number; // default 1024
  readonly maxPayloadBytes?: number; // default 65507 - 10
  readonly idleTimeoutMs?: Millis; // default 60_000
  /**
   * A side may move to a new endpoint (NAT rebinding, the device changed networks) only after
   * this much silence of its bound endpoint (a device has one live endpoint; this keeps two live
   * ones from flapping). Default 1000 (was 5000: a moved device waited that long for its relay).
   */
  readonly rebindAfterIdleMs?: Millis;
  readonly sweepIntervalMs?: Millis; // default 1000
}

export type RefusalReason = keyof typeof RelayErrorCode;

export interface RelayCounters {
  sessionsActive: number;
  sessionsCreated: number;
  sessionsExpired: number;
  bindsAccepted: number;
  forwardedPackets: number;
  forwardedBytes: number;
  refused: Partial<Record<RefusalReason, number>>;
  dropped: { rateLimited: number; queueOverflow: number; peerNotBound: number; oversize: number; unexpectedType: number };
}

interface Binding {
  endpoint: UdpAddress;
  lastSeen: Millis;
  /** Request id of the side's last accepted BIND (echoed in BIND-OKs to it). */
  requestId: number;
}

interface Session {
  readonly id: bigint;
  readonly key: string;
  readonly devices: readonly [string, string];
  readonly sides: [Binding | undefined, Binding | undefined];
  expiresAt: Millis;
  lastActivity: Millis;
}

export interface RelayTransmit {
  readonly to: UdpAddress;
  readonly bytes: Uint8Array;
}

export class RelayForwarder {
  private readonly c: Required<Omit<RelayConfig, 'verifier' | 'newSessionId'>>;
  private readonly byId = new Map<bigint, Session>();
  private readonly byKey = new Map<string, Session>();
  private readonly deviceSessions = new Map<string, number>();
  private readonly deviceBuckets = new Map<string, TokenBucket>();
  private readonly totalBucket: TokenBucket;
  private readonly ring: (RelayTransmit | undefined)[];
  private head = 0;
  private queued = 0;
  private nextSweepAt: Millis;
  private readonly stats: RelayCounters = {
    sessionsActive: 0, sessionsCreated: 0, sessionsExpired: 0, bindsAccepted: 0, forwardedPackets: 0, forwardedBytes: 0, refused: {},
    dropped: { rateLimited: 0, queueOverflow: 0, peerNotBound: 0, oversize: 0, unexpectedType: 0 },
  };

  constructor(private readonly config: RelayConfig, now: Millis) {
    this.c = {
      allowLoopback: config.allowLoopback ?? false, allowPrivate: config.allowPrivate ?? false,
      maxSessions: config.maxSessions ?? 10_000, maxSessionsPerDevice: config.maxSessionsPerDevice ?? 8,
      deviceBytesPerSec: config.deviceBytesPerSec ?? 2_000_000, deviceBurstBytes: config.deviceBurstBytes ?? 256 * 1024,
      totalBytesPerSec: config.totalBytesPerSec ?? 100_000_000, totalBurstBytes: config.totalBurstBytes ?? 4 * 1024 * 1024,
      maxQueuePackets: config.maxQueuePackets ?? 1024, maxPayloadBytes: config.maxPayloadBytes ?? 65507 - DATA_HEADER_BYTES,
      idleTimeoutMs: config.idleTimeoutMs ?? 60_000, rebindAfterIdleMs: config.rebindAfterIdleMs ?? 1000,
      sweepIntervalMs: config.sweepIntervalMs ?? 1000,
    };
    if (!(this.c.maxQueuePackets >= 1)) throw new RangeError('RelayForwarder: maxQueuePackets must be >= 1');
    this.totalBucket = new TokenBucket(this.c.totalBytesPerSec, this.c.totalBurstBytes, now);
    this.ring = new Array(this.c.maxQueuePackets);
    this.nextSweepAt = now + this.c.sweepIntervalMs;
  }

  // ---- output ----

  pollTransmit(): RelayTransmit | undefined {
    if (this.queued === 0) return undefined;
    const t = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.queued--;
    return t;
  }

  pollTimeout(): Millis {
    return this.nextSweepAt;
  }

  counters(): RelayCounters {
    return { ...this.stats, refused: { ...this.stats.refused }, dropped: { ...this.stats.dropped }, sessionsActive: this.byId.size };
  }

  // ---- input ----

  handleTimeout(now: Millis): void {
    if (now < this.nextSweepAt) return;
    for (const s of this.byId.values()) {
      if (now >= s.expiresAt || now - s.lastActivity >= this.c.idleTimeoutMs) {
        this.remove(s);
        this.stats.sessionsExpired++;
      }
    }
    this.nextSweepAt = now + this.c.sweepIntervalMs;
  }

  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void {
    // Fast path: DATA from a bound endpoint (its address was checked when it bound).
    const sid = peekDataSessionId(bytes);
    if (sid !== undefined) { this.forward(now, from, sid, bytes); return; }
    if (!this.addressAllowed(from)) { this.refuse(from, 'FORBIDDEN_ADDRESS', ''); return; }
    let m;
    try {
      m = decodeRelayMessage(bytes);
    } catch (err) {
      if (!(err instanceof RelayDecodeError)) throw err;
      this.refuse(from, 'MALFORMED', ''); // no reply: unauthenticated garbage gets nothing back
      return;
    }
    if (m.type !== 'bind') { this.stats.dropped.unexpectedType++; return; }
    this.handleBind(now, from, m.requestId ?? 0, m.deviceId, m.ticket, bytes.length);
  }

  // ---- internals ----

  private addressAllowed(a: UdpAddress): boolean {
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) return false;
    const r = specialRange(a.address);
    if (r === undefined) return true;
    if (r === 'loopback') return this.c.allowLoopback;
    if (r === 'private' || r === 'shared') return this.c.allowPrivate;
    return false;
  }

  /**
   * Count a refusal; with `requestBytes`, answer with an ERROR (ref = the BIND's request id
   * or the DATA's session id) that is never larger than the request: the reason is left
   * out when it does not fit, and no ERROR is sent when even the 13-byte header does not.
   */
  private refuse(to: UdpAddress, reason: RefusalReason, text: string, requestBytes?: number, ref = 0n): void {
    this.stats.refused[reason] = (this.stats.refused[reason] ?? 0) + 1;
    if (requestBytes === undefined || requestBytes < ERROR_HEADER_BYTES) return;
    const fits = ERROR_HEADER_BYTES + new TextEncoder().encode(text).length <= requestBytes;
    this.enqueue({ to, bytes: encodeRelayMessage({ type: 'error', code: RelayErrorCode[reason], ref, reason: fits ? text : '' }) });
  }

  private handleBind(now: Millis, from: UdpAddress, requestId: number, deviceId: string, ticket: Uint8Array, n: number): void {
    const ref = BigInt(requestId);
    if (ticket.length === 0) return this.refuse(from, 'NO_TICKET', 'no ticket', n, ref);
    const v = this.config.verifier.verify(ticket, now);
    if (!v.ok) return v.expired ? this.refuse(from, 'TICKET_EXPIRED', 'ticket expired', n, ref) : this.refuse(from, 'TICKET_INVALID', 'ticket invalid', n, ref);
    const { deviceA, deviceB, expiresAt } = v.claims;
    if (expiresAt <= now) return this.refuse(from, 'TICKET_EXPIRED', 'ticket expired', n, ref);
    if (deviceA === deviceB) return this.refuse(from, 'TICKET_INVALID', 'ticket invalid', n, ref);
    if (deviceId !== deviceA && deviceId !== deviceB) return this.refuse(from, 'WRONG_DEVICE', 'device not in ticket', n, ref);
    const devices: [string, string] = deviceA < deviceB ? [deviceA, deviceB] : [deviceB, deviceA];
    const key = `${devices[0]}\n${devices[1]}`;
    let s = this.byKey.get(key);
    if (!s) {
      if (this.byId.size >= this.c.maxSessions) return this.refuse(from, 'TOTAL_SESSION_LIMIT', 'relay full', n, ref);
      if (devices.some((d) => (this.deviceSessions.get(d) ?? 0) >= this.c.maxSessionsPerDevice)) return this.refuse(from, 'DEVICE_SESSION_LIMIT', 'too many sessions', n, ref);
      let id = this.config.newSessionId();
      for (let i = 0; i < 8 && this.byId.has(id); i++) id = this.config.newSessionId();
      if (this.byId.has(id)) return this.refuse(from, 'TOTAL_SESSION_LIMIT', 'relay full', n, ref);
      s = { id, key, devices, sides: [undefined, undefined], expiresAt, lastActivity: now };
      this.byId.set(id, s);
      this.byKey.set(key, s);
      for (const d of devices) this.deviceSessions.set(d, (this.deviceSessions.get(d) ?? 0) + 1);
      this.stats.sessionsCreated++;
    }
    const side = s.devices.indexOf(deviceId) as 0 | 1;
    const other = s.sides[1 - side];
    if (other && sameAddress(other.endpoint, from)) return this.refuse(from, 'SIDE_TAKEN', 'endpoint bound to the other side', n, ref);
    const mine = s.sides[side];
    if (mine && !sameAddress(mine.endpoint, from) && now - mine.lastSeen < this.c.rebindAfterIdleMs) return this.refuse(from, 'SIDE_TAKEN', 'side bound elsewhere', n, ref);
    const wasComplete = !!mine && !!other;
    s.sides[side] = { endpoint: from, lastSeen: now, requestId };
    s.expiresAt = Math.max(s.expiresAt, expiresAt); // a fresh ticket extends the session
    s.lastActivity = now;
    this.stats.bindsAccepted++;
    const lifetimeSec = Math.ceil((s.expiresAt - now) / 1000);
    this.enqueue({ to: from, bytes: encodeRelayMessage({ type: 'bind-ok', requestId, sessionId: s.id, peerBound: !!other, observed: from, lifetimeSec }) });
    if (other && !wasComplete) {
      this.enqueue({ to: other.endpoint, bytes: encodeRelayMessage({ type: 'bind-ok', requestId: other.requestId, sessionId: s.id, peerBound: true, observed: other.endpoint, lifetimeSec }) });
    }
  }

  private forward(now: Millis, from: UdpAddress, sid: bigint, bytes: Uint8Array): void {
    const s = this.byId.get(sid);
    const found = !s ? -1 : s.sides[0] && sameAddress(s.sides[0].endpoint, from) ? 0 : s.sides[1] && sameAddress(s.sides[1].endpoint, from) ? 1 : -1;
    if (!s || found < 0) {
      if (!this.addressAllowed(from)) return this.refuse(from, 'FORBIDDEN_ADDRESS', '');
      return this.refuse(from, 'UNKNOWN_SESSION', '', bytes.length, sid); // 13 bytes, only to requests of >= 13
    }
    if (now >= s.expiresAt) {
      this.remove(s);
      this.stats.sessionsExpired++;
      return this.refuse(from, 'TICKET_EXPIRED', '', bytes.length, sid);
    }
    const side = found as 0 | 1;
    s.sides[side]!.lastSeen = now;
    s.lastActivity = now;
    const target = s.sides[1 - side];
    if (!target) { this.stats.dropped.peerNotBound++; return; }
    if (bytes.length - DATA_HEADER_BYTES > this.c.maxPayloadBytes) { this.stats.dropped.oversize++; return; }
    if (!this.deviceBucket(s.devices[side], now).tryTake(now, bytes.length) || !this.totalBucket.tryTake(now, bytes.length)) {
      this.stats.dropped.rateLimited++;
      return;
    }
    this.stats.forwardedPackets++;
    this.stats.forwardedBytes += bytes.length;
    this.enqueue({ to: target.endpoint, bytes });
  }

  private deviceBucket(device: string, now: Millis): TokenBucket {
    let b = this.deviceBuckets.get(device);
    if (!b) {
      b = new TokenBucket(this.c.deviceBytesPerSec, this.c.deviceBurstBytes, now);
      this.deviceBuckets.set(device, b);
    }
    return b;
  }

  private enqueue(t: RelayTransmit): void {
    if (this.queued === this.ring.length) {
      // drop-oldest: overwrite the head
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.ring.length;
      this.queued--;
      this.stats.dropped.queueOverflow++;
    }
    this.ring[(this.head + this.queued) % this.ring.length] = t;
    this.queued++;
  }

  private remove(s: Session): void {
    this.byId.delete(s.id);
    this.byKey.delete(s.key);
    for (const d of s.devices) {
      const n = (this.deviceSessions.get(d) ?? 1) - 1;
      if (n <= 0) { this.deviceSessions.delete(d); this.deviceBuckets.delete(d); } else this.deviceSessions.set(d, n);
    }
  }
}
