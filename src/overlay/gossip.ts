// Supernode overlay membership: a bounded partial view kept fresh by Cyclon-style
// shuffles (Voulgaris et al. 2005), sans-IO. No supernode needs the full list.
//
// Contract:
//   const g = new GossipNode(config, now)
//   g.handleDirectoryList(now, entries)   seed/refill from the directory's supernode list
//   g.handleMessage(now, from, msg)       a decoded shuffle request or reply (gossip-wire.ts)
//   g.handleTimeout(now) at g.pollTimeout(); drain g.pollTransmit() -> { to, msg }
//   g.view(), g.needsSeeding()
// Every shuffleIntervalMs: all ages +1; the oldest neighbour Q is removed from the view
// and sent ourselves (age 0) plus shuffleLength-1 random neighbours. Q answers with up to
// shuffleLength random entries of its own and merges what it got. Merging never adds
// ourselves or duplicates, fills empty slots first, then replaces the entries that were
// sent to the other side. A dead Q simply never answers: it has already left our view,
// which is how failed supernodes disappear. Randomness is injected (seeded in tests).
import type { Millis, UdpAddress } from '../wire/socket.ts';

export interface PeerRef {
  readonly id: string;
  readonly address: UdpAddress;
}

export interface ViewEntry extends PeerRef {
  readonly age: number;
}

export type GossipMessage =
  | { readonly type: 'shuffle-request'; readonly nonce: number; readonly entries: readonly ViewEntry[] }
  | { readonly type: 'shuffle-reply'; readonly nonce: number; readonly entries: readonly ViewEntry[] };

export interface GossipConfig {
  readonly self: PeerRef;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  readonly viewSize?: number; // default 8
  readonly shuffleLength?: number; // default 4
  readonly shuffleIntervalMs?: Millis; // default 5000
  readonly replyTimeoutMs?: Millis; // default 2000
}

interface Pending {
  readonly peer: PeerRef;
  readonly nonce: number;
  readonly sent: readonly ViewEntry[];
  readonly deadline: Millis;
}

export class GossipNode {
  private entries: ViewEntry[] = [];
  private readonly outbox: { to: UdpAddress; msg: GossipMessage }[] = [];
  private pending?: Pending;
  private nextShuffleAt: Millis;
  private nextNonce: number;
  readonly viewSize: number;
  readonly shuffleLength: number;
  private readonly intervalMs: Millis;
  private readonly replyTimeoutMs: Millis;

  constructor(private readonly config: GossipConfig, now: Millis) {
    this.viewSize = config.viewSize ?? 8;
    this.shuffleLength = config.shuffleLength ?? 4;
    this.intervalMs = config.shuffleIntervalMs ?? 5000;
    this.replyTimeoutMs = config.replyTimeoutMs ?? 2000;
    if (!(this.viewSize >= 1 && this.shuffleLength >= 1 && this.shuffleLength <= this.viewSize)) throw new RangeError('GossipNode: need 1 <= shuffleLength <= viewSize');
    // Spread the first shuffle over one interval so that nodes started together do not synchronise.
    this.nextShuffleAt = now + Math.floor(config.random() * this.intervalMs);
    this.nextNonce = Math.floor(config.random() * 0xffffffff) >>> 0;
  }

  view(): readonly ViewEntry[] {
    return this.entries;
  }

  /** True when the view is less than half full: ask the directory for supernodes. */
  needsSeeding(): boolean {
    return this.entries.length < Math.ceil(this.viewSize / 2);
  }

  pollTransmit(): { to: UdpAddress; msg: GossipMessage } | undefined {
    return this.outbox.shift();
  }

  pollTimeout(): Millis {
    return this.pending ? Math.min(this.pending.deadline, this.nextShuffleAt) : this.nextShuffleAt;
  }

  handleDirectoryList(_now: Millis, list: readonly PeerRef[]): void {
    const candidates = this.shuffled(list.filter((p) => this.acceptable(p)));
    for (const p of candidates) {
      if (this.entries.length >= this.viewSize) break;
      if (!this.has(p.id)) this.entries.push({ id: p.id, address: p.address, age: 0 });
    }
  }

  handleTimeout(now: Millis): void {
    if (this.pending && now >= this.pending.deadline) this.pending = undefined; // Q stays out of the view
    if (now < this.nextShuffleAt) return;
    this.nextShuffleAt = now + this.intervalMs;
    if (this.entries.length === 0) return;
    this.entries = this.entries.map((e) => ({ ...e, age: e.age + 1 }));
    let oldest = 0;
    for (let i = 1; i < this.entries.length; i++) if (this.entries[i].age > this.entries[oldest].age) oldest = i;
    const q = this.entries[oldest];
    this.entries.splice(oldest, 1);
    const sent = this.shuffled(this.entries).slice(0, this.shuffleLength - 1);
    const nonce = this.nextNonce;
    this.nextNonce = (this.nextNonce + 1) >>> 0;
    this.pending = { peer: q, nonce, sent, deadline: now + this.replyTimeoutMs };
    this.outbox.push({ to: q.address, msg: { type: 'shuffle-request', nonce, entries: [{ ...this.config.self, age: 0 }, ...sent] } });
  }

  handleMessage(_now: Millis, from: UdpAddress, msg: GossipMessage): void {
    const received = msg.entries.slice(0, this.shuffleLength);
    if (msg.type === 'shuffle-request') {
      const sent = this.shuffled(this.entries).slice(0, this.shuffleLength);
      this.outbox.push({ to: from, msg: { type: 'shuffle-reply', nonce: msg.nonce, entries: sent } });
      this.merge(received, sent);
    } else {
      const p = this.pending;
      if (!p || p.nonce !== msg.nonce || p.peer.address.address !== from.address || p.peer.address.port !== from.port) return;
      this.pending = undefined;
      this.merge(received, p.sent);
    }
  }

  private acceptable(p: PeerRef): boolean {
    return p.id !== this.config.self.id && p.id.length > 0;
  }

  private has(id: string): boolean {
    return this.entries.some((e) => e.id === id);
  }

  private merge(received: readonly ViewEntry[], sent: readonly ViewEntry[]): void {
    const replaceable = sent.map((s) => s.id);
    for (const r of received) {
      if (!this.acceptable(r) || this.has(r.id)) continue;
      const entry = { id: r.id, address: r.address, age: Math.max(0, Math.min(r.age, 0xffff)) };
      if (this.entries.length < this.viewSize) { this.entries.push(entry); continue; }
      while (replaceable.length > 0) {
        const id = replaceable.shift()!;
        const i = this.entries.findIndex((e) => e.id === id);
        if (i >= 0) { this.entries[i] = entry; break; }
      }
    }
  }

  private shuffled<T>(xs: readonly T[]): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.config.random() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}
