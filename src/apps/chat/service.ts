// The chat service: binds the sans-IO ChatSender/ChatReceiver of every conversation to a
// PeerNode's sessions and streams, and to the ChatStore. One app stream per direction:
// we open a stream (preamble "tincan-chat/1") to carry our messages to a contact, and
// accept the contact's stream carrying theirs; receipts flow back on the same stream.
// Contract:
//   - send() stores the message (status queued) and returns at once; it is delivered
//     when the contact is reachable, in order, exactly once, with one 'receipt' event.
//   - A broken stream or session (path loss, peer restart) is reopened: immediately
//     when the contact comes online (presence), else after retryMs, doubling per failed
//     attempt up to MAX_RETRY_MS, while messages wait.
//   - Incoming messages are stored before they are acknowledged; 'message' fires once each.
//   - A hostile frame (ChatDecodeError / ChatProtocolError) destroys that stream only.
//   - Our messages are written as the stream accepts them (write() false: wait for 'drain').
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { ContactSession, PeerNode } from '../../overlay/peer-api.ts';
import { encodePreamble, readPreamble } from '../stream-preamble.ts';
import { CHAT_PROTOCOL, FrameReader } from './wire.ts';
import { ChatSender, DEFAULT_MAX_OUTBOX } from './sender.ts';
import { ChatReceiver } from './receiver.ts';
import type { ChatStore, HistoryEntry } from './store.ts';

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

interface Conversation {
  readonly peer: string;
  readonly sender: ChatSender;
  readonly receiver: ChatReceiver;
  out?: Duplex;
  in?: Duplex;
  connecting: boolean;
  retry?: NodeJS.Timeout;
  /** next_seq as last written to the store. */
  storedNext: number;
  /** Delay before the next reconnect attempt (doubles per failure). */
  backoffMs: number;
}

