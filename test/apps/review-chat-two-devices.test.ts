// Review finding (fixed): a user with TWO devices (nothing stops it: POST /v1/devices,
// `tincan up` in a second state dir) silently LOST messages with a false delivery receipt.
// The chat state was one sequence space per username, but each device numbers its own
// messages from 1, so one device's watermark acknowledged the other device's messages:
//   alice-laptop sends m1 (seq 1): bob delivered = 1.
//   alice-phone sends m2 (its seq 1): bob's HELLO says delivered 1 -> m2 'delivered'
//   (receipt), never sent, never shown to bob.
// The other way too: alice sending to bob's laptop, then to bob's phone (the outbox was
// renumbered to the phone's watermark), then to the laptop again: the laptop's older
// watermark acknowledged messages it never got.
// Now sequence spaces are per device pair (ChatService keys conversations by the device
// the session authenticated; ChatStore rows by contact username and device), and an
// outgoing message is numbered only when a link to one device is up. These tests run the
// service over the in-memory PeerNode (fake-peer.ts) with one FakePeer per device.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { ChatService, type ChatMessageEvent, type ChatReceiptEvent } from '../../src/apps/chat/service.ts';
import { ChatStore } from '../../src/apps/chat/store.ts';
import { FakePeer } from './fake-peer.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function world() {
  const dir = mkdtempSync(join(tmpdir(), 'tincan-chat-2dev-'));
  dirs.push(dir);
  const reach = new Map<string, FakePeer>();
  const started: (() => void)[] = [];
  const start = (peer: FakePeer) => {
    const store = ChatStore.open(join(dir, `${peer.username}-${peer.deviceId}.sqlite`));
    const svc = new ChatService({ peer, store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 20 });
    const got: ChatMessageEvent[] = [], receipts: ChatReceiptEvent[] = [];
    svc.on('message', (m) => got.push(m));
    svc.on('receipt', (r) => receipts.push(r));
    svc.start();
    started.push(() => { svc.close(); store.close(); });
    return { svc, store, got, receipts };
  };
  return { dir, reach, start, stop: () => { for (const s of started.splice(0)) s(); } };
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

