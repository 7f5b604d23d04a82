// The simulator's event log: a running 64-bit hash (two FNV-1a lanes) over every
// recorded event, plus an optional bounded list of the most recent entries.
// Contract: two runs with the same seed and inputs record the same sequence, so
// `digest()` is identical; any divergence (time, kind, entity, packet bytes) changes it.

export const EventKind = {
  send: 1,
  deliver: 2,
  drop: 3,
  forward: 4,
  natMap: 5,
  natExpire: 6,
  natTranslate: 7,
  linkState: 8,
  timer: 9,
} as const;
export type EventKindName = keyof typeof EventKind;

export interface LogEntry {
  timeMs: number;
  kind: EventKindName;
  entity: string;
  detail: string;
}

const KIND_NAMES: Record<number, EventKindName> = Object.fromEntries(
  Object.entries(EventKind).map(([k, v]) => [v, k as EventKindName]),
);

export class EventLog {
  /** When false, `record` is a no-op (benchmarks). */
  enabled = true;
  /** Count of recorded events. */
  count = 0;
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193 ^ 0x5bd1e995;
  private readonly keep: number;
  private readonly entries: LogEntry[] = [];

  /** keep: how many most-recent entries to retain for inspection (0 = hash only). */
  constructor(keep = 0) {
    this.keep = keep;
  }

  private mix(x: number): void {
    x = x >>> 0;
    for (let i = 0; i < 4; i++) {
      const b = (x >>> (i * 8)) & 0xff;
      this.h1 = Math.imul(this.h1 ^ b, 0x01000193) >>> 0;
      this.h2 = Math.imul(this.h2 ^ b, 0x01000193 + 0x100) >>> 0;
    }
  }

  /** Record one event; `bytes`, if given, is hashed in full. `detail` is only built when kept. */
  record(timeMs: number, kind: number, entity: number, reason: number, bytes?: Uint8Array, detail?: () => string): void {
    if (!this.enabled) return;
    this.count++;
    const micros = Math.round(timeMs * 1000);
    this.mix(micros % 4294967296);
    this.mix(Math.floor(micros / 4294967296));
    this.mix(kind);
    this.mix(entity);
    this.mix(reason);
    if (bytes) {
      this.mix(bytes.length);
      let h1 = this.h1;
      let h2 = this.h2;
      for (let i = 0; i < bytes.length; i++) {
        h1 = Math.imul(h1 ^ bytes[i], 0x01000193) >>> 0;
        h2 = Math.imul(h2 ^ bytes[i], 0x01000293) >>> 0;
      }
      this.h1 = h1;
      this.h2 = h2;
    }
    if (this.keep > 0) {
      if (this.entries.length >= this.keep) this.entries.shift();
      this.entries.push({ timeMs, kind: KIND_NAMES[kind] ?? 'timer', entity: String(entity), detail: detail ? detail() : `reason=${reason}` });
    }
  }

  /** 16 hex digits identifying the whole sequence recorded so far. */
  digest(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0');
  }

  /** The most recent entries (up to `keep`). */
  recent(): readonly LogEntry[] {
    return this.entries;
  }
}
