// Review: an incoming message that the store fails to persist (SQLITE_FULL, an I/O error)
// must not be acknowledged. ChatService's stream handler runs receiver.handleFrame (which
// advances the in-memory `delivered` watermark) and then drainIn -> store.recordIncoming; when
// that throws, the catch calls flushIn, whose receiver.pollTransmit() writes ACK{delivered} —
// the watermark that includes the unstored message — and the receiver keeps that watermark
// for the next link's HELLO. The sender takes it as a delivery receipt: the message is lost
// (never stored, never shown) and its sender sees 'delivered'.
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

describe('review: chat receiver when the store fails', () => {
  // Fixed: ChatReceiver.persistFailed (the watermark goes back to the last stored seq, no ACK).
  it('a message whose recordIncoming throws once is not acknowledged; it is delivered (stored once) on the resend', { timeout: 20_000 }, async () => {
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
    let failures = 1;
    const record = b.store.recordIncoming.bind(b.store);
    b.store.recordIncoming = (...args: Parameters<ChatStore['recordIncoming']>) => {
      if (failures > 0) { failures--; throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }); }
      return record(...args);
    };
    a.svc.start(); b.svc.start();
    try {
      const m = a.svc.send('bob', 'must not be lost');
      const receipt = await a.svc.waitReceipt(m.id, 5_000);
      const stored = b.svc.history('alice').filter((h) => h.text === 'must not be lost');
      // before the fix: receipt true, stored [] — acknowledged, never stored
      expect({ receipt, stored: stored.length }).toEqual({ receipt: true, stored: 1 });
    } finally {
      a.svc.close(); b.svc.close(); a.store.close(); b.store.close();
    }
  });
});
