// The chat service: binds the sans-IO ChatSender/ChatReceiver of every conversation to a
// PeerNode's sessions and streams, and to the ChatStore. One app stream per direction:
// we open a stream (preamble "tincan-chat/1") to carry our messages to a contact, and
// accept the contact's stream carrying theirs; receipts flow back on the same stream.
// Contract:
//   - Sequence spaces are per device pair: a contact with several devices has one
//     conversation (ChatSender + ChatReceiver, store row) per device, keyed by the device
//     the session authenticated (ContactSession.deviceId). A device's watermark never
//     acknowledges another device's messages.
//   - send() stores the message (status queued, not yet assigned to a device) and returns
//     at once. When a link to one of the contact's devices comes up, the unassigned
//     messages are numbered in that device's space, in the order sent, and stay with that
//     device until its receipt: delivered in order, exactly once, with one 'receipt' event.
//   - A broken stream or session (path loss, peer restart) is reopened: immediately
//     when the contact comes online (presence), else after retryMs, doubling per failed
//     attempt up to MAX_RETRY_MS, while messages wait. A session the contact's device
//     opens to us is used at once for that device's queued messages.
//   - Incoming messages are stored before they are acknowledged; 'message' fires once each.
//   - A hostile frame (ChatDecodeError / ChatProtocolError) destroys that stream only.
//   - Our messages are written as the stream accepts them (write() false: wait for 'drain').
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { ContactSession, PeerNode } from '../../overlay/peer-api.ts';
import { encodePreamble, readPreamble } from '../stream-preamble.ts';
import { CHAT_PROTOCOL, FrameReader } from './wire.ts';
import { ChatLimitError } from './errors.ts';
import { ChatSender, DEFAULT_MAX_OUTBOX, checkText } from './sender.ts';
import { ChatReceiver } from './receiver.ts';
import type { ChatStore, HistoryEntry, Unassigned } from './store.ts';

export interface ChatServiceOptions {
  peer: PeerNode;
  store: ChatStore;
  randomBytes(n: number): Uint8Array;
  /** Wall clock, unix ms (timestamps in history). */
  now(): number;
  retryMs?: number;
  maxOutbox?: number;
}

export interface ChatMessageEvent { from: string; id: string; seq: number; sentAt: number; text: string }
export interface ChatReceiptEvent { to: string; id: string; seq: number }
export interface ChatLinkEvent { peer: string; direction: 'out' | 'in'; state: 'up' | 'down'; error?: string }

/** The conversation with one device of a contact: its two sequence spaces and streams. */
interface Conversation {
  readonly peer: string;
  readonly device: string;
  /** Replaced (rebuilt from the store) when a store write fails. */
  sender: ChatSender;
  readonly receiver: ChatReceiver;
  out?: Duplex;
  in?: Duplex;
  /** next_seq as last written to the store. */
  storedNext: number;
  /** The incoming watermark as last written to the store. */
  storedDelivered: number;
}

/** One contact: its devices' conversations, the messages not yet given to a device, reconnects. */
interface Contact {
  readonly peer: string;
  readonly devices: Map<string, Conversation>;
  readonly unassigned: Unassigned[];
  connecting: boolean;
  retry?: NodeJS.Timeout;
  /** Delay before the next reconnect attempt (doubles per failure). */
  backoffMs: number;
  /** Queued messages of a schema-1 store wait for the first device loaded (store.ts adoption): reach one. */
  legacyOutbox: boolean;
}

