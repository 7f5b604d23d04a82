// Packets sent in one packet-number space and not yet acknowledged or declared
// lost, in packet-number order, with what each carried (so that lost *frames*
// can be re-sent in new packets and acked frames released).
import type { Millis } from '../wire/socket.ts';
import type { Frame } from './wire/frames.ts';
import type { SentStreamFrame } from './streams/streams.ts';
import type { RateStamp } from './delivery-rate.ts';

export type SentFrame =
  | ({ kind: 'stream' } & SentStreamFrame)
  | { kind: 'crypto'; offset: number; len: number }
  | { kind: 'control'; frame: Frame } // MAX_*, RESET_STREAM, STOP_SENDING
  | { kind: 'handshake_done' }
  | { kind: 'ack'; largest: number }
  | { kind: 'path_challenge' };

export interface SentPacket {
  pn: number;
  timeSent: Millis;
  /** UDP payload bytes. */
  size: number;
  ackEliciting: boolean;
  inFlight: boolean;
  frames: SentFrame[];
  /** Set for DPLPMTUD probes: the probed size. Their loss is not a congestion signal. */
  mtuProbe?: number;
  done?: boolean;
  /** Delivery-rate stamp (in-flight packets). */
  rate?: RateStamp;
}

export class SentPackets {
  private list: SentPacket[] = [];
  private head = 0;
  /** Live (not done) packets. */
  count = 0;
  ackElicitingInFlight = 0;

  push(p: SentPacket): void {
    this.list.push(p);
    this.count++;
    if (p.ackEliciting && p.inFlight) this.ackElicitingInFlight++;
  }

  private lowerBound(pn: number): number {
    let lo = this.head, hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.list[mid].pn < pn) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** Remove and return the live packets with lo <= pn <= hi. */
  takeRange(lo: number, hi: number, out: SentPacket[]): void {
    for (let i = this.lowerBound(lo); i < this.list.length; i++) {
      const p = this.list[i];
      if (p.pn > hi) break;
      if (!p.done) { this.markDone(p, false); out.push(p); }
    }
    this.compact();
  }

  /** Mark one packet acked/lost. `compact` false while iterating over the list (indices must not move). */
  markDone(p: SentPacket, compact = true): void {
    if (p.done) return;
    p.done = true;
    this.count--;
    if (p.ackEliciting && p.inFlight) this.ackElicitingInFlight--;
    if (compact) this.compact();
  }

  /** Live packets in pn order up to and including `maxPn`. */
  *upTo(maxPn: number): IterableIterator<SentPacket> {
    for (let i = this.head; i < this.list.length; i++) {
      const p = this.list[i];
      if (p.pn > maxPn) return;
      if (!p.done) yield p;
    }
  }

  *all(): IterableIterator<SentPacket> { yield* this.upTo(Infinity); }

  private compact(): void {
    while (this.head < this.list.length && this.list[this.head].done) this.head++;
    if (this.head > 1024 && this.head * 2 > this.list.length) { this.list = this.list.slice(this.head); this.head = 0; }
  }

  clear(): SentPacket[] {
    const live = [...this.all()];
    for (const p of live) this.markDone(p);
    return live;
  }
}
