// Review (2026-12-02): a push channel whose client goes away during the upgrade (after the
// directory announced the channel with noteOpen / 'push-open', before ws completed the
// handshake — a flaky mobile link) was never announced closed: ws's handleUpgrade drops a
// socket that is no longer writable without calling back, so no 'close' handler ran and the
// channel id stayed in every instance's open-anywhere list (up to 8 per device). The device then
// had "a channel open elsewhere" forever: its real last channel closing no longer marked it
// offline (callers kept getting rendezvous for a gone device until presence went stale, 5 min).
// Fixed in push/socket.ts: a socket that closes before the upgrade completes is noted closed.
// Deterministic: the 'push-open' announcement is held until the client has gone.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { connect } from 'node:net';
import { startTestDirectory, user, device, type TestDirectory } from './harness.ts';

describe('review2: a push channel aborted during its upgrade', () => {
  let t: TestDirectory;
  beforeAll(async () => { t = await startTestDirectory('sqlite'); });
  afterAll(async () => { await t?.stop(); });

  it('leaves no channel open anywhere for its device', { timeout: 20_000 }, async () => {
    const token = await user(t.dir.url, 'carol');
    const dev = await device(t.dir.url, token, 'carol-phone');
    const ctx = t.dir.context;
    let clientGone!: () => void;
    const gone = new Promise<void>((r) => { clientGone = r; });
    const orig = ctx.fanout.publishControl.bind(ctx.fanout);
    ctx.fanout.publishControl = async (m) => { if (m.type === 'push-open') await gone; return orig(m); };
    const u = new URL(t.dir.url);
    const sock = connect(Number(u.port), u.hostname);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`GET /v1/push?device=${dev} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    for (let i = 0; i < 200 && ctx.hub.openAnywhereCount(dev) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ctx.hub.openAnywhereCount(dev)).toBe(1); // announced, upgrade pending
    sock.destroy();
    await new Promise((r) => setTimeout(r, 100));
    clientGone();
    for (let i = 0; i < 100 && ctx.hub.openAnywhereCount(dev) !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ctx.hub.openAnywhereCount(dev)).toBe(0);
    ctx.fanout.publishControl = orig;
  });
});
