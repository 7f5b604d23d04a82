// Review: the directory keeps every push channel a logged-in user opens — no cap per user,
// per device or in total (src/directory/push/socket.ts attachPushServer, hub.ts add()). One
// ordinary account (registration is open: 20 per address per hour) can hold tens of thousands
// of WebSocket connections, each a file descriptor and its buffers, until the directory runs
// out of descriptors or memory and stops accepting anyone's requests; every presence change of
// a contact is also sent once per connection. A peer needs one channel per device (two for a
// moment while one replaces the other, peer-push.ts); the assertion is a generous cap.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { startTestDirectory, user, device, type TestDirectory } from './harness.ts';
import { DirectoryClient, type PushChannel } from '../../src/directory/client.ts';

describe('review: push channels per user', () => {
  let d: TestDirectory;
  const channels: PushChannel[] = [];
  beforeAll(async () => { d = await startTestDirectory('sqlite'); });
  afterAll(async () => { for (const c of channels) c.terminate(); await d?.stop(); });

  // Failed before d64bcc8 (per-device 4, per-user 32, per-instance 100,000): 200 of 200 kept.
  it('one user opening 200 push channels (one device) holds at most 64 of them open on the directory', { timeout: 30_000 }, async () => {
    const token = await user(d.dir.url, 'mallory');
    const dev = await device(d.dir.url, token, 'm1');
    const client = new DirectoryClient(d.dir.url, token);
    for (let i = 0; i < 200; i++) {
      try { channels.push(await client.openPush({ deviceId: dev, onMessage: () => {} })); } catch { /* refused: what a cap may do */ }
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(d.dir.context.hub.connections).toBeLessThanOrEqual(64);
  });
});