export const MAX_RETRY_MS = 30_000;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class ChatService extends EventEmitter<{ message: [ChatMessageEvent]; receipt: [ChatReceiptEvent]; link: [ChatLinkEvent]; session: [ContactSession] }> {
  private readonly convs = new Map<string, Conversation>();
  private readonly sessions = new WeakSet<ContactSession>();
  private closed = false;
  private readonly retryMs: number;
  private readonly onSession = (s: ContactSession) => this.attachSession(s);
  private readonly onPresence = (p: { username: string; presence: string }) => {
    if (p.presence === 'offline') return;
    const c = this.convs.get(p.username);
    if (c) c.backoffMs = this.retryMs;
    this.kick(p.username);
  };

  constructor(private readonly opts: ChatServiceOptions) {
    super();
    this.retryMs = opts.retryMs ?? 3000;
  }

  start(): void {
    this.opts.peer.on('session', this.onSession);
    this.opts.peer.on('presence', this.onPresence);
    for (const s of this.opts.peer.sessions()) this.attachSession(s);
    for (const peer of this.opts.store.peersWithOutbox()) this.kick(peer);
  }

  /** Queues a message; returns its id (hex) and seq. Throws ChatLimitError. */
  send(to: string, text: string): { id: string; seq: number } {
    if (this.closed) throw new Error('chat service closed');
    const c = this.conv(to);
    const now = this.opts.now();
    const m = c.sender.send({ id: this.opts.randomBytes(16), sentAt: now, text });
    this.opts.store.recordOutgoing(to, m, c.sender.next, now);
    c.storedNext = c.sender.next;
    this.flushOut(c);
    this.kick(to);
    return { id: hex(m.id), seq: m.seq };
  }

  /** Resolves true when the receipt for `id` arrives, false after timeoutMs. */
  waitReceipt(id: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const on = (r: ChatReceiptEvent) => { if (r.id === id) done(true); };
      const t = setTimeout(() => done(false), timeoutMs);
      const done = (v: boolean) => { clearTimeout(t); this.off('receipt', on); resolve(v); };
      this.on('receipt', on);
    });
  }

  history(peer: string | undefined, limit?: number): HistoryEntry[] { return this.opts.store.history(peer, limit); }

  /** Undelivered outgoing messages per contact. */
  pending(peer: string): number { return this.conv(peer).sender.pending.length; }

  close(): void {
    this.closed = true;
    this.opts.peer.off('session', this.onSession);
    this.opts.peer.off('presence', this.onPresence);
    for (const c of this.convs.values()) {
      clearTimeout(c.retry);
      c.out?.destroy();
      c.in?.destroy();
    }
  }

  private conv(peer: string): Conversation {
    let c = this.convs.get(peer);
    if (!c) {
      const s = this.opts.store.load(peer);
      c = { peer, sender: new ChatSender(s.sender, this.opts.maxOutbox ?? DEFAULT_MAX_OUTBOX), receiver: new ChatReceiver({ delivered: s.delivered }), connecting: false, storedNext: s.sender.nextSeq, backoffMs: this.retryMs };
      this.convs.set(peer, c);
    }
    return c;
  }

  private attachSession(s: ContactSession): void {
    if (this.sessions.has(s) || this.closed) return;
    this.sessions.add(s);
    this.emit('session', s);
    s.on('stream', (stream) => { this.acceptStream(s, stream).catch(() => stream.destroy()); });
    s.on('close', () => {
      const c = this.convs.get(s.username);
      if (!c) return;
      if (c.out && streamSession.get(c.out) === s) c.out.destroy();
      if (c.in && streamSession.get(c.in) === s) c.in.destroy();
    });
    if (this.conv(s.username).sender.pending.length > 0) this.kick(s.username);
  }

  /** Opens our outgoing stream to `peer` if messages wait and none is open. */
  private kick(peer: string): void {
    const c = this.conv(peer);
    if (this.closed || c.out || c.connecting || c.sender.pending.length === 0) return;
    clearTimeout(c.retry);
    c.retry = undefined;
    c.connecting = true;
    void (async () => {
      try {
        const session = await this.opts.peer.connect(peer);
        this.attachSession(session);
        const stream = await session.openStream();
        if (this.closed) { stream.destroy(); return; }
        streamSession.set(stream, session);
        stream.write(encodePreamble(CHAT_PROTOCOL));
        this.bindOut(c, stream);
      } catch (e) {
        this.emit('link', { peer, direction: 'out', state: 'down', error: (e as Error).message });
        this.scheduleRetry(c);
      } finally {
        c.connecting = false;
      }
    })();
  }

  private scheduleRetry(c: Conversation): void {
    if (this.closed || c.retry || c.sender.pending.length === 0) return;
    c.retry = setTimeout(() => { c.retry = undefined; this.kick(c.peer); }, c.backoffMs);
    c.retry.unref();
    c.backoffMs = Math.min(c.backoffMs * 2, Math.max(MAX_RETRY_MS, this.retryMs));
  }

  private bindOut(c: Conversation, stream: Duplex): void {
    c.out = stream;
    c.backoffMs = this.retryMs;
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
      this.scheduleRetry(c);
    };
    stream.on('drain', () => { if (c.out === stream) this.flushOut(c); });
    stream.on('error', down);
    stream.on('close', () => down());
    stream.on('end', () => down());
  }

  private flushOut(c: Conversation): void {
    const now = this.opts.now();
    for (let e = c.sender.pollEvent(); e; e = c.sender.pollEvent()) {
      if (e.type === 'delivered') {
        this.opts.store.recordDelivered(c.peer, e.id, now);
        this.emit('receipt', { to: c.peer, id: hex(e.id), seq: e.seq });
      } else {
        this.opts.store.recordRenumbered(c.peer, e.id, e.seq, c.sender.next);
        c.storedNext = c.sender.next;
      }
    }
    if (c.storedNext !== c.sender.next) { this.opts.store.recordNextSeq(c.peer, c.sender.next); c.storedNext = c.sender.next; }
    const out = c.out;
    if (!out || out.writableNeedDrain) return; // resumed by 'drain' (see bindOut)
    for (let f = c.sender.pollTransmit(); f; f = c.sender.pollTransmit()) if (!out.write(f)) return;
  }

  private async acceptStream(session: ContactSession, stream: Duplex): Promise<void> {
    const name = await readPreamble(stream);
    if (name !== CHAT_PROTOCOL || this.closed) { stream.destroy(); return; }
    streamSession.set(stream, session);
    const c = this.conv(session.username);
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
      this.opts.store.recordIncoming(c.peer, e.message, now);
      this.emit('message', { from: c.peer, id: hex(e.message.id), seq: e.message.seq, sentAt: e.message.sentAt, text: e.message.text });
    }
  }

  private flushIn(c: Conversation): void {
    this.drainIn(c);
    if (!c.in) return;
    for (let f = c.receiver.pollTransmit(); f; f = c.receiver.pollTransmit()) c.in.write(f);
  }
}

const streamSession = new WeakMap<Duplex, ContactSession>();