describe('review: chat with a contact that has two devices', () => {
  it('a message from a second device of the same user is delivered, not acknowledged unseen', async () => {
    const w = world();
    const bob = w.start(new FakePeer('bob', w.reach, 'b0'));
    const laptop = w.start(new FakePeer('alice', w.reach, 'a1'));
    const phone = w.start(new FakePeer('alice', w.reach, 'a2'));
    const m1 = laptop.svc.send('bob', 'from the laptop');
    expect(await laptop.svc.waitReceipt(m1.id, 10_000)).toBe(true);
    const m2 = phone.svc.send('bob', 'from the phone');
    expect(await phone.svc.waitReceipt(m2.id, 10_000)).toBe(true);
    const m3 = laptop.svc.send('bob', 'laptop again');
    expect(await laptop.svc.waitReceipt(m3.id, 10_000)).toBe(true);
    expect(bob.got.map((m) => m.text)).toEqual(['from the laptop', 'from the phone', 'laptop again']);
    // each device's messages are numbered in its own space
    expect(bob.got.map((m) => m.seq)).toEqual([1, 1, 2]);
    expect(bob.svc.history('alice').map((h) => [h.device, h.text, h.status])).toEqual([
      ['a1', 'from the laptop', 'received'], ['a2', 'from the phone', 'received'], ['a1', 'laptop again', 'received']]);
    expect(laptop.receipts.map((r) => r.id)).toEqual([m1.id, m3.id]);
    expect(phone.receipts.map((r) => r.id)).toEqual([m2.id]);
    w.stop();
  });

  it('messages to a contact with two devices: each goes to the device reached, exactly once, one receipt each', async () => {
    const w = world();
    const bobLaptop = new FakePeer('bob', w.reach, 'b1');
    const bobPhone = new FakePeer('bob', w.reach, 'b2');
    const alicePeer = new FakePeer('alice', w.reach, 'a0');
    const alice = w.start(alicePeer), laptop = w.start(bobLaptop), phone = w.start(bobPhone);
    w.reach.set('bob', bobLaptop);
    bobPhone.setOnline(false);
    const ids = [alice.svc.send('bob', 'm1').id, alice.svc.send('bob', 'm2').id];
    await until(() => alice.receipts.length === 2, 'receipts for m1, m2');
    // bob's laptop goes away; the phone is what alice reaches now
    bobLaptop.setOnline(false);
    w.reach.set('bob', bobPhone);
    bobPhone.setOnline(true);
    ids.push(alice.svc.send('bob', 'm3').id);
    await until(() => alice.receipts.length === 3, 'receipt for m3');
    // and back to the laptop: its older watermark (2) must not acknowledge anything of the phone's
    bobPhone.setOnline(false);
    w.reach.set('bob', bobLaptop);
    bobLaptop.setOnline(true);
    ids.push(alice.svc.send('bob', 'm4').id);
    await until(() => alice.receipts.length === 4, 'receipt for m4');
    expect(laptop.got.map((m) => [m.text, m.seq])).toEqual([['m1', 1], ['m2', 2], ['m4', 3]]);
    expect(phone.got.map((m) => [m.text, m.seq])).toEqual([['m3', 1]]);
    expect(alice.receipts.map((r) => r.id)).toEqual(ids);
    expect(alice.svc.pending('bob')).toBe(0);
    expect(alice.svc.history('bob').map((h) => [h.text, h.device, h.seq, h.status])).toEqual([
      ['m1', 'b1', 1, 'delivered'], ['m2', 'b1', 2, 'delivered'], ['m3', 'b2', 1, 'delivered'], ['m4', 'b1', 3, 'delivered']]);
    w.stop();
  });

  it('a message queued while the contact is offline is numbered for the device that is reached, and survives a restart', async () => {
    const w = world();
    const bobPhone = new FakePeer('bob', w.reach, 'b2');
    const alicePeer = new FakePeer('alice', w.reach, 'a0');
    bobPhone.setOnline(false);
    let alice = w.start(alicePeer);
    const m = alice.svc.send('bob', 'queued');
    expect(m.seq).toBe(0); // no device yet
    expect(alice.svc.pending('bob')).toBe(1);
    w.stop(); // alice restarts with the message unassigned in her store
    const phone = w.start(bobPhone);
    alice = w.start(alicePeer);
    expect(alice.svc.pending('bob')).toBe(1);
    bobPhone.setOnline(true);
    await until(() => alice.receipts.length === 1, 'receipt after restart');
    expect(phone.got.map((x) => [x.text, x.seq])).toEqual([['queued', 1]]);
    expect(alice.receipts[0].id).toBe(m.id);
    w.stop();
  });

  it('a store written before device spaces (schema 1) is migrated and adopted by the first device, state unchanged', () => {
    const w = world();
    const file = join(w.dir, 'old.sqlite');
    const db = new Database(file);
    db.exec(`CREATE TABLE conversations (peer TEXT PRIMARY KEY, next_seq INTEGER NOT NULL DEFAULT 1, delivered INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE messages (n INTEGER PRIMARY KEY AUTOINCREMENT, peer TEXT NOT NULL, dir TEXT NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
        sent_at INTEGER NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, delivered_at INTEGER);
      INSERT INTO conversations VALUES ('bob', 4, 7);
      INSERT INTO messages (peer, dir, seq, id, sent_at, at, text, status) VALUES ('bob', 'out', 3, x'03', 1, 1, 'old queued', 'queued');
      INSERT INTO messages (peer, dir, seq, id, sent_at, at, text, status) VALUES ('bob', 'in', 7, x'07', 1, 1, 'old in', 'received');`);
    db.close();
    const store = ChatStore.open(file);
    const first = store.load('bob', 'b1');
    expect(first.delivered).toBe(7);
    expect(first.sender.nextSeq).toBe(4);
    expect(first.sender.outbox.map((m) => [m.seq, m.text])).toEqual([[3, 'old queued']]);
    expect(store.unassigned('bob')).toEqual([]);
    // a second device starts its own spaces
    const second = store.load('bob', 'b2');
    expect([second.delivered, second.sender.nextSeq, second.sender.outbox.length]).toEqual([0, 1, 0]);
    expect(store.history('bob').map((h) => [h.device, h.text])).toEqual([['b1', 'old queued'], ['b1', 'old in']]);
    expect(() => store.load('bob', '')).toThrow(RangeError);
    store.close();
    w.stop();
  });
});
