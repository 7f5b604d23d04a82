// Liveness and reconnection of the peer's push channel to the directory, sans-IO (time is
// an argument, randomness injected; no timers, no sockets). peer-push.ts runs it.
//
// Why: the push channel (a WebSocket) carries rendezvous notices — how a contact's call
// reaches us. After a network change its TCP connection is dead, but nothing tells us: we
// never write on it, and the directory's pings go to our old address. A contact calling
// then gets no answer. So:
//   - while a channel is open it is pinged every pingIntervalMs; no pong within
//     pongTimeoutMs means it is dead;
//   - suspect(now): a hint that the network may have changed (a path died, a directory
//     request failed): ping now, deadline suspectTimeoutMs (at most once per second);
//   - moved(now): evidence that it did (our NAT mapping or host addresses changed): open a
//     new channel now, without waiting for a ping to time out;
//   - a channel found dead, or closed, is replaced by a new one, make-before-break: the old
//     one is dropped only when the new one is open (the directory marks a device offline
//     when its last channel closes: no offline blip for a slow but live channel).
//   - failed opens are retried after retryMs, doubling up to maxRetryMs, each wait scaled
//     by a random factor in [0.5, 1) (a directory restart must not bring every peer back
//     at the same instant); moved() resets the wait and retries at once. An open does NOT
//     reset the wait: a channel that closes within stableMs of opening (a directory closing
//     new connections under load, a proxy) counts as a failure; the wait goes back to
//     retryMs only once a channel stayed open stableMs or answered a ping.
// Contract:
//   const k = new PushKeeper(config); k.start(now) -> an 'open' action
//   drain k.pollAction() after every input; call k.handleTimeout(now) at k.pollTimeout()
//   inputs: opened(now, id) · openFailed(now, id) · closed(now, id) · pong(now, id) ·
//           suspect(now) · moved(now)
//   actions: { open, id } open a channel, report it as `id` · { ping, id } ping channel
//            `id` · { drop, id, reason } terminate channel `id` (dead or replaced)
// Ids are attempt numbers: an open attempt's id becomes its channel's id.
import type { Millis } from '../wire/socket.ts';

export interface PushKeeperConfig {
  readonly pingIntervalMs?: Millis; // default 25_000
  readonly pongTimeoutMs?: Millis; // default 5_000
  readonly suspectTimeoutMs?: Millis; // default 2_000
  readonly retryMs?: Millis; // default 500
  readonly maxRetryMs?: Millis; // default 30_000
  /** A channel open this long (or that answered a ping) resets the retry wait. */
  readonly stableMs?: Millis; // default 10_000
  /** Uniform in [0, 1): scales each retry wait into [0.5, 1) x the wait. */
  readonly random: () => number;
}

export type PushAction =
  | { readonly type: 'open'; readonly id: number; readonly reason: string }
  | { readonly type: 'ping'; readonly id: number }
  | { readonly type: 'drop'; readonly id: number; readonly reason: string };

interface Channel {
  readonly id: number;
  readonly openedAt: Millis;
  /** An outstanding ping's deadline. */
  pingDeadline?: Millis;
  nextPingAt: Millis;
  /** A ping went unanswered: a replacement is being opened (or will be, after the retry wait). */
  dead: boolean;
}

export class PushKeeper {
  private readonly c: Required<PushKeeperConfig>;
  private current?: Channel;
  private attempt?: number;
  private nextId = 0;
  private retryAt?: Millis;
  private retryWaitMs: Millis;
  private lastSuspectAt = -Infinity;
  private closedFlag = false;
  private readonly actions: PushAction[] = [];

  constructor(config: PushKeeperConfig) {
    this.c = {
      pingIntervalMs: config.pingIntervalMs ?? 25_000, pongTimeoutMs: config.pongTimeoutMs ?? 5_000,
      suspectTimeoutMs: config.suspectTimeoutMs ?? 2_000, retryMs: config.retryMs ?? 500,
      maxRetryMs: config.maxRetryMs ?? 30_000, stableMs: config.stableMs ?? 10_000, random: config.random,
    };
    this.retryWaitMs = this.c.retryMs;
  }

  /** The first open. */
  start(_now: Millis): void {
    if (this.current === undefined && this.attempt === undefined) this.open('start');
  }

  pollAction(): PushAction | undefined {
    return this.actions.shift();
  }

  pollTimeout(): Millis | undefined {
    if (this.closedFlag) return undefined;
    let t = this.retryAt;
    const ch = this.current;
    if (ch) {
      const at = ch.pingDeadline ?? ch.nextPingAt;
      if (t === undefined || at < t) t = at;
    }
    return t;
  }

