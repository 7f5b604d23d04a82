// The connection's timer table: one optional deadline per kind; the next
// wake-up is the minimum (quinn-proto's TimerTable). Kept in a fixed array
// indexed by kind (set on every received and sent packet: no Map, no allocation).
import type { Millis } from '../wire/socket.ts';

export type TimerKind = 'loss' | 'idle' | 'keepAlive' | 'close' | 'pathValidation' | 'pacing' | 'unauthClose';
const KINDS: readonly TimerKind[] = ['loss', 'idle', 'keepAlive', 'close', 'pathValidation', 'pacing', 'unauthClose'];
const INDEX: Readonly<Record<TimerKind, number>> = { loss: 0, idle: 1, keepAlive: 2, close: 3, pathValidation: 4, pacing: 5, unauthClose: 6 };

export class TimerTable {
  /** deadline per kind, NaN = unset */
  private readonly at = new Float64Array(KINDS.length).fill(NaN);
  set(kind: TimerKind, when: Millis | undefined): void {
    this.at[INDEX[kind]] = when === undefined ? NaN : when;
  }
  get(kind: TimerKind): Millis | undefined {
    const t = this.at[INDEX[kind]];
    return t === t ? t : undefined;
  }
  /** Kinds whose deadline has passed, removed from the table, in KINDS order. */
  expired(now: Millis): TimerKind[] {
    const out: TimerKind[] = [];
    for (let i = 0; i < KINDS.length; i++) if (this.at[i] <= now) { out.push(KINDS[i]); this.at[i] = NaN; }
    return out;
  }
  next(): Millis | undefined {
    let min = Infinity;
    for (let i = 0; i < KINDS.length; i++) { const t = this.at[i]; if (t < min) min = t; }
    return min === Infinity ? undefined : min;
  }
}