export const MAX_RETRY_MS = 30_000;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class ChatService extends EventEmitter<{ message: [ChatMessageEvent]; receipt: [ChatReceiptEvent]; link: [ChatLinkEvent]; session: [ContactSession] }> {
  private readonly contacts = new Map<string, Contact>();
  private readonly sessions = new WeakSet<ContactSession>();
  private closed = false;
  private readonly retryMs: number;
  private readonly maxOutbox: number;
  private readonly onSession = (s: ContactSession) => this.attachSession(s);
  private readonly onPresence = (p: { username: string; presence: string }) => {
    if (p.presence === 'offline') return;
    const k = this.contacts.get(p.username);
    if (k) k.backoffMs = this.retryMs;
    this.kick(p.username);
  };

  constructor(private readonly opts: ChatServiceOptions) {
    super();
    this.retryMs = opts.retryMs ?? 3000;
    this.maxOutbox = opts.maxOutbox ?? DEFAULT_MAX_OUTBOX;
  }

  start(): void {
    this.opts.peer.on('session', this.onSession);
    this.opts.peer.on('presence', this.onPresence);
    for (const s of this.opts.peer.sessions()) this.attachSession(s);
    for (const peer of this.opts.store.peersWithOutbox()) this.kick(peer);
  }

  /** Queues a message; returns its id (hex) and seq (0 until it is assigned to a device of the contact). Throws ChatLimitError. */
  send(to: string, text: string): { id: string; seq: number } {
    if (this.closed) throw new Error('chat service closed');
    checkText(text);
    const k = this.contact(to);
    const pending = this.pending(to);
    if (pending >= this.maxOutbox) throw new ChatLimitError('outbox-full', `${pending} messages not yet delivered (max ${this.maxOutbox})`);
    const now = this.opts.now();
    const m: Unassigned = { id: this.opts.randomBytes(16), sentAt: now, text };
    this.opts.store.recordOutgoing(to, m, now);
    k.unassigned.push(m);
    // a link that is up to one of the contact's devices takes it at once (flushOut assigns)
    let seq = 0;
    for (const c of k.devices.values()) {
      if (!linkUp(c)) continue;
      this.flushOut(c);
      seq = c.sender.pending.find((o) => o.id === m.id)?.seq ?? 0;
      break;
    }
    this.kick(to);
    return { id: hex(m.id), seq };
  }

  /** Resolves true when the receipt for `id` has arrived (also before this call), false after timeoutMs. */
  waitReceipt(id: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.opts.store.outgoing(id)?.status === 'delivered') { resolve(true); return; }
      const on = (r: ChatReceiptEvent) => { if (r.id === id) done(true); };
      const t = setTimeout(() => done(false), timeoutMs);
      const done = (v: boolean) => { clearTimeout(t); this.off('receipt', on); resolve(v); };
      this.on('receipt', on);
    });
  }

  history(peer: string | undefined, limit?: number): HistoryEntry[] { return this.opts.store.history(peer, limit); }

  /** One of our messages (id hex) as stored now: status, seq (0 while not yet assigned to a device), device. */
  outgoing(id: string): { status: HistoryEntry['status']; seq: number; device: string } | undefined { return this.opts.store.outgoing(id); }

  /** Undelivered outgoing messages to a contact (all its devices, and those not yet assigned to one). */
  pending(peer: string): number {
    const k = this.contact(peer);
    let n = k.unassigned.length;
    for (const c of k.devices.values()) n += c.sender.pending.length;
    return n;
  }

  close(): void {
    this.closed = true;
    this.opts.peer.off('session', this.onSession);
    this.opts.peer.off('presence', this.onPresence);
    for (const k of this.contacts.values()) {
      clearTimeout(k.retry);
      for (const c of k.devices.values()) { c.out?.destroy(); c.in?.destroy(); }
    }
  }

  private contact(peer: string): Contact {
    let k = this.contacts.get(peer);
    if (!k) {
      k = { peer, devices: new Map(), unassigned: this.opts.store.unassigned(peer), connecting: false, backoffMs: this.retryMs, legacyOutbox: this.opts.store.hasLegacyOutbox(peer) };
      this.contacts.set(peer, k);
      // devices with messages already numbered in their space (loaded so pending() counts them)
      for (const device of this.opts.store.devicesWithOutbox(peer)) this.conv(peer, device);
    }
    return k;
  }

  private conv(peer: string, device: string): Conversation {
    const k = this.contact(peer);
    let c = k.devices.get(device);
    if (!c) {
      const s = this.opts.store.load(peer, device);
      c = { peer, device, sender: new ChatSender(s.sender, this.maxOutbox), receiver: new ChatReceiver({ delivered: s.delivered }), storedNext: s.sender.nextSeq, storedDelivered: s.delivered };
      k.devices.set(device, c);
      k.legacyOutbox = false; // adopted by this device's load (or by an earlier one)
    }
    return c;
  }

  /** Numbers the contact's unassigned messages in `c`'s space (oldest first). */
  private assign(k: Contact, c: Conversation): void {
    while (k.unassigned.length > 0) {
      const m = k.unassigned[0];
      let out;
      try { out = c.sender.send(m); } catch (e) { if (e instanceof ChatLimitError) break; throw e; }
      this.opts.store.recordAssigned(k.peer, c.device, m.id, out.seq, c.sender.next);
      c.storedNext = c.sender.next;
      k.unassigned.shift();
    }
  }

  private hasPending(k: Contact): boolean {
    if (k.unassigned.length > 0 || k.legacyOutbox) return true;
    for (const c of k.devices.values()) if (c.sender.pending.length > 0) return true;
    return false;
  }

  private attachSession(s: ContactSession): void {
    if (this.sessions.has(s) || this.closed) return;
    this.sessions.add(s);
    this.emit('session', s);
    s.on('stream', (stream) => { this.acceptStream(s, stream).catch(() => stream.destroy()); });
    s.on('close', () => {
      const c = this.contacts.get(s.username)?.devices.get(s.deviceId);
      if (!c) return;
      if (c.out && streamSession.get(c.out) === s) c.out.destroy();
      if (c.in && streamSession.get(c.in) === s) c.in.destroy();
    });
    // this device's own queued messages go out on its session, whoever opened it
    const c = this.conv(s.username, s.deviceId);
    if (c.sender.pending.length > 0 && !c.out) void this.openOut(c, s).catch(() => { /* retried by kick */ });
  }

  /** Opens our outgoing stream to `peer` if messages wait and none is open or opening. */
  private kick(peer: string): void {
    const k = this.contact(peer);
    if (this.closed || k.connecting || !this.hasPending(k)) return;
    // a link is open (or opening): it takes the unassigned ones when its HELLO comes; what else
    // waits is numbered for devices we cannot reach now (they get it when they link)
    if ([...k.devices.values()].some((c) => c.out !== undefined && !c.out.destroyed)) return;
    clearTimeout(k.retry);
    k.retry = undefined;
    k.connecting = true;
    void (async () => {
      try {
        const session = await this.opts.peer.connect(peer);
        this.attachSession(session);
        const c = this.conv(peer, session.deviceId);
        if (!c.out) {
          if (k.unassigned.length === 0 && c.sender.pending.length === 0) {
            // reached a device with nothing for it: what waits is another device's
            this.scheduleRetry(k);
            return;
          }
          await this.openOut(c, session);
        }
      } catch (e) {
        this.emit('link', { peer, direction: 'out', state: 'down', error: (e as Error).message });
        this.scheduleRetry(k);
      } finally {
        k.connecting = false;
      }
    })();
  }

  private async openOut(c: Conversation, session: ContactSession): Promise<void> {
    const stream = await session.openStream();
    if (this.closed) { stream.destroy(); return; }
    if (c.out) { stream.destroy(); return; } // another path opened one meanwhile
    streamSession.set(stream, session);
    stream.write(encodePreamble(CHAT_PROTOCOL));
    this.bindOut(c, stream);
  }

  private scheduleRetry(k: Contact): void {
    if (this.closed || k.retry || !this.hasPending(k)) return;
    k.retry = setTimeout(() => { k.retry = undefined; this.kick(k.peer); }, k.backoffMs);
    k.retry.unref();
    k.backoffMs = Math.min(k.backoffMs * 2, Math.max(MAX_RETRY_MS, this.retryMs));
  }

  private bindOut(c: Conversation, stream: Duplex): void {
    const k = this.contact(c.peer);
    c.out = stream;
    k.backoffMs = this.retryMs;
    c.sender.handleLinkUp();
    this.emit('link', { peer: c.peer, direction: 'out', state: 'up' });
    const reader = new FrameReader();
    stream.on('data', (chunk: Uint8Array) => {
      if (c.out !== stream) return;
      try {
        reader.push(chunk);
        for (let f = reader.next(); f; f = reader.next()) c.sender.handleFrame(f);
      } catch (e) {
        this.flushOut(c);
        stream.destroy(e as Error);
        return;
      }
      this.flushOut(c);
    });
    const down = (err?: Error) => {
      if (c.out !== stream) return;
      c.out = undefined;
      c.sender.handleLinkDown();
      this.emit('link', { peer: c.peer, direction: 'out', state: 'down', error: err?.message });
      if (!stream.destroyed) stream.destroy();
      this.scheduleRetry(k);
    };
    stream.on('drain', () => { if (c.out === stream) this.flushOut(c); });
    stream.on('error', down);
    stream.on('close', () => down());
    stream.on('end', () => down());
  }

  private flushOut(c: Conversation): void {
    try {
      this.persistOut(c);
    } catch (err) {
      // The store refused a write (disk full, I/O error): the in-memory sender may be ahead of
      // it (a receipt taken, a message numbered). Rebuild it from the store and end the link;
      // the next link's HELLO acknowledges again and the receipt follows. Never thrown into
      // the stream's listener (or send()).
      this.reloadSender(c);
      c.out?.destroy(err as Error);
      return;
    }
    const out = c.out;
    if (!out || out.writableNeedDrain) return; // resumed by 'drain' (see bindOut)
    for (let f = c.sender.pollTransmit(); f; f = c.sender.pollTransmit()) if (!out.write(f)) return;
  }

  /** Records what the sender did since the last call: assignments, receipts, renumbering. */
  private persistOut(c: Conversation): void {
    // the device answered HELLO on a live link: the contact's unassigned messages are its now
    const k = this.contact(c.peer);
    if (k.unassigned.length > 0 && linkUp(c)) this.assign(k, c);
    const now = this.opts.now();
    // a renumbering (one HELLO) is written in one transaction: stored in part, the messages
    // left with their old low seq would be "acknowledged" by the next HELLO (false receipts)
    const moves: { id: Uint8Array; seq: number }[] = [];
    for (let e = c.sender.pollEvent(); e; e = c.sender.pollEvent()) {
      if (e.type === 'delivered') {
        this.opts.store.recordDelivered(c.peer, c.device, e.id, now);
        this.emit('receipt', { to: c.peer, id: hex(e.id), seq: e.seq });
      } else moves.push({ id: e.id, seq: e.seq });
    }
    if (moves.length > 0) { this.opts.store.recordRenumbering(c.peer, c.device, moves, c.sender.next); c.storedNext = c.sender.next; }
    if (c.storedNext !== c.sender.next) { this.opts.store.recordNextSeq(c.peer, c.device, c.sender.next); c.storedNext = c.sender.next; }
  }

  /** The conversation's sender and the contact's unassigned list as the store has them. */
  private reloadSender(c: Conversation): void {
    try {
      const s = this.opts.store.load(c.peer, c.device);
      c.sender = new ChatSender(s.sender, this.maxOutbox);
      c.storedNext = s.sender.nextSeq;
      const k = this.contact(c.peer);
      k.unassigned.splice(0, k.unassigned.length, ...this.opts.store.unassigned(c.peer));
    } catch { /* the store cannot even be read: keep going with what we have; the link ends anyway */ }
  }

  private async acceptStream(session: ContactSession, stream: Duplex): Promise<void> {
    const name = await readPreamble(stream);
    if (name !== CHAT_PROTOCOL || this.closed) { stream.destroy(); return; }
    streamSession.set(stream, session);
    const c = this.conv(session.username, session.deviceId);
    const old = c.in;
    c.in = stream;
    old?.destroy();
    c.receiver.handleLinkUp();
    this.emit('link', { peer: c.peer, direction: 'in', state: 'up' });
    const reader = new FrameReader();
    stream.on('data', (chunk: Uint8Array) => {
      if (c.in !== stream) return;
      try {
        reader.push(chunk);
        for (let f = reader.next(); f; f = reader.next()) {
          c.receiver.handleFrame(f);
          this.drainIn(c);
        }
      } catch (e) {
        this.flushIn(c);
        stream.destroy(e as Error);
        return;
      }
      this.flushIn(c);
    });
    const down = (err?: Error) => {
      if (c.in !== stream) return;
      c.in = undefined;
      c.receiver.handleLinkDown();
      this.emit('link', { peer: c.peer, direction: 'in', state: 'down', error: err?.message });
      if (!stream.destroyed) stream.destroy();
    };
    stream.on('error', down);
    stream.on('close', () => down());
    stream.on('end', () => down());
    this.flushIn(c);
  }

  private drainIn(c: Conversation): void {
    const now = this.opts.now();
    for (let e = c.receiver.pollEvent(); e; e = c.receiver.pollEvent()) {
      try {
        this.opts.store.recordIncoming(c.peer, c.device, e.message, now);
      } catch (err) {
        // not stored: not acknowledged (the stream is destroyed by the caller; the sender resends)
        c.receiver.persistFailed(c.storedDelivered);
        throw err;
      }
      c.storedDelivered = e.message.seq;
      this.emit('message', { from: c.peer, id: hex(e.message.id), seq: e.message.seq, sentAt: e.message.sentAt, text: e.message.text });
    }
  }

  private flushIn(c: Conversation): void {
    this.drainIn(c);
    if (!c.in) return;
    for (let f = c.receiver.pollTransmit(); f; f = c.receiver.pollTransmit()) c.in.write(f);
  }
}

/** Our stream to this device is open and its HELLO has come (the device is there and said how far it got). */
function linkUp(c: Conversation): boolean {
  return c.out !== undefined && !c.out.destroyed && c.sender.link === 'up';
}

const streamSession = new WeakMap<Duplex, ContactSession>();
