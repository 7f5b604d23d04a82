// A peer that changed networks can still be CALLED: its push channel (how the directory's
// rendezvous reaches it) died with its old address, silently — the sim directory cuts it
// (SimDirectory.cutPush: what it pushes is lost, pings go unanswered, no close on either
// side), as a real TCP connection behind a NAT that forgot it. The real Peer (sim-peer-
// harness.ts) must notice and open a new one, so that alice's NEW connect() reaches bob.
// Before peer-push.ts the push channel was only re-opened when it closed, which a dead one
// never does: the rendezvous was lost and alice's connect() failed at its 15 s timeout.
// Virtual time, fixed seeds; bounds that a regression breaks:
//   - mid-session move (bob notices at once: his path dies, his mapping moved): new push
//     channel within 1 s of the move; alice's new call (1.5 s after the move) connects;
//   - a call placed at the moment of a mid-session move: its rendezvous is lost on bob's dead
//     channel; alice re-sends it (peer.ts scheduleRedial: bob silent 1.5 s after the start and
//     he republished) and connects within 5 s of the move (before: connect() failed at 15 s);
//   - idle move (NAT renumbered, same host address; nothing in flight): bob notices at his
//     next STUN keepalive (every 5 s; 20 s when this was written), new push channel within
//     21 s; a call then connects.
import { describe, it, expect, afterAll } from 'vitest';
import type { Duplex } from 'node:stream';
import type { ContactSession } from '../../src/overlay/peer-api.ts';
import { NAT_KINDS } from './nat-model.ts';
import { simWorld, tempStateDirs } from './sim-peer-harness.ts';

const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

