// The sans-IO chat core: ChatSender + ChatReceiver over a byte pipe that is cut at any
// byte, reconnected, restarted from persisted state and fed replayed frames — every
// message is delivered exactly once, in order, and yields exactly one receipt.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ChatSender, type OutMessage } from '../../src/apps/chat/sender.ts';
import { ChatReceiver, type InMessage } from '../../src/apps/chat/receiver.ts';
import { ChatLimitError, ChatProtocolError } from '../../src/apps/chat/errors.ts';
import { FrameReader, MAX_TEXT_BYTES, encodeFrame } from '../../src/apps/chat/wire.ts';

const idOf = (n: number) => { const b = new Uint8Array(16); new DataView(b.buffer).setUint32(12, n); return b; };
const numOf = (id: Uint8Array) => new DataView(id.buffer, id.byteOffset, 16).getUint32(12);

/** One sender (A) and one receiver (B) with persisted state, joined by a cuttable pipe. */
class Harness {
  // persisted (what ChatStore keeps)
  aNext = 1; aOutbox: OutMessage[] = []; bDelivered = 0;
  readonly received: InMessage[] = [];
  readonly receipts: number[] = [];
  sender = new ChatSender({ nextSeq: 1, outbox: [] }, 50);
  receiver = new ChatReceiver({ delivered: 0 });
  aToB: Uint8Array[] = []; bToA: Uint8Array[] = [];
  aReader = new FrameReader(); bReader = new FrameReader();
  linked = false;
  sentFrames: Uint8Array[] = [];
  errors = 0;
  private counter = 0;

  send(): boolean {
    const n = ++this.counter;
    try {
      const m = this.sender.send({ id: idOf(n), sentAt: n, text: `m${n}` });
      this.aNext = this.sender.next;
      this.aOutbox.push(m);
    } catch (e) {
      expect((e as ChatLimitError).code).toBe('outbox-full');
      this.counter--;
      return false;
    }
    this.pump();
    return true;
  }
  get sentCount(): number { return this.counter; }

  connect(): void {
    if (this.linked) return;
    this.linked = true;
    this.aToB = []; this.bToA = [];
    this.aReader = new FrameReader(); this.bReader = new FrameReader();
    this.sender.handleLinkUp();
    this.receiver.handleLinkUp();
    this.pump();
  }

  cut(restartA: boolean, restartB: boolean): void {
    this.linked = false;
    this.sender.handleLinkDown();
    this.receiver.handleLinkDown();
    if (restartA) this.sender = new ChatSender({ nextSeq: this.aNext, outbox: this.aOutbox }, 50);
    if (restartB) this.receiver = new ChatReceiver({ delivered: this.bDelivered });
  }

  /** Moves up to `n` bytes one way (a partial frame stays in flight). */
  deliver(dir: 'ab' | 'ba', n: number): void {
    if (!this.linked) return;
    const q = dir === 'ab' ? this.aToB : this.bToA;
    const all = Buffer.concat(q);
    const chunk = all.subarray(0, n);
    q.length = 0;
    if (all.length > n) q.push(all.subarray(n));
    if (chunk.length === 0) return;
    try {
      if (dir === 'ab') {
        this.bReader.push(chunk);
        for (let f = this.bReader.next(); f; f = this.bReader.next()) { this.receiver.handleFrame(f); this.drainB(); }
      } else {
        this.aReader.push(chunk);
        for (let f = this.aReader.next(); f; f = this.aReader.next()) this.sender.handleFrame(f);
      }
    } catch (e) {
      if (!(e instanceof ChatProtocolError)) throw e;
      this.errors++;
      this.cut(false, false);
      return;
    }
    this.pump();
  }

  /** A MSG frame written earlier is written again on the current link (a replay). */
  replay(k: number): void {
    if (!this.linked || this.sentFrames.length === 0) return;
    const f = this.sentFrames[k % this.sentFrames.length];
    // only frames at or below the receiver's point are legal replays; others would be gaps
    const seq = new DataView(f.buffer, f.byteOffset).getUint32(5);
    if (seq <= this.receiver.delivered) this.aToB.push(f);
  }

  private drainB(): void {
    for (let e = this.receiver.pollEvent(); e; e = this.receiver.pollEvent()) {
      this.bDelivered = e.message.seq;
      this.received.push(e.message);
    }
  }

  pump(): void {
    for (let e = this.sender.pollEvent(); e; e = this.sender.pollEvent()) {
      if (e.type === 'delivered') {
        this.receipts.push(numOf(e.id));
        this.aOutbox = this.aOutbox.filter((m) => numOf(m.id) !== numOf(e.id));
      } else {
        this.aOutbox = this.aOutbox.map((m) => numOf(m.id) === numOf(e.id) ? { ...m, seq: e.seq } : m);
      }
    }
    this.aNext = this.sender.next;
    if (!this.linked) return;
    for (let f = this.sender.pollTransmit(); f; f = this.sender.pollTransmit()) { this.aToB.push(f); this.sentFrames.push(f); }
    this.drainB();
    for (let f = this.receiver.pollTransmit(); f; f = this.receiver.pollTransmit()) this.bToA.push(f);
  }

  settle(): void {
    this.connect();
    for (let i = 0; i < 1000 && (this.aToB.length || this.bToA.length); i++) { this.deliver('ab', 1 << 20); this.deliver('ba', 1 << 20); }
  }
}

