// Review: PushKeeper resets its retry backoff whenever a channel OPENS (opened(): retryWaitMs =
// retryMs). A channel the directory (or a middlebox) closes right after its hello — an
// overloaded instance closing slow consumers (hub.ts: 1013), a per-user connection cap that
// closes the newest, a load balancer — is then re-opened every 0.25-0.5 s forever, and each
// open makes the Peer republish its presence (peer-push.ts onReconnected): ~2 WebSocket
// handshakes + 2 PUT /v1/presence per second per peer, from every affected peer at once —
// a reconnection storm that feeds the overload that caused it. Exact timers, no I/O.
import { describe, it, expect } from 'vitest';
import { PushKeeper, type PushAction } from '../../src/overlay/push-keeper.ts';

describe('review: PushKeeper with channels that close right after opening', () => {
  // Failed before 98579ca (an open no longer resets the backoff): 139 opens in 60 s.
  it('20 channels that each die right after opening: the re-opens back off (at most 10 in the first 60 s)', {}, async () => {
    const k = new PushKeeper({ random: () => 0.5 });
    const opens: number[] = [];
    let now = 0;
    const step = () => {
      for (let a: PushAction | undefined = k.pollAction(); a; a = k.pollAction()) {
        if (a.type !== 'open') continue;
        opens.push(now);
        const id = a.id;
        k.opened(now + 50, id); // the hello came
        k.closed(now + 60, id); // ... and the directory closed it at once
      }
    };
    k.start(now);
    step();
    for (let i = 0; i < 10_000 && now < 60_000; i++) {
      now = Math.max(now + 60, k.pollTimeout() ?? now + 1_000);
      k.handleTimeout(now);
      step();
    }
    expect(opens.length, `opens at ${opens.slice(0, 12).map((t) => Math.round(t)).join(', ')} ...`).toBeLessThanOrEqual(10);
  });
});
