// Bounded chat history: a ChatStore with a small maxHistory keeps only the newest finished
// messages per contact, never prunes the outbox, and pruning cannot cause re-delivery
// (dedupe rests on the stored `delivered` watermark, not on stored messages).
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatStore, DEFAULT_MAX_HISTORY } from '../../src/apps/chat/store.ts';
import { ChatReceiver } from '../../src/apps/chat/receiver.ts';
import { ChatSender } from '../../src/apps/chat/sender.ts';
import { encodeFrame, FrameReader } from '../../src/apps/chat/wire.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tincan-chat-cap-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const id = (i: number) => { const b = new Uint8Array(16); b[0] = i >> 8; b[1] = i & 255; return b; };
const D = 'b0b0'; // the contact device of every conversation here
const inMsg = (seq: number) => ({ seq, id: id(seq), sentAt: 1_700_000_000_000 + seq, text: `m${seq}` });

describe('ChatStore maxHistory', () => {
  it('defaults to 10,000 and rejects nonsense', () => {
    expect(DEFAULT_MAX_HISTORY).toBe(10_000);
    expect(() => ChatStore.open(':memory:', { maxHistory: 0 })).toThrow(RangeError);
    expect(() => ChatStore.open(':memory:', { maxHistory: 2.5 })).toThrow(RangeError);
    ChatStore.open(':memory:', { maxHistory: Infinity }).close();
  });

  it('keeps the newest `cap` incoming messages; a resent old message is still a duplicate after reopening', () => {
    const file = join(tmp, 'in.sqlite');
    const cap = 5;
    let store = ChatStore.open(file, { maxHistory: cap });
    for (let seq = 1; seq <= 12; seq++) {
      store.recordIncoming('bob', D, inMsg(seq), 1000 + seq);
      expect(store.count('bob')).toBe(Math.min(seq, cap));
    }
    store.recordIncoming('carol', D, inMsg(1), 5000); // another conversation has its own cap
    expect(store.history('bob', 100).map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(store.count('carol')).toBe(1);
    store.close();

    // Reopen (as after a restart): the watermark survived pruning.
    store = ChatStore.open(file, { maxHistory: cap });
    const loaded = store.load('bob', D);
    expect(loaded.delivered).toBe(12);
    const r = new ChatReceiver({ delivered: loaded.delivered });
    r.handleLinkUp();
    r.pollTransmit(); // HELLO
    // The sender resends pruned seq 1..3 and an in-cap one (10): all duplicates, nothing handed over.
    for (const seq of [1, 2, 3, 10]) r.handleFrame({ type: 'msg', ...inMsg(seq) });
    expect(r.pollEvent()).toBeUndefined();
    expect(r.duplicates).toBe(4);
    // ...and the next new one is delivered once, and the count stays at the cap.
    r.handleFrame({ type: 'msg', ...inMsg(13) });
    const e = r.pollEvent();
    expect(e?.message.seq).toBe(13);
    store.recordIncoming('bob', D, e!.message, 2000);
    expect(r.pollEvent()).toBeUndefined();
    expect(store.count('bob')).toBe(cap);
    expect(store.history('bob', 100).map((x) => x.seq)).toEqual([9, 10, 11, 12, 13]);
    store.close();
  });

  it('never prunes queued outgoing messages; delivered ones count toward the cap', () => {
    const cap = 3;
    const store = ChatStore.open(':memory:', { maxHistory: cap });
    const sender = new ChatSender({ nextSeq: 1, outbox: [] });
    const out = [];
    for (let i = 1; i <= 4; i++) {
      const m = sender.send({ id: id(100 + i), sentAt: 1_700_000_000_000 + i, text: `out${i}` });
      store.recordOutgoing('bob', m, 1000 + i);
      store.recordAssigned('bob', D, m.id, m.seq, sender.next);
      out.push(m);
    }
    for (let seq = 1; seq <= 10; seq++) store.recordIncoming('bob', D, inMsg(seq), 2000 + seq);
    // 4 queued (oldest rows, never pruned) + 3 newest incoming.
    expect(store.count('bob')).toBe(4 + cap);
    expect(store.load('bob', D).sender.outbox.map((m) => m.text)).toEqual(['out1', 'out2', 'out3', 'out4']);
    // Receipts for out1, out2 arrive: they become finished, and as the oldest finished rows they are pruned.
    store.recordDelivered('bob', D, out[0].id, 3000);
    store.recordDelivered('bob', D, out[1].id, 3001);
    expect(store.load('bob', D).sender.outbox.map((m) => m.text)).toEqual(['out3', 'out4']);
    expect(store.count('bob')).toBe(2 + cap);
    expect(store.history('bob', 100).filter((e) => e.status !== 'queued').map((e) => e.text)).toEqual(['m8', 'm9', 'm10']);
    expect(store.load('bob', D).sender.nextSeq).toBe(5);
    store.close();
  });

  it('reopening with a smaller cap trims the old excess on the next message', () => {
    const file = join(tmp, 'shrink.sqlite');
    let store = ChatStore.open(file, { maxHistory: Infinity });
    for (let seq = 1; seq <= 30; seq++) store.recordIncoming('bob', D, inMsg(seq), 1);
    expect(store.count('bob')).toBe(30);
    store.close();
    store = ChatStore.open(file, { maxHistory: 10 });
    expect(store.count('bob')).toBe(30); // nothing happens on open
    store.recordIncoming('bob', D, inMsg(31), 1);
    expect(store.history('bob', 100).map((e) => e.seq)).toEqual([22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);
    store.close();
  });

  it('a flood far above the cap keeps the file bounded (count == cap)', () => {
    const cap = 200;
    const store = ChatStore.open(':memory:', { maxHistory: cap });
    const r = new ChatReceiver({ delivered: 0 });
    r.handleLinkUp();
    const reader = new FrameReader();
    for (let seq = 1; seq <= 1000; seq++) reader.push(encodeFrame({ type: 'msg', ...inMsg(seq) }));
    for (let f = reader.next(); f; f = reader.next()) {
      r.handleFrame(f);
      for (let e = r.pollEvent(); e; e = r.pollEvent()) store.recordIncoming('mallory', D, e.message, 1);
    }
    expect(store.count('mallory')).toBe(cap);
    expect(store.load('mallory', D).delivered).toBe(1000);
    expect(store.history('mallory', 1).map((e) => e.seq)).toEqual([1000]);
    store.close();
  });
});