describe('chat core', () => {
  it('delivers in order with one receipt each on a clean link', () => {
    const h = new Harness();
    h.connect();
    for (let i = 0; i < 5; i++) h.send();
    h.settle();
    expect(h.received.map((m) => m.text)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(h.received.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(h.receipts).toEqual([1, 2, 3, 4, 5]);
    expect(h.sender.pending).toHaveLength(0);
  });

  it('the sender writes nothing before HELLO; messages queued offline go out after it', () => {
    const h = new Harness();
    h.send(); h.send();
    expect(h.aToB).toHaveLength(0);
    h.connect();
    expect(h.aToB).toHaveLength(0); // waiting for HELLO
    h.deliver('ba', 100); // HELLO
    expect(h.aToB.length).toBe(2);
    h.settle();
    expect(h.receipts).toEqual([1, 2]);
  });

  it('a cut after delivery but before the ACK: resent, deduplicated, receipt once', () => {
    const h = new Harness();
    h.connect(); h.deliver('ba', 100);
    h.send();
    h.deliver('ab', 1000); // B delivered m1, ACK in flight
    h.cut(false, false);
    h.settle();
    expect(h.received.map((m) => m.text)).toEqual(['m1']);
    expect(h.receipts).toEqual([1]);
  });

  it('limits: empty, too long, outbox full', () => {
    const s = new ChatSender({ nextSeq: 1, outbox: [] }, 2);
    const code = (f: () => unknown) => { try { f(); return 'none'; } catch (e) { return (e as ChatLimitError).code; } };
    expect(code(() => s.send({ id: idOf(1), sentAt: 0, text: '' }))).toBe('empty-text');
    expect(code(() => s.send({ id: idOf(1), sentAt: 0, text: 'é'.repeat(MAX_TEXT_BYTES / 2 + 1) }))).toBe('text-too-long');
    s.send({ id: idOf(1), sentAt: 0, text: 'a' }); s.send({ id: idOf(2), sentAt: 0, text: 'b' });
    expect(code(() => s.send({ id: idOf(3), sentAt: 0, text: 'c' }))).toBe('outbox-full');
  });

  it('protocol errors: MSG to a sender, ACK before HELLO, ACK beyond sent, HELLO to a receiver, a gap', () => {
    const s = new ChatSender({ nextSeq: 1, outbox: [] });
    s.handleLinkUp();
    expect(() => s.handleFrame({ type: 'ack', delivered: 0 })).toThrow(ChatProtocolError);
    s.handleFrame({ type: 'hello', version: 1, delivered: 0 });
    expect(() => s.handleFrame({ type: 'ack', delivered: 1 })).toThrow(/ACK 1/);
    expect(() => s.handleFrame({ type: 'msg', seq: 1, id: idOf(1), sentAt: 0, text: 'x' })).toThrow(ChatProtocolError);
    const r = new ChatReceiver({ delivered: 3 });
    r.handleLinkUp();
    expect(() => r.handleFrame({ type: 'hello', version: 1, delivered: 0 })).toThrow(ChatProtocolError);
    expect(() => r.handleFrame({ type: 'msg', seq: 5, id: idOf(5), sentAt: 0, text: 'x' })).toThrow(/expected seq 4/);
  });

  it('a sender that lost its state renumbers above the receiver\'s point (nothing deduplicated away)', () => {
    const s = new ChatSender({ nextSeq: 1, outbox: [] });
    s.send({ id: idOf(1), sentAt: 0, text: 'after reinstall' });
    s.handleLinkUp();
    s.handleFrame({ type: 'hello', version: 1, delivered: 10 });
    expect(s.pollEvent()).toEqual({ type: 'renumbered', id: idOf(1), seq: 11 });
    expect(s.pollEvent()).toBeUndefined();
    const r = new FrameReader();
    r.push(s.pollTransmit()!);
    expect(r.next()).toMatchObject({ type: 'msg', seq: 11 });
    expect(s.next).toBe(12);
  });

  it('a receiver that lost its state: the sender renumbers down to its point (no gap)', () => {
    const s = new ChatSender({ nextSeq: 8, outbox: [{ seq: 7, id: idOf(7), sentAt: 0, text: 'x' }] });
    s.handleLinkUp();
    s.handleFrame({ type: 'hello', version: 1, delivered: 0 });
    expect(s.pollEvent()).toEqual({ type: 'renumbered', id: idOf(7), seq: 1 });
    expect(s.next).toBe(2);
  });

  it('property: random cuts at any byte, restarts, replays -> exactly once, in order, one receipt each', () => {
    const action = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 200 }));
    const seed = 20261201;
    fc.assert(fc.property(fc.array(action, { maxLength: 150 }), (actions) => {
      const h = new Harness();
      for (const [kind, n] of actions) {
        switch (kind) {
          case 0: case 1: h.send(); break;
          case 2: case 3: h.deliver('ab', n); break;
          case 4: h.deliver('ba', n); break;
          case 5: h.cut(n % 3 === 1, n % 3 === 2); break;
          case 6: h.connect(); break;
          case 7: h.cut(true, true); h.connect(); break;
          case 8: h.replay(n); break; // legal replays only
          case 9: h.deliver('ab', 1 << 20); h.deliver('ba', 1 << 20); break;
        }
      }
      h.settle();
      const want = Array.from({ length: h.sentCount }, (_, i) => `m${i + 1}`);
      expect(h.received.map((m) => m.text)).toEqual(want);
      expect(h.received.map((m) => m.seq)).toEqual(want.map((_, i) => i + 1));
      expect(h.receipts).toEqual(want.map((_, i) => i + 1));
      expect(h.errors).toBe(0);
    }), { seed, numRuns: 400 });
  });

  it('encodeFrame round trip sanity for the harness', () => {
    expect(encodeFrame({ type: 'ack', delivered: 1 }).length).toBe(9);
  });
});
