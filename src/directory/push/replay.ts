// Rendezvous replay: what the directory keeps of recent rendezvous so that a device whose
// push channel dropped (network change, NAT renumbering, an instance that died) still gets
// a call that was issued while its channel was down or in flight when it died.
// Contract (pure: time is an argument, no timers, no I/O):
//   keep(now, deviceId, id, startAt, message) — a rendezvous was pushed for `deviceId`
//     (its copy `message`, as sent); kept until acknowledged or `ttlMs` old;
//   ack(deviceId, id) — the device said it received it: never replayed again (true if it
//     was still kept); has(deviceId, id) — still kept?
//   pending(now, deviceId) — what to replay to a channel of that device that just opened,
//     oldest first, each as sent with `delayMs` = max(0, startAt - now) and `replayed: true`.
// Bounded memory: at most `perDevice` entries per device (its oldest dropped first), at
// most `total` entries in all (the oldest overall dropped first), none older than `ttlMs`
// (expired entries are dropped on every keep() and pending()). A message is kept once per
// (device, id) however often it is delivered.

export interface ReplayConfig {
  /** How long an unacknowledged rendezvous is replayed (default 15 s: a caller's connect timeout). */
  readonly ttlMs?: number;
  /** Most rendezvous kept per device (default 8). */
  readonly perDevice?: number;
  /** Most rendezvous kept in all (default 10,000). */
  readonly total?: number;
}

interface Entry {
  readonly deviceId: string;
  readonly id: string;
  readonly startAt: number;
  readonly expiresAt: number;
  readonly message: object;
}

export class RendezvousReplay {
  readonly ttlMs: number;
  readonly perDevice: number;
  readonly total: number;
  private readonly byDevice = new Map<string, Entry[]>();
  /** Every entry, oldest first (kept in insertion order; the TTL is the same for all). */
  private readonly all = new Set<Entry>();
  /** Entries dropped before they expired or were acknowledged (a bound was hit). */
  evicted = 0;

  constructor(c: ReplayConfig = {}) {
    this.ttlMs = c.ttlMs ?? 15_000;
    this.perDevice = Math.max(1, c.perDevice ?? 8);
    this.total = Math.max(1, c.total ?? 10_000);
  }

  get size(): number {
    return this.all.size;
  }

  keep(now: number, deviceId: string, id: string, startAt: number, message: object): void {
    this.expire(now);
    let list = this.byDevice.get(deviceId);
    if (list?.some((e) => e.id === id)) return;
    if (!list) { list = []; this.byDevice.set(deviceId, list); }
    const e: Entry = { deviceId, id, startAt, expiresAt: now + this.ttlMs, message };
    list.push(e);
    this.all.add(e);
    while (list.length > this.perDevice) { this.remove(list[0]); this.evicted++; }
    while (this.all.size > this.total) { this.remove(this.all.values().next().value!); this.evicted++; }
  }

  ack(deviceId: string, id: string): boolean {
    const e = this.byDevice.get(deviceId)?.find((x) => x.id === id);
    if (!e) return false;
    this.remove(e);
    return true;
  }

  /** Is rendezvous `id` still kept (not acknowledged, not expired by the last keep()/pending()) for `deviceId`? */
  has(deviceId: string, id: string): boolean {
    return !!this.byDevice.get(deviceId)?.some((e) => e.id === id);
  }

  pending(now: number, deviceId: string): object[] {
    this.expire(now);
    return (this.byDevice.get(deviceId) ?? []).map((e) => ({ ...e.message, delayMs: Math.max(0, e.startAt - now), replayed: true }));
  }

  private expire(now: number): void {
    for (const e of this.all) {
      if (e.expiresAt > now) break;
      this.remove(e);
    }
  }

  private remove(e: Entry): void {
    this.all.delete(e);
    const list = this.byDevice.get(e.deviceId);
    if (!list) return;
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.byDevice.delete(e.deviceId);
  }
}
