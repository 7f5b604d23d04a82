// Review: the caller's re-sent call (peer.ts redial) when the directory's push copy of the
// NEW rendezvous reaches the caller before the HTTP answer does — which is what the real
// directory makes likely: POST /v1/rendezvous publishes the caller's copy on its push channel
// (ctx.fanout.publish([me.userId], forCaller), LocalFanout = ws.send at once) BEFORE it
// returns the answer (src/directory/http/routes/rendezvous.ts). The sim directory does not
// push the caller's copy at all, so the committed sim-push tests never take this order.
//
// What must happen: the caller keeps only its latest rendezvous (docs/protocol/peer.md,
// "Re-sent call"), as the callee keeps the later one; so the call connects in seconds, as in
// sim-push.test.ts "a call placed right at the move".
import { describe, it, expect, afterAll } from 'vitest';
import type { Duplex } from 'node:stream';
import type { ContactSession } from '../../src/overlay/peer-api.ts';
import type { DirectoryClient, PushMessage, Rendezvous } from '../../src/directory/client.ts';
import { NAT_KINDS } from './nat-model.ts';
import { simWorld, tempStateDirs } from './sim-peer-harness.ts';

const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

/** `inner`, except that each rendezvous answer is first delivered on the caller's open push channels (as the real directory orders them). */
function pushingCallerCopy(inner: DirectoryClient): DirectoryClient {
  const handlers: ((m: PushMessage) => void)[] = [];
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'openPush') {
        return (o: Parameters<DirectoryClient['openPush']>[0]) => {
          handlers.push(o.onMessage);
          return target.openPush(o);
        };
      }
      if (prop === 'rendezvous') {
        return async (deviceId: string, username: string, peerDeviceId?: string): Promise<Rendezvous> => {
          const r = await target.rendezvous(deviceId, username, peerDeviceId);
          for (const h of handlers) h({ ...r, peer: { ...r.peer } });
          return r;
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

describe('review: re-sent call whose push copy arrives before the HTTP answer', () => {
  // Failed before 7a14527 (the push copy of the re-sent rendezvous r5 came first, onRendezvous
  // applied the both-calling rule — keep the smaller id, r4 — and marked r5 seen; the HTTP answer
  // then changed nothing: alice stayed on r4, bob took r5, and the call failed).
  it('the caller switches to its re-sent rendezvous (the callee took it): the call connects within 5 s of the move', { timeout: 30_000 }, async () => {
    const seed = 23;
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], seed, (n) => dirs.dir(`review-redial-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice', { directory: pushingCallerCopy(w.dir.clientFor('alice')) }), w.start('bob')]);
    try {
      bob.on('session', (s: ContactSession) => s.on('stream', (st: Duplex) => st.on('data', (c: Buffer) => st.write(c))));
      const first = await w.loop.settle(alice.connect('bob'), 15_000);
      await w.loop.until(() => false, 2_000);
      const movedAt = w.net.clock.now();
      w.move('bob', NAT_KINDS['EIM/EIF'], '198.51.100.5');
      w.dir.cutPush('bob');
      first.close('calling again');
      const outcome = await w.loop.settle(alice.connect('bob').then((s) => ({ s }), (e: Error) => ({ e })), 16_000);
      const rendezvous = w.dir.rendezvous.filter((r) => r.at >= movedAt).map((r) => `${r.id} at +${Math.round(r.at - movedAt)} ms ${r.from}->${r.to}`);
      const info = `seed ${seed}: ${JSON.stringify({ rendezvous, afterMs: Math.round(w.net.clock.now() - movedAt) })}\n${w.logs.slice(-40).join('\n')}`;
      // the precondition of the bug: the re-sent one has the larger id (as half of all random ids do)
      expect(rendezvous.length, info).toBe(2);
      expect('e' in outcome ? outcome.e.message : 'connected', info).toBe('connected');
      expect(w.net.clock.now() - movedAt, info).toBeLessThan(5_000);
      const s = (outcome as { s: ContactSession }).s;
      const st = await w.loop.settle(s.openStream(), 1_000);
      let echoed = '';
      st.on('data', (c: Buffer) => { echoed += c.toString(); });
      st.write('after the re-sent call\n');
      expect(await w.loop.until(() => echoed.includes('after the re-sent call\n'), 2_000)).toBe(true);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });
});