  /** Is a channel open that has not missed a ping? */
  get healthy(): boolean {
    return !!this.current && !this.current.dead;
  }

  // ---- inputs ----

  opened(now: Millis, id: number): void {
    if (this.closedFlag || id !== this.attempt) { this.actions.push({ type: 'drop', id, reason: 'not wanted any more' }); return; }
    this.attempt = undefined;
    this.retryAt = undefined;
    const old = this.current;
    this.current = { id, openedAt: now, nextPingAt: now + this.c.pingIntervalMs, dead: false };
    if (old) this.actions.push({ type: 'drop', id: old.id, reason: old.dead ? 'no pong' : 'replaced' });
  }

  openFailed(now: Millis, id: number): void {
    if (this.closedFlag || id !== this.attempt) return;
    this.attempt = undefined;
    // A live channel needs no replacement (a moved() that turned out to be harmless).
    if (this.current && !this.current.dead) return;
    this.scheduleRetry(now);
  }

  closed(now: Millis, id: number): void {
    if (this.closedFlag || this.current?.id !== id) return;
    if (now - this.current.openedAt >= this.c.stableMs) this.retryWaitMs = this.c.retryMs;
    this.current = undefined;
    if (this.attempt === undefined && this.retryAt === undefined) this.scheduleRetry(now);
  }

  pong(now: Millis, id: number): void {
    const ch = this.current;
    if (this.closedFlag || ch?.id !== id) return;
    ch.pingDeadline = undefined;
    ch.nextPingAt = now + this.c.pingIntervalMs;
    this.retryWaitMs = this.c.retryMs; // it works: the next failure starts from the shortest wait
    if (ch.dead) {
      // It was slow, not dead: keep it, stop retrying (an attempt in flight replaces it anyway).
      ch.dead = false;
      this.retryAt = undefined;
      this.retryWaitMs = this.c.retryMs;
    }
  }

  /** The network may have changed: check the channel now (rate-limited to once per second). */
  suspect(now: Millis): void {
    if (this.closedFlag || now - this.lastSuspectAt < 1000) return;
    this.lastSuspectAt = now;
    const ch = this.current;
    if (!ch || ch.dead) return;
    const deadline = now + this.c.suspectTimeoutMs;
    if (ch.pingDeadline !== undefined && ch.pingDeadline <= deadline) return;
    this.ping(ch, now, deadline);
  }

  /** The network did change: open a new channel now (the current one is kept until it is open). */
  moved(now: Millis): void {
    if (this.closedFlag) return;
    this.retryWaitMs = this.c.retryMs;
    this.retryAt = undefined;
    if (this.attempt === undefined) this.open('network changed');
    // Also ping the current one: if the new one cannot open, we learn whether the old one lives.
    if (this.current && !this.current.dead && this.current.pingDeadline === undefined) this.ping(this.current, now, now + this.c.suspectTimeoutMs);
  }

  handleTimeout(now: Millis): void {
    if (this.closedFlag) return;
    const ch = this.current;
    if (ch?.pingDeadline !== undefined && now >= ch.pingDeadline) {
      ch.pingDeadline = undefined;
      ch.nextPingAt = now + this.c.pingIntervalMs;
      if (!ch.dead) {
        ch.dead = true;
        if (this.attempt === undefined) { this.retryAt = undefined; this.open('no pong'); }
      }
    }
    if (ch && ch.pingDeadline === undefined && now >= ch.nextPingAt) this.ping(ch, now, now + this.c.pongTimeoutMs);
    if (this.retryAt !== undefined && now >= this.retryAt) {
      this.retryAt = undefined;
      if (this.attempt === undefined) this.open('retry');
    }
  }

  close(): void {
    this.closedFlag = true;
    this.retryAt = undefined;
  }

  // ---- internals ----

  private open(reason: string): void {
    this.attempt = ++this.nextId;
    this.actions.push({ type: 'open', id: this.attempt, reason });
  }

  private ping(ch: Channel, now: Millis, deadline: Millis): void {
    ch.pingDeadline = deadline;
    ch.nextPingAt = now + this.c.pingIntervalMs;
    this.actions.push({ type: 'ping', id: ch.id });
  }

  private scheduleRetry(now: Millis): void {
    this.retryAt = now + this.retryWaitMs * (0.5 + this.c.random() / 2);
    this.retryWaitMs = Math.min(this.c.maxRetryMs, this.retryWaitMs * 2);
  }
}
