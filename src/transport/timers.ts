// The connection's timer table: one optional deadline per kind; the next
// wake-up is the minimum (quinn-proto's TimerTable).
import type { Millis } from '../wire/socket.ts';

export type TimerKind = 'loss' | 'idle' | 'keepAlive' | 'close' | 'pathValidation' | 'pacing' | 'unauthClose';
const KINDS: TimerKind[] = ['loss', 'idle', 'keepAlive', 'close', 'pathValidation', 'pacing', 'unauthClose'];

export class TimerTable {
  private readonly at = new Map<TimerKind, Millis>();
  set(kind: TimerKind, when: Millis | undefined): void {
    if (when === undefined) this.at.delete(kind); else this.at.set(kind, when);
  }
  get(kind: TimerKind): Millis | undefined { return this.at.get(kind); }
  /** Kinds whose deadline has passed, removed from the table. */
  expired(now: Millis): TimerKind[] {
    const out: TimerKind[] = [];
    for (const k of KINDS) { const t = this.at.get(k); if (t !== undefined && t <= now) { out.push(k); this.at.delete(k); } }
    return out;
  }
  next(): Millis | undefined {
    let min: Millis | undefined;
    for (const t of this.at.values()) if (min === undefined || t < min) min = t;
    return min;
  }
}
