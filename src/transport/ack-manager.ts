// Received packet numbers of one space and the ACK policy: acknowledge at
// once in the handshake space, on out-of-order arrival, or after every
// `frequency` ack-eliciting packets; otherwise within `maxAckDelayMs`.
// Packets that are not ack-eliciting (the peer's ACK-only packets) are
// acknowledged only by piggybacking: `worthPiggybacking` says whether an ACK
// frame is worth its bytes in an outgoing packet — yes while ack-eliciting
// packets are unacknowledged, otherwise at most once per `intervalMs` (so the
// peer can still trim its own ACK ranges), never after every packet.
import type { Millis } from '../wire/socket.ts';
import { RangeSet } from './ranges.ts';
import type { Frame } from './wire/frames.ts';

export const MAX_TRACKED_RANGES = 64;

export class AckManager {
  readonly received = new RangeSet(MAX_TRACKED_RANGES);
  largest = -1;
  private largestTime: Millis = 0;
  private elicitingSinceAck = 0;
  private lastAckSentAt: Millis = -Infinity;
  /** Something new to acknowledge. */
  pending = false;
  /** When an ACK must go out (undefined: no deadline). */
  deadline: Millis | undefined;

  constructor(private readonly maxAckDelayMs: number, private readonly frequency: number, private readonly immediate: boolean) {}

  isDuplicate(pn: number): boolean { return this.received.has(pn); }

  /** Record a received packet (already checked not to be a duplicate). */
  onPacket(now: Millis, pn: number, ackEliciting: boolean): void {
    const outOfOrder = pn < this.largest || (this.largest >= 0 && pn > this.largest + 1);
    this.received.add(pn);
    if (pn > this.largest) { this.largest = pn; this.largestTime = now; }
    this.pending = true;
    if (!ackEliciting) return;
    this.elicitingSinceAck++;
    if (this.immediate || outOfOrder || this.elicitingSinceAck >= this.frequency) this.deadline = now;
    else if (this.deadline === undefined) this.deadline = now + this.maxAckDelayMs;
  }

  /** An ACK is owed now. */
  due(now: Millis): boolean { return this.deadline !== undefined && this.deadline <= now; }

  frame(now: Millis): Extract<Frame, { type: 'ack' }> | undefined {
    const rs = this.received.ranges;
    if (rs.length === 0) return undefined;
    const ranges = [];
    for (let i = rs.length - 1; i >= 0 && ranges.length < 32; i--) ranges.push({ lo: rs[i].lo, hi: rs[i].hi });
    return { type: 'ack', ackDelayUs: Math.max(0, Math.round((now - this.largestTime) * 1000)), ranges };
  }

  /** Include an ACK frame in a packet being sent anyway? (see the header comment) */
  worthPiggybacking(now: Millis, intervalMs: number): boolean {
    return this.pending && (this.elicitingSinceAck > 0 || now - this.lastAckSentAt >= intervalMs);
  }

  onAckSent(now: Millis): void {
    this.lastAckSentAt = now;
    this.pending = false;
    this.elicitingSinceAck = 0;
    this.deadline = undefined;
  }

  /** The peer has seen an ACK of ours covering up to `largest`: stop repeating older ranges. */
  onAckAcked(largest: number): void {
    if (largest + 1 > this.received.floor && largest < this.largest) {
      this.received.remove(0, largest);
      this.received.floor = largest + 1;
    }
  }
}
