// Review (2026-12-02): renumbering is not atomic in the store. When the receiver's HELLO
// says it delivered more than we ever numbered (our store was restored from a backup, or a
// legacy space adopted), ChatSender renumbers the whole outbox from delivered+1 and emits one
// 'renumbered' event per message; ChatService wrote each in its own transaction, the first
// one already setting next_seq past ALL of them. A crash (or a store error) after the first
// write left the others with their old, low seq: on restart the outbox loads as
// [m2 (2), m3 (3), m1 (11)] and the next HELLO{delivered: 10} "acknowledges" m2 and m3 —
// receipts for messages the contact never got, and they are never sent. Fixed: the
// renumbering of one HELLO is written in one transaction (ChatStore.recordRenumbering).
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

/** Makes every write of `store` after the first `n` renumbering writes throw (the process "died" there). */
function dieAfterRenumberWrites(store: ChatStore, n: number): void {
  const s = store as unknown as Record<string, (...a: unknown[]) => unknown>;
  let writes = 0;
  for (const m of ['recordRenumbered', 'recordRenumbering']) {
    const orig = s[m]?.bind(store);
    if (!orig) continue;
    s[m] = (...args: unknown[]) => {
      if (writes++ >= n) throw Object.assign(new Error('killed'), { code: 'SQLITE_IOERR' });
      return orig(...args);
    };
  }
  for (const m of ['recordDelivered', 'recordAssigned', 'recordNextSeq', 'recordIncoming', 'recordOutgoing']) {
    const orig = s[m].bind(store);
    s[m] = (...args: unknown[]) => {
      if (writes > n) throw Object.assign(new Error('killed'), { code: 'SQLITE_IOERR' });
      return orig(...args);
    };
  }
}

describe('review2: a crash in the middle of renumbering', () => {
  it('leaves no false receipt: every message alice sees delivered is in bob\'s history', { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-review2-chat-'));
    dirs.push(dir);
    const aPath = join(dir, 'alice.sqlite'), bPath = join(dir, 'bob.sqlite');
    // bob already delivered alice's seq 1..10 (alice's store is older: restored from a backup)
    const bs = ChatStore.open(bPath);
    for (let seq = 1; seq <= 10; seq++) bs.recordIncoming('alice', '00', { seq, id: new Uint8Array(randomBytes(16)), sentAt: seq, text: `old ${seq}` }, seq);
    bs.close();
    // alice: three messages numbered 1, 2, 3 in bob's device space
    const as0 = ChatStore.open(aPath);
    const ids: Uint8Array[] = [];
    for (let i = 1; i <= 3; i++) {
      const id = new Uint8Array(randomBytes(16));
      ids.push(id);
      as0.recordOutgoing('bob', { id, sentAt: i, text: `m${i}` }, i);
      as0.recordAssigned('bob', '00', id, i, i + 1);
    }
    as0.close();

    const run = async (dies: boolean) => {
      const world = new Map<string, FakePeer>();
      const peers = { alice: new FakePeer('alice', world), bob: new FakePeer('bob', world) };
      const as = ChatStore.open(aPath), bstore = ChatStore.open(bPath);
      if (dies) dieAfterRenumberWrites(as, 1);
      const mk = (name: 'alice' | 'bob', store: ChatStore) => new ChatService({ peer: peers[name], store, randomBytes: (n) => new Uint8Array(randomBytes(n)), now: () => Date.now(), retryMs: 20 });
      const a = mk('alice', as), b = mk('bob', bstore);
      a.start(); b.start();
      const receipts = ids.map((id) => a.waitReceipt(Buffer.from(id).toString('hex'), dies ? 1_000 : 5_000));
      const got = await Promise.all(receipts);
      a.close(); b.close();
      const bobHas = new Set(bstore.history('alice', 100).map((h) => h.text));
      const aliceDelivered = as.history('bob', 100).filter((h) => h.status === 'delivered').map((h) => h.text);
      as.close(); bstore.close();
      return { got, bobHas, aliceDelivered };
    };
    await run(true); // alice "dies" after the first renumbering write
    const r = await run(false); // restarted
    for (const t of r.aliceDelivered) expect(r.bobHas.has(t), `receipt for ${t}, which bob does not have`).toBe(true);
    expect(r.got).toEqual([true, true, true]);
    expect(['m1', 'm2', 'm3'].every((t) => r.bobHas.has(t))).toBe(true);
  });
});
