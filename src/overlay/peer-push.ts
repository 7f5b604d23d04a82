// The peer's push channel to the directory, kept alive across network changes: I/O glue
// that runs a PushKeeper (push-keeper.ts: pings, deadlines, make-before-break replacement,
// retry backoff) over DirectoryClient.openPush and a Clock.
// Contract:
//   const p = new PeerPush(deps); await p.start()   // rejects (DirectoryError) if the first
//                                                   // channel cannot be opened
//   p.moved() / p.suspect()   the network changed / may have changed (see push-keeper.ts)
//   p.close()
// Every message of every open channel goes to deps.onMessage (during a replacement both
// may deliver the same one: consumers deduplicate, as the Peer does rendezvous by id).
// deps.onReconnected runs after each later channel opened (the Peer republishes presence).
import type { DirectoryClient, PushChannel, PushMessage } from '../directory/client.ts';
import type { Clock, TimerHandle } from '../wire/socket.ts';
import { PushKeeper, type PushKeeperConfig } from './push-keeper.ts';

export interface PeerPushDeps {
  readonly dir: DirectoryClient;
  readonly deviceId: string;
  readonly clock: Clock;
  /** Uniform in [0, 1) (retry jitter). */
  readonly random: () => number;
  readonly onMessage: (m: PushMessage) => void;
  readonly onReconnected: () => void;
  readonly log: (line: string) => void;
  /** An open attempt without the directory's hello within this long fails (default 5 s). */
  readonly openTimeoutMs?: number;
  readonly keeper?: Omit<PushKeeperConfig, 'random'>;
}

export class PeerPush {
  private readonly keeper: PushKeeper;
  private readonly channels = new Map<number, PushChannel>();
  private timer?: TimerHandle;
  private timerAt?: number;
  private closed = false;
  private first?: { resolve: () => void; reject: (e: unknown) => void };

  constructor(private readonly d: PeerPushDeps) {
    this.keeper = new PushKeeper({ ...d.keeper, random: d.random });
  }

  /** Opens the first channel (and keeps one open from then on). */
  start(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => { this.first = { resolve, reject }; });
    this.keeper.start(this.d.clock.now());
    this.pump();
    return p;
  }

  moved(): void { this.input((now) => this.keeper.moved(now)); }
  suspect(): void { this.input((now) => this.keeper.suspect(now)); }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.keeper.close();
    this.timer?.cancel();
    for (const ch of this.channels.values()) ch.close();
    this.channels.clear();
  }

  private input(f: (now: number) => void): void {
    if (this.closed) return;
    f(this.d.clock.now());
    this.pump();
  }

  private pump(): void {
    if (this.closed) return;
    for (let a = this.keeper.pollAction(); a; a = this.keeper.pollAction()) {
      if (a.type === 'open') this.open(a.id, a.reason);
      else if (a.type === 'ping') this.channels.get(a.id)?.ping();
      else {
        const ch = this.channels.get(a.id);
        this.channels.delete(a.id);
        if (ch) { this.d.log(`push channel ${a.id} dropped (${a.reason})`); ch.terminate(); }
      }
    }
    const at = this.keeper.pollTimeout();
    if (at === this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = at;
    if (at !== undefined) {
      this.timer = this.d.clock.setTimer(at, () => {
        this.timerAt = undefined;
        this.input((now) => this.keeper.handleTimeout(now));
      });
    }
  }

  private open(id: number, reason: string): void {
    if (id > 1) this.d.log(`push channel: opening ${id} (${reason})`);
    this.d.dir.openPush({
      deviceId: this.d.deviceId,
      timeoutMs: this.d.openTimeoutMs ?? 5_000,
      onMessage: (m) => { if (!this.closed) this.d.onMessage(m); },
      onPong: () => this.input((now) => this.keeper.pong(now, id)),
      onClose: (code, why) => {
        if (this.closed || !this.channels.has(id)) return;
        this.channels.delete(id);
        this.d.log(`push channel ${id} closed (${code}${why ? ` ${why}` : ''})`);
        this.input((now) => this.keeper.closed(now, id));
      },
    }).then((ch) => {
      if (this.closed) { ch.close(); return; }
      this.channels.set(id, ch);
      this.input((now) => this.keeper.opened(now, id));
      if (this.first) { this.first.resolve(); this.first = undefined; } else if (this.channels.has(id)) {
        this.d.log(`push channel ${id} open`);
        this.d.onReconnected();
      }
    }, (e: unknown) => {
      if (this.closed) return;
      if (this.first) { this.first.reject(e); this.first = undefined; this.close(); return; }
      this.d.log(`push channel ${id} failed: ${(e as Error).message}`);
      this.input((now) => this.keeper.openFailed(now, id));
    });
  }
}
