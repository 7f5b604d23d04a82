// An in-memory PeerNode pair for chat service tests: sessions and streams are crossed
// in-process Duplexes; `cut()` breaks every session (as a path loss would), `online`
// switches a peer's reachability (connect() rejects with contact-offline). A user may have
// several devices (FakePeer per device, `deviceId`); `world` maps a username to the device
// that connect() reaches (set it to move a user's reachability to another device).
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { PeerError, type ContactSession, type ContactStatus, type PathInfo, type PeerNode } from '../../src/overlay/peer-api.ts';

/** With `slow`, writes complete a tick later and the buffer is 1 KiB: write() soon returns false. */
export function duplexPair(slow = false): [Duplex, Duplex] {
  const make = (other: () => Duplex) => new Duplex({
    highWaterMark: slow ? 1024 : 16 * 1024,
    read() { /* pushed by the other side */ },
    write(chunk, _enc, cb) { other().push(Buffer.from(chunk)); if (slow) setImmediate(cb); else cb(); },
    final(cb) { other().push(null); cb(); },
    destroy(err, cb) { const o = other(); if (!o.destroyed) o.destroy(); cb(err); },
  });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return [a, b];
}

class FakeSession extends EventEmitter<{ stream: [Duplex]; path: [PathInfo]; close: [Error | undefined] }> implements ContactSession {
  other!: FakeSession;
  closed = false;
  readonly remoteStatic = new Uint8Array(32);
  readonly path: PathInfo = { kind: 'direct', rttMs: 1, remote: '127.0.0.1:1' };
  private readonly streams: Duplex[] = [];
  /** `username`/`deviceId`: the contact device at the other end of this session. */
  constructor(readonly username: string, readonly deviceId: string, private readonly slow = false) { super(); }
  async openStream(): Promise<Duplex> {
    if (this.closed) throw new Error('session closed');
    const [a, b] = duplexPair(this.slow);
    this.streams.push(a); this.other.streams.push(b);
    queueMicrotask(() => this.other.emit('stream', b));
    return a;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams) s.destroy();
    this.emit('close', undefined);
    this.other.close();
  }
}

export class FakePeer extends EventEmitter<{ session: [ContactSession]; 'key-changed': [{ username: string; deviceId: string }]; presence: [ContactStatus] }> implements PeerNode {
  online = true;
  /** Streams of new sessions push back (see duplexPair). */
  slowStreams = false;
  readonly nat = 'public';
  /** Sessions by `${username}/${deviceId}` of the other end. */
  private readonly live = new Map<string, FakeSession>();
  constructor(readonly username: string, private readonly world: Map<string, FakePeer>, readonly deviceId = '00') { super(); world.set(username, this); }

  async connect(username: string): Promise<ContactSession> {
    if (!this.online) throw new PeerError('closed', 'peer closed');
    const other = this.world.get(username);
    if (!other) throw new PeerError('unknown-user', `no such user ${username}`);
    if (!other.online) throw new PeerError('contact-offline', `${username} is offline`);
    const existing = this.live.get(`${username}/${other.deviceId}`);
    if (existing && !existing.closed) return existing;
    const mine = new FakeSession(username, other.deviceId, this.slowStreams);
    const theirs = new FakeSession(this.username, this.deviceId, this.slowStreams);
    mine.other = theirs; theirs.other = mine;
    this.live.set(`${username}/${other.deviceId}`, mine); other.live.set(`${this.username}/${this.deviceId}`, theirs);
    other.emit('session', theirs);
    return mine;
  }
  sessions(): ContactSession[] { return [...this.live.values()].filter((s) => !s.closed); }
  async status(): Promise<ContactStatus[]> {
    return [...this.world.values()].filter((p) => p !== this).map((p) => ({ username: p.username, presence: p.online ? 'online' : 'offline', path: this.live.get(`${p.username}/${p.deviceId}`)?.path }));
  }
  /** Every session breaks. */
  cut(): void { for (const s of this.live.values()) s.close(); this.live.clear(); }
  setOnline(v: boolean): void {
    this.online = v;
    if (!v) this.cut();
    for (const p of this.world.values()) if (p !== this) p.emit('presence', { username: this.username, presence: v ? 'online' : 'offline' });
  }
  async close(): Promise<void> { this.setOnline(false); }
}
