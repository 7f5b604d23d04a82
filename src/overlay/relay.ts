// The supernode's relay forwarder, sans-IO (docs/protocol/relay.md).
//
// Contract:
//   const r = new RelayForwarder(config, now)     // `now` is Unix time in ms (tickets expire in it)
//   r.handleDatagram(now, from, bytes)            // every datagram that reached the relay socket
//   r.handleTimeout(now) at r.pollTimeout()       // expiry/idle sweep
//   drain r.pollTransmit() -> { to, bytes }       // what to send; r.counters() for monitoring
//   or r.pollInto(slot) -> boolean                // the same, written into the caller's slot (no allocation)
//   r.handleRun(now, from, buf, off, len, seg)    // a run: datagrams of `seg` bytes (last shorter) back to back
//   drain r.pollRunInto(slot) -> boolean          // { to, bytes, segmentSize }: a run of datagrams to one destination
//
// Batch path: handleRun applies, per segment, exactly the checks of the per-datagram DATA
// path (admit(): session id, bound sender, other side bound, size, expiry, both token
// buckets) and queues each maximal stretch of consecutive admitted segments to one
// destination as ONE transmit item (a view of `buf`, its segment size and count), so a GRO
// super-datagram usually leaves as one GSO message; a segment that is not DATA goes through
// handleDatagram as before. Outputs, their order and every counter equal those of
// handleDatagram on each segment in turn (test/overlay/relay-run.test.ts); the queue bound
// counts datagrams either way (a full queue trims the oldest run from its front). Queued
// runs are views of `buf`: the caller drains them before `buf` changes.
//
// A session is keyed by the two device ids of a directory-issued ticket. Each device
// BINDs with the ticket; its source address (as seen by the relay) becomes its side's
// endpoint. DATA from one bound endpoint is forwarded unchanged — the relay never looks
// past the 10-byte header, the payload is an end-to-end encrypted transport packet — to
// the other side's endpoint, and nowhere else. Everything else is refused: no or bad
// ticket, expired ticket, a device not named in the ticket, sources in loopback/private/
// special ranges (no reply is sent to them at all), unknown sessions, unbound senders.
// Limits: sessions in total and per device (a session counts against a device once that
// device has bound its side), half-bound sessions (one side bound) created per source /24 and
// per source address (such a session is swept 30 s after its creation if still half-bound),
// bytes/s per sending device and in total
// (token buckets: excess is dropped), and a bounded transmit queue that drops the
// oldest datagram when full. Ticket checks (an Ed25519 verification each, ~0.1 ms) have a
// budget: a ticket verified OK is remembered (bounded LRU cache keyed by its exact bytes, expiry
// re-checked against `now`), so refresh BINDs cost nothing; any other BIND spends a token of
// its source's /24 and one of the relay's total (ticketChecksPerSec / ...PerPrefixPerSec);
// over budget the BIND is dropped silently (counted as dropped.ticketBudget; no ERROR, so
// spoofed floods reflect nothing) and the device's next BIND retry gets through. Refusals to public sources get a short ERROR that is never
// larger than the request (no amplification).
// Forward path cost (per DATA datagram, no allocation): the session id is read as two
// 32-bit numbers and compared with the last forwarded session (both directions of a
// session share it; the bigint map only on a miss), the sender is matched by object
// identity first (sockets reuse the `from` object while the sender stays the same), each
// side's token bucket and peer endpoint hang off the session, and the transmit queue
// (relay-queue.ts) is parallel arrays (pollInto fills the caller's slot).
import type { Millis, UdpAddress } from '../wire/socket.ts';
import { sameAddress } from '../wire/socket.ts';
import { specialRange } from './ip-ranges.ts';
import { decodeRelayMessage, encodeRelayMessage, RelayDecodeError, RelayErrorCode, RelayType, RELAY_MARKER, DATA_HEADER_BYTES, ERROR_HEADER_BYTES } from './relay-wire.ts';
import { TokenBucket } from './token-bucket.ts';
import { RelayTransmitQueue, type RelayRunSlot } from './relay-queue.ts';

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
  /** Ticket verifications per second in total (cache misses only), default 1000 (burst: one second's worth). */
  readonly ticketChecksPerSec?: number;
  /** Ticket verifications per second per source /24, default 100 (burst: one second's worth). */
  readonly ticketChecksPerPrefixPerSec?: number;
  /**
   * Tickets verified OK remembered (least recently used forgotten first), default 2 x maxSessions
   * (each side of a full relay's sessions may hold its own ticket: their refreshes all hit).
   */
  readonly ticketCacheSize?: number;
  /**
   * Half-bound sessions (one side bound, the other not yet) created from one source /24 (IPv4;
   * another address family: the exact address) that may exist at once, default 64; beyond it a
   * BIND that would create one is refused (TOTAL_SESSION_LIMIT), counted in halfBoundPrefixLimited.
   */
  readonly maxHalfBoundPerPrefix?: number;
  /**
   * The same per source address (IP, any port), default 16: one abusive host behind a carrier-grade
   * NAT /24 uses up at most this much of its /24's half-bound sessions. Counted in halfBoundAddressLimited.
   */
  readonly maxHalfBoundPerAddress?: number;
  /**
   * A session still half-bound this long after its creation is removed at the next sweep (its
   * bound side's next BIND creates it again), default 30_000: a call that never completes (callee
   * offline, rendezvous lost) gives its half-bound slot back after ~30 s, not 60 s after its last BIND.
   */
  readonly halfBoundTimeoutMs?: Millis;
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
  dropped: { rateLimited: number; queueOverflow: number; peerNotBound: number; oversize: number; unexpectedType: number; ticketBudget: number };
  /** BINDs whose ticket came from the cache of verified tickets (no verification). */
  ticketCacheHits: number;
  /** BINDs refused because their source /24 already created maxHalfBoundPerPrefix half-bound sessions. */
  halfBoundPrefixLimited: number;
  /** BINDs refused because their source address already created maxHalfBoundPerAddress half-bound sessions. */
  halfBoundAddressLimited: number;
}

