// Local push hub: the WebSocket connections open on THIS directory instance,
// indexed by user. Contract: deliver() sends one JSON text frame per open
// socket of each listed user and returns how many frames went out; sockets
// whose send buffer exceeds `maxBufferedBytes` are closed (slow consumer), so
// memory stays bounded. Every rendezvous it delivers (or would: the device may have no
// channel here) is also kept for its device (replay.ts) until the device acknowledges it
// or it expires, and replayed to each channel of that device that opens meanwhile: every
// instance sees every push (fanout.ts), so whichever one the device reconnects to has it.
// It also knows which devices have a channel open on any instance (noteOpen/noteClosed), so a
// device that reconnected elsewhere is not marked offline when its old channel here closes.
import type { WebSocket } from 'ws';
import { RendezvousReplay, type ReplayConfig } from './replay.ts';

const MAX_DEVICES = 100_000;

export interface PushConnection { userId: string; deviceId: string | undefined; socket: WebSocket }

/** Push channels kept per device (make-before-break needs 2), per user, and per instance (then refused). */
export interface PushLimits { readonly perDevice?: number; readonly perUser?: number; readonly total?: number }
const DEFAULT_LIMITS: Required<PushLimits> = { perDevice: 4, perUser: 32, total: 100_000 };

/** Closes `o` (4008); a client that does not complete the closing handshake within 1 s is cut off. */
function evict(o: PushConnection, reason: string): void {
  o.socket.close(4008, reason);
  setTimeout(() => { if (o.socket.readyState !== o.socket.CLOSED) o.socket.terminate(); }, 1_000).unref();
}

export class PushHub {
  private readonly byUser = new Map<string, Set<PushConnection>>();
  private total = 0;
  readonly replay: RendezvousReplay;
  private readonly now: () => number;
  private readonly openAnywhere = new Map<string, string[]>();

  readonly limits: Required<PushLimits>;

  constructor(private readonly maxBufferedBytes = 1 << 20, opts: { now?: () => number; replay?: ReplayConfig; limits?: PushLimits } = {}) {
    this.now = opts.now ?? Date.now;
    this.replay = new RendezvousReplay(opts.replay);
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  /** May another channel be accepted on this instance? (Beyond limits.total: refuse it, 503.) */
  get full(): boolean {
    return this.total >= this.limits.total;
  }

  get connections(): number { return this.total; }

  /**
   * Adds `c`; past limits.perDevice channels of its device (or of the user's channels opened
   * without a device) or limits.perUser channels of its user, the OLDEST are closed (4008): the
   * newest wins, so a make-before-break replacement keeps working.
   */
  add(c: PushConnection): void {
    let set = this.byUser.get(c.userId);
    if (!set) { set = new Set(); this.byUser.set(c.userId, set); }
    set.add(c); this.total++;
    const open = [...set].filter((o) => o.socket.readyState === o.socket.OPEN || o.socket.readyState === o.socket.CONNECTING);
    const sameDevice = open.filter((o) => o.deviceId === c.deviceId);
    for (const o of sameDevice.slice(0, Math.max(0, sameDevice.length - this.limits.perDevice))) evict(o, 'too many push channels for this device');
    const rest = open.filter((o) => o.socket.readyState === o.socket.OPEN || o.socket.readyState === o.socket.CONNECTING);
    for (const o of rest.slice(0, Math.max(0, rest.length - this.limits.perUser))) evict(o, 'too many push channels for this user');
  }

  /** Removes `c`; true if no other connection of the same device remains. */
  remove(c: PushConnection): boolean {
    const set = this.byUser.get(c.userId);
    if (!set?.delete(c)) return false;
    this.total--;
    if (!set.size) this.byUser.delete(c.userId);
    return !c.deviceId || ![...(set ?? [])].some((o) => o.deviceId === c.deviceId);
  }

  deliver(userIds: readonly string[], message: object): number {
    const r = message as { type?: unknown; id?: unknown; deviceId?: unknown; startAt?: unknown };
    if (r.type === 'rendezvous' && typeof r.id === 'string' && typeof r.deviceId === 'string' && typeof r.startAt === 'number') {
      this.replay.keep(this.now(), r.deviceId, r.id, r.startAt, message);
    }
    const frame = JSON.stringify(message);
    let sent = 0;
    for (const id of userIds) {
      for (const c of this.byUser.get(id) ?? []) {
        if (c.socket.readyState !== c.socket.OPEN) continue;
        if (c.socket.bufferedAmount > this.maxBufferedBytes) { c.socket.close(1013, 'slow consumer'); continue; }
        c.socket.send(frame); sent++;
      }
    }
    return sent;
  }

  /** Sends `c` (a channel that just opened) the rendezvous its device has not acknowledged; returns how many. */
  replayTo(c: PushConnection): number {
    if (!c.deviceId || c.socket.readyState !== c.socket.OPEN) return 0;
    const list = this.replay.pending(this.now(), c.deviceId);
    for (const m of list) c.socket.send(JSON.stringify(m));
    return list.length;
  }

  /** The device acknowledged rendezvous `id` (on any instance): never replay it again. True if it was kept here. */
  acked(deviceId: string, id: string): boolean {
    return this.replay.ack(deviceId, id);
  }

  /**
   * A channel of `deviceId` (`channel`: its random id) is open on some instance (control
   * 'push-open'), or no longer (noteClosed, 'push-close'). Remembered per device (at most 8 open
   * channels per device, MAX_DEVICES devices, the least recently opened forgotten first) so that
   * a device whose last channel HERE closes is not marked offline while it has one elsewhere
   * (make-before-break across instances). An instance that dies without closing its channels
   * leaves entries behind: those devices then go offline only by presence staleness (5 min).
   */
  noteOpen(deviceId: string, channel: string): void {
    const list = this.openAnywhere.get(deviceId) ?? [];
    if (list.includes(channel)) return;
    this.openAnywhere.delete(deviceId);
    list.push(channel);
    if (list.length > 8) list.shift();
    this.openAnywhere.set(deviceId, list);
    if (this.openAnywhere.size > MAX_DEVICES) this.openAnywhere.delete(this.openAnywhere.keys().next().value!);
  }

  noteClosed(deviceId: string, channel: string): void {
    const list = this.openAnywhere.get(deviceId);
    if (!list) return;
    const i = list.indexOf(channel);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.openAnywhere.delete(deviceId);
  }

  /** Is a channel of `deviceId` known to be open on any instance? */
  openAnywhereCount(deviceId: string): number {
    return this.openAnywhere.get(deviceId)?.length ?? 0;
  }

  /** Closes every push connection of `userId` on this instance. */
  closeUser(userId: string, code: number, reason: string): void {
    for (const c of this.byUser.get(userId) ?? []) c.socket.close(code, reason);
  }

  closeAll(code: number, reason: string): void {
    for (const set of this.byUser.values()) for (const c of set) c.socket.close(code, reason);
  }
}
