// The daemon's control socket over an in-memory peer pair: send waits for the receipt,
// an offline contact is reported as queued, status/history/tail, a non-contact refused,
// socket 0600 and a second daemon on the same state dir refused.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../src/apps/daemon.ts';
import { request, subscribe, ControlError } from '../../src/apps/control/client.ts';
import type { ControlEvent, SendResponse, StatusResponse, HistoryResponse } from '../../src/apps/control/protocol.ts';
import { FakePeer } from './fake-peer.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

async function setup() {
  const root = mkdtempSync(join(tmpdir(), 'tincan-daemon-'));
  cleanup.push(() => rmSync(root, { recursive: true, force: true }));
  const world = new Map<string, FakePeer>();
  const peers = { alice: new FakePeer('alice', world), bob: new FakePeer('bob', world) };
  const daemons: Record<string, Daemon> = {};
  for (const name of ['alice', 'bob'] as const) {
    daemons[name] = await startDaemon({ peer: peers[name], stateDir: join(root, name), retryMs: 20 });
    cleanup.push(() => daemons[name].close());
  }
  return { root, peers, daemons, sock: (n: 'alice' | 'bob') => daemons[n].socketPath };
}

describe('daemon control socket', () => {
  it('send -> delivered; history; status; tail sees the message and the receipt', async () => {
    const { sock } = await setup();
    const events: ControlEvent[] = [];
    const sub = await subscribe(sock('bob'), 'alice', (e) => events.push(e));
    cleanup.push(() => sub.close());
    await new Promise((r) => setTimeout(r, 20));
    const r = await request<SendResponse>(sock('alice'), { op: 'send', to: 'bob', text: 'hi' });
    expect(r.status).toBe('delivered');
    const h = await request<HistoryResponse>(sock('bob'), { op: 'history', with: 'alice' });
    expect(h.messages.map((m) => [m.direction, m.text])).toEqual([['in', 'hi']]);
    const st = await request<StatusResponse>(sock('alice'), { op: 'status' });
    expect(st.username).toBe('alice');
    expect(st.contacts).toEqual([expect.objectContaining({ username: 'bob', presence: 'online', path: 'direct', pending: 0 })]);
    for (let i = 0; i < 100 && !events.some((e) => e.event === 'message'); i++) await new Promise((res) => setTimeout(res, 10));
    expect(events.find((e) => e.event === 'message')).toMatchObject({ from: 'alice', text: 'hi' });
  });

  it('offline contact: queued with a reason, delivered later; non-contact refused', async () => {
    const { peers, sock } = await setup();
    peers.bob.setOnline(false);
    const r = await request<SendResponse & { reason?: string }>(sock('alice'), { op: 'send', to: 'bob', text: 'later', waitMs: 100 });
    expect(r.status).toBe('queued');
    expect(r.reason).toMatch(/offline/);
    await expect(request(sock('alice'), { op: 'send', to: 'mallory', text: 'x' })).rejects.toMatchObject({ code: 'not-a-contact' });
    peers.bob.setOnline(true);
    for (let i = 0; i < 200; i++) {
      const h = await request<HistoryResponse>(sock('alice'), { op: 'history', with: 'bob' });
      if (h.messages[0]?.status === 'delivered') break;
      await new Promise((res) => setTimeout(res, 10));
    }
    const h = await request<HistoryResponse>(sock('alice'), { op: 'history', with: 'bob' });
    expect(h.messages.map((m) => m.status)).toEqual(['delivered']);
  });

  it('socket is 0600, a second daemon is refused, a missing daemon is reported', async () => {
    const { root, peers, sock } = await setup();
    expect(statSync(sock('alice')).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'alice')).mode & 0o777).toBe(0o700);
    await expect(startDaemon({ peer: peers.alice, stateDir: join(root, 'alice') })).rejects.toThrow(/already running/);
    const err = await request(join(root, 'nobody.sock'), { op: 'status' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlError);
    expect((err as ControlError).code).toBe('daemon-not-running');
  });
});