interface Binding {
  endpoint: UdpAddress;
  lastSeen: Millis;
  /** Request id of the side's last accepted BIND (echoed in BIND-OKs to it). */
  requestId: number;
}

interface Session {
  readonly id: bigint;
  /** The id's high and low 32 bits (the forward path compares these, not the bigint). */
  readonly idHi: number;
  readonly idLo: number;
  readonly key: string;
  readonly devices: readonly [string, string];
  readonly sides: [Binding | undefined, Binding | undefined];
  /** Each side's device byte-rate bucket (shared by that device's sessions). */
  readonly buckets: readonly [TokenBucket, TokenBucket];
  expiresAt: Millis;
  lastActivity: Millis;
  /** While only one side is bound: the source prefix that created the session (its half-bound count). */
  halfBoundPrefix: string | undefined;
  /** While only one side is bound: the source address (IP) that created it. */
  halfBoundAddress: string | undefined;
  readonly createdAt: Millis;
}

export interface RelayTransmit {
  readonly to: UdpAddress;
  readonly bytes: Uint8Array;
}

export type { RelayRunSlot };

export class RelayForwarder {
  private readonly c: Required<Omit<RelayConfig, 'verifier' | 'newSessionId'>>;
  private readonly byId = new Map<bigint, Session>();
  private readonly byKey = new Map<string, Session>();
  /** Sessions naming each device (its byte-rate bucket lives while any does). */
  private readonly deviceSessions = new Map<string, number>();
  /** Sessions in which each device has bound its side: the per-device quota (maxSessionsPerDevice). */
  private readonly deviceBound = new Map<string, number>();
  private readonly deviceBuckets = new Map<string, TokenBucket>();
  /** Half-bound sessions per creating source prefix (sourcePrefix()). */
  private readonly halfBound = new Map<string, number>();
  /** Half-bound sessions per creating source address (IP). */
  private readonly halfBoundAddr = new Map<string, number>();
  private readonly totalBucket: TokenBucket;
  /** Tickets verified OK: exact bytes (latin1 string) -> claims, least recently used first. */
  private readonly verified = new Map<string, TicketClaims>();
  /** Ticket-check budget: total, and per source /24 (hashed slots, created when first used). */
  private readonly checkBucket: TokenBucket;
  private readonly prefixBuckets: (TokenBucket | undefined)[] = new Array<TokenBucket | undefined>(PREFIX_SLOTS).fill(undefined);
  /** Transmit queue: datagrams and runs, bounded in datagrams, drop-oldest (relay-queue.ts). */
  private readonly queue: RelayTransmitQueue;
  /** The stretch of admitted segments handleRun is collecting (queued before anything else is). */
  private runTo: UdpAddress | undefined = undefined;
  private runBuf: Uint8Array = new Uint8Array(0);
  private runOff = 0;
  private runEnd = 0;
  private runSeg = 0;
  private runCount = 0;
  /** The session of the last forwarded DATA (undefined after any removal). */
  private last: Session | undefined;
  private nextSweepAt: Millis;
  private readonly stats: RelayCounters = {
    sessionsActive: 0, sessionsCreated: 0, sessionsExpired: 0, bindsAccepted: 0, forwardedPackets: 0, forwardedBytes: 0, refused: {},
    dropped: { rateLimited: 0, queueOverflow: 0, peerNotBound: 0, oversize: 0, unexpectedType: 0, ticketBudget: 0 }, ticketCacheHits: 0,
    halfBoundPrefixLimited: 0, halfBoundAddressLimited: 0,
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
      ticketChecksPerSec: config.ticketChecksPerSec ?? 1000, ticketChecksPerPrefixPerSec: config.ticketChecksPerPrefixPerSec ?? 100,
      ticketCacheSize: config.ticketCacheSize ?? 2 * (config.maxSessions ?? 10_000), maxHalfBoundPerPrefix: config.maxHalfBoundPerPrefix ?? 64,
      maxHalfBoundPerAddress: config.maxHalfBoundPerAddress ?? 16, halfBoundTimeoutMs: config.halfBoundTimeoutMs ?? 30_000,
    };
    if (!(this.c.ticketCacheSize >= 0)) throw new RangeError('RelayForwarder: ticketCacheSize must be >= 0');
    this.checkBucket = new TokenBucket(this.c.ticketChecksPerSec, Math.max(1, this.c.ticketChecksPerSec), now);
    if (!(this.c.maxQueuePackets >= 1)) throw new RangeError('RelayForwarder: maxQueuePackets must be >= 1');
    this.queue = new RelayTransmitQueue(this.c.maxQueuePackets);
    this.totalBucket = new TokenBucket(this.c.totalBytesPerSec, this.c.totalBurstBytes, now);
    this.nextSweepAt = now + this.c.sweepIntervalMs;
  }

  // ---- output ----

  pollTransmit(): RelayTransmit | undefined {
    const slot = { to: undefined as unknown as UdpAddress, bytes: undefined as unknown as Uint8Array };
    return this.pollInto(slot) ? slot : undefined;
  }

  /**
   * As pollTransmit(), into `slot` (overwritten; false when nothing is queued): one datagram.
   * No allocation for single datagrams; a queued run is handed out a segment at a time.
   */
  pollInto(slot: { to: UdpAddress; bytes: Uint8Array }): boolean {
    return this.queue.pollInto(slot);
  }

  /** The next transmit item into `slot`: a run (segmentSize < bytes.length) or one datagram (segmentSize = its length). */
  pollRunInto(slot: RelayRunSlot): boolean {
    return this.queue.pollRunInto(slot);
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
      if (now >= s.expiresAt || now - s.lastActivity >= this.c.idleTimeoutMs || (s.halfBoundPrefix !== undefined && now - s.createdAt >= this.c.halfBoundTimeoutMs)) {
        this.remove(s);
        this.stats.sessionsExpired++;
      }
    }
    for (const [k, claims] of this.verified) if (claims.expiresAt <= now) this.verified.delete(k);
    this.nextSweepAt = now + this.c.sweepIntervalMs;
  }

  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void {
    // Fast path: DATA from a bound endpoint (its address was checked when it bound).
    if (bytes.length >= DATA_HEADER_BYTES && bytes[0] === RELAY_MARKER && bytes[1] === RelayType.DATA) {
      const hi = ((bytes[2] << 24) | (bytes[3] << 16) | (bytes[4] << 8) | bytes[5]) >>> 0;
      const lo = ((bytes[6] << 24) | (bytes[7] << 16) | (bytes[8] << 8) | bytes[9]) >>> 0;
      const target = this.admit(now, from, this.lookup(hi, lo), hi, lo, bytes.length);
      if (target !== undefined) this.enqueue(target, bytes);
      return;
    }
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

  /**
   * A run received in one piece (a GRO super-datagram): the datagrams of `seg` bytes (the last
   * may be shorter) in buf[off, off + len). Same outcome as handleDatagram on each in turn.
   */
  handleRun(now: Millis, from: UdpAddress, buf: Uint8Array, off: number, len: number, seg: number): void {
    const end = off + len;
    if (!(seg >= 1) || seg >= len || !Number.isInteger(seg) || !(off >= 0) || end > buf.length) {
      this.handleDatagram(now, from, buf.subarray(Math.max(0, off), Math.min(buf.length, end)));
      return;
    }
    for (let p = off; p < end; p += seg) {
      const q = p + seg < end ? p + seg : end;
      if (q - p >= DATA_HEADER_BYTES && buf[p] === RELAY_MARKER && buf[p + 1] === RelayType.DATA) {
        const hi = ((buf[p + 2] << 24) | (buf[p + 3] << 16) | (buf[p + 4] << 8) | buf[p + 5]) >>> 0;
        const lo = ((buf[p + 6] << 24) | (buf[p + 7] << 16) | (buf[p + 8] << 8) | buf[p + 9]) >>> 0;
        // admit() may queue an ERROR: enqueue() queues the stretch collected so far first
        const target = this.admit(now, from, this.lookup(hi, lo), hi, lo, q - p);
        if (target === undefined) continue;
        if (target === this.runTo && p === this.runEnd && buf === this.runBuf) {
          this.runEnd = q;
          this.runCount++;
        } else {
          if (this.runTo !== undefined) this.pushRun();
          this.runTo = target;
          this.runBuf = buf;
          this.runOff = p;
          this.runEnd = q;
          this.runSeg = seg;
          this.runCount = 1;
        }
        continue;
      }
      if (this.runTo !== undefined) this.pushRun();
      this.handleDatagram(now, from, buf.subarray(p, q));
    }
    if (this.runTo !== undefined) this.pushRun();
  }

  // ---- internals ----

  private lookup(hi: number, lo: number): Session | undefined {
    const l = this.last;
    return l !== undefined && l.idLo === lo && l.idHi === hi ? l : this.byId.get((BigInt(hi) << 32n) | BigInt(lo));
  }

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
    this.enqueue(to, encodeRelayMessage({ type: 'error', code: RelayErrorCode[reason], ref, reason: fits ? text : '' }));
  }

  private handleBind(now: Millis, from: UdpAddress, requestId: number, deviceId: string, ticket: Uint8Array, n: number): void {
    const ref = BigInt(requestId);
    if (ticket.length === 0) return this.refuse(from, 'NO_TICKET', 'no ticket', n, ref);
    const claims = this.checkTicket(now, from, ticket);
    if (claims === undefined) return; // over the ticket-check budget: dropped, counted
    if (!claims.ok) return claims.expired ? this.refuse(from, 'TICKET_EXPIRED', 'ticket expired', n, ref) : this.refuse(from, 'TICKET_INVALID', 'ticket invalid', n, ref);
    const { deviceA, deviceB, expiresAt } = claims.claims;
    if (expiresAt <= now) return this.refuse(from, 'TICKET_EXPIRED', 'ticket expired', n, ref);
    if (deviceA === deviceB) return this.refuse(from, 'TICKET_INVALID', 'ticket invalid', n, ref);
    if (deviceId !== deviceA && deviceId !== deviceB) return this.refuse(from, 'WRONG_DEVICE', 'device not in ticket', n, ref);
    const devices: [string, string] = deviceA < deviceB ? [deviceA, deviceB] : [deviceB, deviceA];
    const key = `${devices[0]}\n${devices[1]}`;
    const side: 0 | 1 = devices[0] === deviceId ? 0 : 1;
    let s = this.byKey.get(key);
    // A session counts against a device once that device has bound its side (not when the other
    // side created it: a contact's half-bound sessions must not use up this device's quota).
    const firstBindOfSide = s === undefined || s.sides[side] === undefined;
    if (firstBindOfSide && (this.deviceBound.get(deviceId) ?? 0) >= this.c.maxSessionsPerDevice) return this.refuse(from, 'DEVICE_SESSION_LIMIT', 'too many sessions', n, ref);
    if (!s) {
      if (this.byId.size >= this.c.maxSessions) return this.refuse(from, 'TOTAL_SESSION_LIMIT', 'relay full', n, ref);
      let id = this.config.newSessionId();
      for (let i = 0; i < 8 && this.byId.has(id); i++) id = this.config.newSessionId();
      if (this.byId.has(id)) return this.refuse(from, 'TOTAL_SESSION_LIMIT', 'relay full', n, ref);
      // one network (a /24) cannot fill the relay with sessions nobody completes
      const prefix = sourcePrefix(from.address);
      const half = this.halfBound.get(prefix) ?? 0;
      if (half >= this.c.maxHalfBoundPerPrefix) {
        this.stats.halfBoundPrefixLimited++;
        return this.refuse(from, 'TOTAL_SESSION_LIMIT', 'too many half-bound sessions from this network', n, ref);
      }
      const halfAddr = this.halfBoundAddr.get(from.address) ?? 0;
      if (halfAddr >= this.c.maxHalfBoundPerAddress) {
        this.stats.halfBoundAddressLimited++;
        return this.refuse(from, 'TOTAL_SESSION_LIMIT', 'too many half-bound sessions from this address', n, ref);
      }
      this.halfBound.set(prefix, half + 1);
      this.halfBoundAddr.set(from.address, halfAddr + 1);
      s = {
        id, idHi: Number(id >> 32n), idLo: Number(id & 0xffffffffn), key, devices, sides: [undefined, undefined],
        buckets: [this.deviceBucket(devices[0], now), this.deviceBucket(devices[1], now)], expiresAt, lastActivity: now,
        halfBoundPrefix: prefix, halfBoundAddress: from.address, createdAt: now,
      };
      this.byId.set(id, s);
      this.byKey.set(key, s);
      for (const d of devices) this.deviceSessions.set(d, (this.deviceSessions.get(d) ?? 0) + 1);
      this.stats.sessionsCreated++;
    }
    const other = s.sides[1 - side];
    if (other && sameAddress(other.endpoint, from)) return this.refuse(from, 'SIDE_TAKEN', 'endpoint bound to the other side', n, ref);
    const mine = s.sides[side];
    if (mine && !sameAddress(mine.endpoint, from) && now - mine.lastSeen < this.c.rebindAfterIdleMs) return this.refuse(from, 'SIDE_TAKEN', 'side bound elsewhere', n, ref);
    const wasComplete = !!mine && !!other;
    if (firstBindOfSide) this.deviceBound.set(deviceId, (this.deviceBound.get(deviceId) ?? 0) + 1);
    s.sides[side] = { endpoint: from, lastSeen: now, requestId };
    if (other !== undefined) this.completed(s);
    s.expiresAt = Math.max(s.expiresAt, expiresAt); // a fresh ticket extends the session
    s.lastActivity = now;
    this.stats.bindsAccepted++;
    const lifetimeSec = Math.ceil((s.expiresAt - now) / 1000);
    this.enqueue(from, encodeRelayMessage({ type: 'bind-ok', requestId, sessionId: s.id, peerBound: !!other, observed: from, lifetimeSec }));
    if (other && !wasComplete) {
      this.enqueue(other.endpoint, encodeRelayMessage({ type: 'bind-ok', requestId: other.requestId, sessionId: s.id, peerBound: true, observed: other.endpoint, lifetimeSec }));
    }
  }

  /**
   * The ticket's verdict: from the cache of tickets verified OK, else verified when the budget
   * (the source's /24, then the total) has a token; undefined (counted) when it has none.
   */
  private checkTicket(now: Millis, from: UdpAddress, ticket: Uint8Array): TicketVerdict | undefined {
    const key = latin1(ticket);
    const known = this.verified.get(key);
    if (known !== undefined) {
      this.stats.ticketCacheHits++;
      this.verified.delete(key); // most recently used last: forgotten last
      this.verified.set(key, known);
      return { ok: true, claims: known };
    }
    const slot = prefixSlot(from.address);
    let pb = this.prefixBuckets[slot];
    if (pb === undefined) pb = this.prefixBuckets[slot] = new TokenBucket(this.c.ticketChecksPerPrefixPerSec, Math.max(1, this.c.ticketChecksPerPrefixPerSec), now);
    if (!pb.tryTake(now, 1) || !this.checkBucket.tryTake(now, 1)) {
      this.stats.dropped.ticketBudget++;
      return undefined;
    }
    const v = this.config.verifier.verify(ticket, now);
    if (v.ok && this.c.ticketCacheSize > 0) {
      if (this.verified.size >= this.c.ticketCacheSize) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(key, v.claims);
    }
    return v;
  }

  /**
   * The DATA path's checks for an `n`-byte DATA datagram of session `s` from `from`: its
   * destination when it is to be forwarded (counted as forwarded), else undefined (refused or
   * dropped, counted; a refusal may queue an ERROR).
   */
  private admit(now: Millis, from: UdpAddress, s: Session | undefined, hi: number, lo: number, n: number): UdpAddress | undefined {
    let side = -1;
    if (s !== undefined) {
      const a = s.sides[0], b = s.sides[1];
      // identity first: sockets hand out the same `from` object while the sender stays the same
      if (a !== undefined && (a.endpoint === from || sameAddress(a.endpoint, from))) side = 0;
      else if (b !== undefined && (b.endpoint === from || sameAddress(b.endpoint, from))) side = 1;
    }
    if (s === undefined || side < 0) {
      if (!this.addressAllowed(from)) { this.refuse(from, 'FORBIDDEN_ADDRESS', ''); return undefined; }
      this.refuse(from, 'UNKNOWN_SESSION', '', n, (BigInt(hi) << 32n) | BigInt(lo)); // 13 bytes, only to requests of >= 13
      return undefined;
    }
    if (now >= s.expiresAt) {
      this.remove(s);
      this.stats.sessionsExpired++;
      this.refuse(from, 'TICKET_EXPIRED', '', n, s.id);
      return undefined;
    }
    this.last = s;
    s.sides[side]!.lastSeen = now;
    s.lastActivity = now;
    const target = s.sides[1 - side];
    if (target === undefined) { this.stats.dropped.peerNotBound++; return undefined; }
    if (n - DATA_HEADER_BYTES > this.c.maxPayloadBytes) { this.stats.dropped.oversize++; return undefined; }
    if (!s.buckets[side].tryTake(now, n) || !this.totalBucket.tryTake(now, n)) {
      this.stats.dropped.rateLimited++;
      return undefined;
    }
    this.stats.forwardedPackets++;
    this.stats.forwardedBytes += n;
    return target.endpoint;
  }

  private deviceBucket(device: string, now: Millis): TokenBucket {
    let b = this.deviceBuckets.get(device);
    if (!b) {
      b = new TokenBucket(this.c.deviceBytesPerSec, this.c.deviceBurstBytes, now);
      this.deviceBuckets.set(device, b);
    }
    return b;
  }

  /** Queue one datagram (after the stretch handleRun is collecting, if any). */
  private enqueue(to: UdpAddress, bytes: Uint8Array): void {
    if (this.runTo !== undefined) this.pushRun();
    this.enqueueItem(to, bytes, 0, 1);
  }

  /** Queue the stretch handleRun collected: one item. */
  private pushRun(): void {
    const to = this.runTo!, count = this.runCount;
    this.runTo = undefined;
    this.enqueueItem(to, this.runBuf.subarray(this.runOff, this.runEnd), count > 1 ? this.runSeg : 0, count);
  }

  /** Queue an item of `count` datagrams (a run of `seg`-byte segments when count > 1); drop-oldest counted. */
  private enqueueItem(to: UdpAddress, bytes: Uint8Array, seg: number, count: number): void {
    this.stats.dropped.queueOverflow += this.queue.push(to, bytes, seg, count);
  }

  /** The session's second side bound: it no longer counts as half-bound against its creator's prefix. */
  private completed(s: Session): void {
    const p = s.halfBoundPrefix;
    if (p === undefined) return;
    s.halfBoundPrefix = undefined;
    const h = (this.halfBound.get(p) ?? 1) - 1;
    if (h <= 0) this.halfBound.delete(p); else this.halfBound.set(p, h);
    const a = s.halfBoundAddress!;
    s.halfBoundAddress = undefined;
    const ha = (this.halfBoundAddr.get(a) ?? 1) - 1;
    if (ha <= 0) this.halfBoundAddr.delete(a); else this.halfBoundAddr.set(a, ha);
  }

  private remove(s: Session): void {
    this.completed(s);
    this.last = undefined;
    this.byId.delete(s.id);
    this.byKey.delete(s.key);
    s.devices.forEach((d, i) => {
      const n = (this.deviceSessions.get(d) ?? 1) - 1;
      if (n <= 0) { this.deviceSessions.delete(d); this.deviceBuckets.delete(d); } else this.deviceSessions.set(d, n);
      if (s.sides[i] === undefined) return;
      const b = (this.deviceBound.get(d) ?? 1) - 1;
      if (b <= 0) this.deviceBound.delete(d); else this.deviceBound.set(d, b);
    });
  }
}

/** Hashed per-/24 budget slots (an attacker spraying prefixes only shares slots; the total budget still holds). */
const PREFIX_SLOTS = 1024;

/** The slot of an IPv4 address's /24 (its first three octets as written). */
function prefixSlot(address: string): number {
  const end = address.lastIndexOf('.');
  let h = 0x811c9dc5;
  for (let i = 0; i < (end < 0 ? address.length : end); i++) h = Math.imul(h ^ address.charCodeAt(i), 0x01000193);
  return (h >>> 0) % PREFIX_SLOTS;
}

/** The key of a source's network for per-network limits: an IPv4 address's /24 (first three octets as written), else the address. */
function sourcePrefix(address: string): string {
  const end = address.lastIndexOf('.');
  return end < 0 ? address : address.slice(0, end);
}

/** The bytes as a latin1 string (a Map key for exact bytes). */
function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}