describe('calling a contact whose push channel died when it changed networks (real Peer, simulated network)', () => {
  it('mid-session move: bob opens a new push channel at once; alice\'s new call reaches him', { timeout: 30_000 }, async () => {
    const seed = 21;
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], seed, (n) => dirs.dir(`push-mid-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      bob.on('session', (s: ContactSession) => s.on('stream', (st: Duplex) => st.on('data', (c: Buffer) => st.write(c))));
      const first = await w.loop.settle(alice.connect('bob'), 15_000);
      const st = await w.loop.settle(first.openStream(), 1_000);
      let echoed = '';
      st.on('data', (c: Buffer) => { echoed += c.toString(); });
      st.write('before\n');
      expect(await w.loop.until(() => echoed.includes('before\n'), 2_000)).toBe(true);
      const movedAt = w.net.clock.now();
      w.move('bob', NAT_KINDS['EIM/EIF'], '198.51.100.5');
      w.dir.cutPush('bob');
      // The session carries on (its own recovery); then alice hangs up and calls again.
      st.write('after the move\n');
      expect(await w.loop.until(() => echoed.includes('after the move\n'), 5_000), w.logs.slice(-30).join('\n')).toBe(true);
      await w.loop.until(() => false, Math.max(0, movedAt + 1_500 - w.net.clock.now()));
      first.close('calling again');
      await w.loop.until(() => false, 100);
      const callAt = w.net.clock.now();
      const second = await w.loop.settle(alice.connect('bob'), 5_000).catch((e: Error) => { throw new Error(`seed ${seed}: ${e.message}\n${w.logs.slice(-40).join('\n')}`); });
      expect(second).not.toBe(first);
      const st2 = await w.loop.settle(second.openStream(), 1_000);
      let echoed2 = '';
      st2.on('data', (c: Buffer) => { echoed2 += c.toString(); });
      st2.write('new call\n');
      expect(await w.loop.until(() => echoed2.includes('new call\n'), 2_000)).toBe(true);
      const reopened = w.dir.pushOpens.filter((o) => o.username === 'bob' && o.at > movedAt);
      const summary = { seed, pushReopenedAfterMs: reopened.map((o) => Math.round(o.at - movedAt)), callConnectMs: Math.round(w.net.clock.now() - callAt), path: second.path };
      console.log(`mid-session move, then a new call: ${JSON.stringify(summary)}`);
      expect(reopened.length, JSON.stringify(summary)).toBeGreaterThanOrEqual(1);
      expect(reopened[0].at - movedAt, JSON.stringify(summary)).toBeLessThan(1_000);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });

  it('a call placed right at the move (before bob noticed): re-sent when bob republishes, so it reaches him in seconds, not after the 15 s timeout', { timeout: 30_000 }, async () => {
    const seed = 23;
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], seed, (n) => dirs.dir(`push-now-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      bob.on('session', (s: ContactSession) => s.on('stream', (st: Duplex) => st.on('data', (c: Buffer) => st.write(c))));
      const first = await w.loop.settle(alice.connect('bob'), 15_000);
      await w.loop.until(() => false, 2_000);
      const movedAt = w.net.clock.now();
      w.move('bob', NAT_KINDS['EIM/EIF'], '198.51.100.5');
      w.dir.cutPush('bob');
      first.close('calling again'); // its CLOSE is lost: bob's session notices its path died
      const second = await w.loop.settle(alice.connect('bob'), 8_000).catch((e: Error) => { throw new Error(`seed ${seed}: ${e.message}\n${w.logs.slice(-50).join('\n')}`); });
      const connectedAfterMs = Math.round(w.net.clock.now() - movedAt);
      const st = await w.loop.settle(second.openStream(), 1_000);
      let echoed = '';
      st.on('data', (c: Buffer) => { echoed += c.toString(); });
      st.write('right after the move\n');
      expect(await w.loop.until(() => echoed.includes('right after the move\n'), 2_000)).toBe(true);
      const rendezvous = w.dir.rendezvous.filter((r) => r.at >= movedAt).map((r) => `${Math.round(r.at - movedAt)} ms ${r.from}->${r.to}`);
      console.log(`call at the move: ${JSON.stringify({ seed, connectedAfterMs, rendezvous, path: second.path })}`);
      expect(rendezvous.length, rendezvous.join(', ')).toBe(2); // the lost one and the re-sent one
      expect(connectedAfterMs).toBeLessThan(5_000);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });

  it('a caller that calls again while the callee still holds the first call\'s pending link: the callee takes the later rendezvous', { timeout: 30_000 }, async () => {
    // alice's first call cannot get out (her link is down) and fails at her 1.5 s timeout; bob
    // got its rendezvous and keeps checking (his timeout is 15 s). alice calls again: bob must
    // switch to the new rendezvous, as alice holds only that one. Before, bob kept the one with
    // the smaller id — here the first (r<n> ids count up) — and the second call failed too.
    const seed = 24;
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], seed, (n) => dirs.dir(`push-again-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice', { connectTimeoutMs: 1_500 }), w.start('bob')]);
    try {
      w.setHostLinkUp('alice', false);
      const first = await w.loop.settle(alice.connect('bob').then(() => 'connected', (e: Error) => e.message), 5_000);
      expect(first).toMatch(/no session within 1500 ms/);
      w.setHostLinkUp('alice', true);
      const s = await w.loop.settle(alice.connect('bob'), 5_000).catch((e: Error) => { throw new Error(`seed ${seed}: ${e.message}\n${w.logs.slice(-30).join('\n')}`); });
      expect(s.closed).toBe(false);
      expect(w.dir.rendezvous.map((r) => r.from)).toEqual(['alice', 'alice']);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });

  it('idle move (NAT renumbered): bob notices at his next keepalive and opens a new push channel; a call then reaches him', { timeout: 60_000 }, async () => {
    const seed = 22;
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], seed, (n) => dirs.dir(`push-idle-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      const movedAt = w.net.clock.now();
      w.move('bob', NAT_KINDS['EIM/APDF'], '198.51.100.4');
      w.dir.cutPush('bob');
      const reopened = () => w.dir.pushOpens.filter((o) => o.username === 'bob' && o.at > movedAt);
      expect(await w.loop.until(() => reopened().length > 0, 21_000), `seed ${seed}: no new push channel within 21 s\n${w.logs.slice(-30).join('\n')}`).toBe(true);
      const reopenedAfterMs = Math.round(reopened()[0].at - movedAt);
      await w.loop.until(() => false, 500);
      const callAt = w.net.clock.now();
      const s = await w.loop.settle(alice.connect('bob'), 5_000).catch((e: Error) => { throw new Error(`seed ${seed}: ${e.message}\n${w.logs.slice(-40).join('\n')}`); });
      console.log(`idle move, then a call: ${JSON.stringify({ seed, reopenedAfterMs, callConnectMs: Math.round(w.net.clock.now() - callAt), path: s.path })}`);
      expect(s.closed).toBe(false);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });
});
