// Review findings (fixed): a store error (SQLITE_FULL, an I/O error) must neither lose a
// message nor produce a false receipt, on either side of a conversation.
//  - Receiving side: ChatService ran receiver.handleFrame (advancing the in-memory
//    `delivered` watermark) and then store.recordIncoming; when that threw, the catch still
//    wrote ACK{delivered} including the unstored message, and the next link's HELLO kept it:
//    acknowledged, never stored. Fix: ChatReceiver.persistFailed(lastStored).
//  - Sending side: flushOut's store.recordDelivered / recordRenumbered / recordNextSeq threw
//    out of the stream's 'data' listener (in the daemon: inside the transport's datagram
//    delivery), after the 'delivered' event was taken and the message had left the in-memory
//    outbox: no receipt while the process lived. Fix: persistOut() in a try; on failure the
//    sender is rebuilt from the store and the link ends; the next HELLO acknowledges again.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ChatService } from '../../src/apps/chat/service.ts';
import { ChatStore } from '../../src/apps/chat/store.ts';
import { FakePeer } from './fake-peer.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** alice and bob, each a ChatService on its own store file (not started). */
function pair() {
  const dir = mkdtempSync(join(tmpdir(), 'tincan-review-chat-'));
  dirs.push(dir);
  const world = new Map<string, FakePeer>();
  const peers = { alice: new FakePeer('alice', world), bob: new FakePeer('bob', world) };
  const mk = (name: 'alice' | 'bob') => {
    const store = ChatStore.open(join(dir, `${name}.sqlite`));
    const svc = new ChatService({ peer: peers[name], store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 20 });
    return { store, svc };
  };
  const a = mk('alice'), b = mk('bob');
  return { a, b, close: () => { a.svc.close(); b.svc.close(); a.store.close(); b.store.close(); } };
}

/** The store's `method` throws SQLITE_FULL on its next call, then works again. */
function failOnce<K extends 'recordIncoming' | 'recordDelivered'>(store: ChatStore, method: K): void {
  let failures = 1;
  const orig = (store[method] as (...a: unknown[]) => void).bind(store);
  (store as unknown as Record<K, (...a: unknown[]) => void>)[method] = (...args: unknown[]) => {
    if (failures > 0) { failures--; throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }); }
    return orig(...args);
  };
}

describe('review: chat when the store fails', () => {
  it('receiving side: a message whose recordIncoming throws once is not acknowledged; it is delivered (stored once) on the resend', { timeout: 20_000 }, async () => {
    const { a, b, close } = pair();
    failOnce(b.store, 'recordIncoming');
    a.svc.start(); b.svc.start();
    try {
      const m = a.svc.send('bob', 'must not be lost');
      const receipt = await a.svc.waitReceipt(m.id, 5_000);
      const stored = b.svc.history('alice').filter((h) => h.text === 'must not be lost');
      // before the fix: receipt true, stored [] — acknowledged, never stored
      expect({ receipt, stored: stored.length }).toEqual({ receipt: true, stored: 1 });
    } finally { close(); }
  });

  it('sending side: recordDelivered throwing once neither escapes the service nor loses the receipt', { timeout: 20_000 }, async () => {
    const { a, b, close } = pair();
    failOnce(a.store, 'recordDelivered');
    const escaped: unknown[] = [];
    const onUncaught = (e: unknown) => { escaped.push(e); };
    process.prependListener('uncaughtException', onUncaught);
    a.svc.start(); b.svc.start();
    try {
      const m = a.svc.send('bob', 'receipt please');
      const receipt = await a.svc.waitReceipt(m.id, 5_000);
      expect(escaped.map((e) => (e as Error).message)).toEqual([]);
      expect(receipt).toBe(true);
      expect(a.svc.history('bob').filter((h) => h.text === 'receipt please').map((h) => h.status)).toEqual(['delivered']);
      expect(b.svc.history('alice').filter((h) => h.text === 'receipt please')).toHaveLength(1);
    } finally {
      process.off('uncaughtException', onUncaught);
      close();
    }
  });
});
