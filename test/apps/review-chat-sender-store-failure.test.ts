// Review: a store error on the SENDING side escapes ChatService. flushOut (run from the out
// stream's 'data' listener, outside its try, and from its catch) calls store.recordDelivered /
// recordRenumbered / recordNextSeq; when one throws (SQLITE_FULL, an I/O error) the exception
// leaves the stream's 'data' listener — in the daemon that is inside the transport's delivery
// of a datagram (an uncaught exception, or the transport left mid-packet). Worse, the sender's
// 'delivered' event was already taken (pollEvent) and the message already left the in-memory
// outbox: its receipt never comes while the process lives, and history shows it 'queued' until
// a restart reloads and resends it (measured here with the in-memory FakePeer: no receipt in 5 s).
// Expected: the error is contained like a receiving-side one (the link is dropped, the
// acknowledgement is applied again on the next link, the receipt comes then).
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

describe('review: chat sender when the store fails', () => {
  // Fixed: ChatService.flushOut catches store errors, rebuilds the sender from the store and ends the link.
  it('recordDelivered throwing once neither escapes the service nor loses the receipt', { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-review-chat-out-'));
    dirs.push(dir);
    const world = new Map<string, FakePeer>();
    const peers = { alice: new FakePeer('alice', world), bob: new FakePeer('bob', world) };
    const mk = (name: 'alice' | 'bob') => {
      const store = ChatStore.open(join(dir, `${name}.sqlite`));
      const svc = new ChatService({ peer: peers[name], store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 20 });
      return { store, svc };
    };
    const a = mk('alice'), b = mk('bob');
    let failures = 1;
    const orig = a.store.recordDelivered.bind(a.store);
    a.store.recordDelivered = (...args: Parameters<ChatStore['recordDelivered']>) => {
      if (failures > 0) { failures--; throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }); }
      return orig(...args);
    };
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
      a.svc.close(); b.svc.close(); a.store.close(); b.store.close();
    }
  });
});
