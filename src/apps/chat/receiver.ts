// The receiving half of one conversation (sans-IO): a contact's messages to us.
// Contract:
//   - `delivered` is the highest seq handed to the user; messages are handed over in
//     sequence order, each exactly once ('message' event), across any number of links.
//   - A link is one app stream the contact opened. handleLinkUp() queues HELLO{delivered}
//     as the first frame; after each batch of frames one ACK{delivered} is queued
//     (also for duplicates, so a resent message still produces its receipt).
//   - seq <= delivered: a duplicate (resend), counted and dropped. seq > delivered+1: the
//     sender skipped a message on an ordered stream: ChatProtocolError('seq-gap').
//   - The caller persists each 'message' event before writing the ACK that follows it. If
//     persisting fails, it calls persistFailed(lastStored): the watermark goes back to the
//     last stored seq, pending events are dropped and no ACK is due (the sender resends on
//     its next link) — an unstored message is never acknowledged.
import { CHAT_VERSION, encodeFrame, type ChatFrame } from './wire.ts';
import { ChatProtocolError } from './errors.ts';

export interface InMessage { readonly seq: number; readonly id: Uint8Array; readonly sentAt: number; readonly text: string }
export type ReceiverEvent = { type: 'message'; message: InMessage };

export class ChatReceiver {
  private deliveredSeq: number;
  private up = false;
  private helloDue = false;
  private ackDue = false;
  private readonly events: ReceiverEvent[] = [];
  duplicates = 0;

  constructor(init: { delivered: number }) { this.deliveredSeq = init.delivered; }

  get delivered(): number { return this.deliveredSeq; }

  handleLinkUp(): void { this.up = true; this.helloDue = true; this.ackDue = false; }
  handleLinkDown(): void { this.up = false; this.helloDue = false; this.ackDue = false; }

  handleFrame(f: ChatFrame): void {
    if (f.type !== 'msg') throw new ChatProtocolError('unexpected-frame', `${f.type.toUpperCase()} from the stream opener`);
    this.ackDue = true;
    if (f.seq <= this.deliveredSeq) { this.duplicates++; return; }
    if (f.seq !== this.deliveredSeq + 1) throw new ChatProtocolError('seq-gap', `expected seq ${this.deliveredSeq + 1}, got ${f.seq}`);
    this.deliveredSeq = f.seq;
    this.events.push({ type: 'message', message: { seq: f.seq, id: f.id, sentAt: f.sentAt, text: f.text } });
  }

  /** The caller could not persist the events after `lastStored`: forget them, acknowledge nothing more. */
  persistFailed(lastStored: number): void {
    if (!Number.isInteger(lastStored) || lastStored < 0 || lastStored > this.deliveredSeq) throw new RangeError(`lastStored ${lastStored} outside 0..${this.deliveredSeq}`);
    this.deliveredSeq = lastStored;
    this.events.length = 0;
    this.ackDue = false;
  }

  /** Drain events first (persist them), then transmits. */
  pollEvent(): ReceiverEvent | undefined { return this.events.shift(); }

  pollTransmit(): Uint8Array | undefined {
    if (!this.up) return undefined;
    if (this.helloDue) { this.helloDue = false; return encodeFrame({ type: 'hello', version: CHAT_VERSION, delivered: this.deliveredSeq }); }
    if (this.ackDue) { this.ackDue = false; return encodeFrame({ type: 'ack', delivered: this.deliveredSeq }); }
    return undefined;
  }
}
