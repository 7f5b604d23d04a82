// Local push hub: the WebSocket connections open on THIS directory instance,
// indexed by user. Contract: deliver() sends one JSON text frame per open
// socket of each listed user and returns how many frames went out; sockets
// whose send buffer exceeds `maxBufferedBytes` are closed (slow consumer), so
// memory stays bounded.
import type { WebSocket } from 'ws';

export interface PushConnection { userId: string; deviceId: string | undefined; socket: WebSocket }

export class PushHub {
  private readonly byUser = new Map<string, Set<PushConnection>>();
  private total = 0;

  constructor(private readonly maxBufferedBytes = 1 << 20) {}

  get connections(): number { return this.total; }

  add(c: PushConnection): void {
    let set = this.byUser.get(c.userId);
    if (!set) { set = new Set(); this.byUser.set(c.userId, set); }
    set.add(c); this.total++;
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

  /** Closes every push connection of `userId` on this instance. */
  closeUser(userId: string, code: number, reason: string): void {
    for (const c of this.byUser.get(userId) ?? []) c.socket.close(code, reason);
  }

  closeAll(code: number, reason: string): void {
    for (const set of this.byUser.values()) for (const c of set) c.socket.close(code, reason);
  }
}
