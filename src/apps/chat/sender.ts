// The sending half of one conversation (sans-IO): our messages to one contact.
// Contract:
//   - send() assigns the next sequence number (1, 2, ...) and keeps the message in the
//     outbox until the contact's receiver acknowledges it; bounded by maxOutbox and
//     MAX_TEXT_BYTES (ChatLimitError, nothing queued).
//   - A link is one app stream we opened. After handleLinkUp() nothing is written until
//     the acceptor's HELLO says how far it has delivered; then every outbox message
//     above that point is (re)sent in sequence order, followed by new ones as they come.
//   - ACK/HELLO `delivered` = d acknowledges every seq <= d: those leave the outbox and
//     each yields one 'delivered' event (a delivery receipt), exactly once.
//   - After HELLO the next seq on the wire is always delivered+1. If the receiver's point
//     is above anything we numbered (we lost state) or below our oldest undelivered
//     message (it lost state), the outbox is renumbered from delivered+1 (a 'renumbered'
//     event per message): nothing is deduplicated away, no gap is ever sent.
//   - handleFrame throws ChatProtocolError when the acceptor breaks the rules.
import { encodeFrame, MAX_SEQ, MAX_TEXT_BYTES, textBytes, type ChatFrame } from './wire.ts';
import { ChatLimitError, ChatProtocolError } from './errors.ts';

export interface OutMessage { readonly seq: number; readonly id: Uint8Array; readonly sentAt: number; readonly text: string }

export type SenderEvent =
  | { type: 'delivered'; seq: number; id: Uint8Array }
  | { type: 'renumbered'; id: Uint8Array; seq: number };

export type LinkState = 'down' | 'awaiting-hello' | 'up';

export interface SenderInit { nextSeq: number; outbox: OutMessage[] }

export const DEFAULT_MAX_OUTBOX = 1000;

/** Throws ChatLimitError for a text no conversation would accept (empty, over MAX_TEXT_BYTES). */
export function checkText(text: string): void {
  if (text.length === 0) throw new ChatLimitError('empty-text', 'empty message');
  const n = textBytes(text);
  if (n > MAX_TEXT_BYTES) throw new ChatLimitError('text-too-long', `message is ${n} bytes, max ${MAX_TEXT_BYTES}`);
}

export class ChatSender {
  private nextSeq: number;
  private outbox: OutMessage[];
  private state: LinkState = 'down';
  /** Highest seq written on the current link. */
  private sentUpTo = 0;
  private readonly events: SenderEvent[] = [];

  constructor(init: SenderInit, private readonly maxOutbox = DEFAULT_MAX_OUTBOX) {
    this.nextSeq = init.nextSeq;
    this.outbox = [...init.outbox].sort((a, b) => a.seq - b.seq);
  }

  get link(): LinkState { return this.state; }
  get pending(): readonly OutMessage[] { return this.outbox; }
  get next(): number { return this.nextSeq; }

  send(m: { id: Uint8Array; sentAt: number; text: string }): OutMessage {
    checkText(m.text);
    if (this.outbox.length >= this.maxOutbox) throw new ChatLimitError('outbox-full', `${this.outbox.length} messages not yet delivered (max ${this.maxOutbox})`);
    if (this.nextSeq > MAX_SEQ) throw new ChatLimitError('outbox-full', 'conversation sequence space exhausted');
    const out: OutMessage = { seq: this.nextSeq++, id: m.id, sentAt: m.sentAt, text: m.text };
    this.outbox.push(out);
    return out;
  }

  handleLinkUp(): void { this.state = 'awaiting-hello'; this.sentUpTo = 0; }
  handleLinkDown(): void { this.state = 'down'; this.sentUpTo = 0; }

  handleFrame(f: ChatFrame): void {
    if (f.type === 'msg') throw new ChatProtocolError('unexpected-frame', 'MSG on our own chat stream');
    if (f.type === 'hello') {
      if (this.state !== 'awaiting-hello') throw new ChatProtocolError('unexpected-frame', 'second HELLO');
      if (f.delivered < this.nextSeq) this.acknowledge(f.delivered);
      this.alignTo(f.delivered);
      this.state = 'up';
      this.sentUpTo = f.delivered;
      return;
    }
    if (this.state !== 'up') throw new ChatProtocolError('unexpected-frame', 'ACK before HELLO');
    if (f.delivered > this.sentUpTo) throw new ChatProtocolError('ack-beyond-sent', `ACK ${f.delivered} but only ${this.sentUpTo} sent`);
    this.acknowledge(f.delivered);
  }

  /** The next MSG frame to write on the link, if any. */
  pollTransmit(): Uint8Array | undefined {
    if (this.state !== 'up') return undefined;
    const m = this.outbox.find((o) => o.seq > this.sentUpTo);
    if (!m) return undefined;
    this.sentUpTo = m.seq;
    return encodeFrame({ type: 'msg', seq: m.seq, id: m.id, sentAt: m.sentAt, text: m.text });
  }

  pollEvent(): SenderEvent | undefined { return this.events.shift(); }

  private acknowledge(delivered: number): void {
    while (this.outbox.length > 0 && this.outbox[0].seq <= delivered) {
      const m = this.outbox.shift()!;
      this.events.push({ type: 'delivered', seq: m.seq, id: m.id });
    }
  }

  private alignTo(delivered: number): void {
    if (this.outbox.length === 0) { this.nextSeq = delivered + 1; return; }
    if (this.outbox[0].seq === delivered + 1) return;
    let seq = delivered + 1;
    this.outbox = this.outbox.map((m) => {
      const r = { ...m, seq: seq++ };
      this.events.push({ type: 'renumbered', id: m.id, seq: r.seq });
      return r;
    });
    this.nextSeq = seq;
  }
}
