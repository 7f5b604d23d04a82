// An IDLE peer behind a NAT that renumbers (same host address, new public mapping; its push
// channel's TCP connection dies silently with the old mapping) must be callable again well
// within a caller's 15 s connect timeout. The worst case is simulated: the renumbering comes
// right after bob's STUN keepalive was answered (he learns of it only at the next one), and
// alice calls at that very moment, so her rendezvous goes to bob's dead push channel.
// Real Peers in the simulator (sim-peer-harness.ts), virtual time, fixed seeds:
//   - keepalive 20 s (the old interval), no replay: bob reopens his channel only when his push
//     keeper's 25 s ping goes unanswered or at his next keepalive (here after ~10 s); alice's call
//     now waits for him (contact-link.ts: no sign of the contact yet) — before, it failed ~1.9 s
//     after the call, when its checks had failed;
//   - keepalive 5 s (the default now), no replay: bob notices within 5 s, reopens his channel
//     and republishes; alice re-sends her call (peer.ts scheduleRedial): connected;
//   - keepalive 5 s + the directory's rendezvous replay (src/directory/push/replay.ts, as the
//     harness' directory runs it): the lost rendezvous is replayed on bob's new channel:
//     connected without a re-sent call, and bob starts no second link for a replay he had.
import { describe, it, expect, afterAll } from 'vitest';
import { NAT_KINDS } from './nat-model.ts';
import { simWorld, tempStateDirs, type SimWorld } from './sim-peer-harness.ts';
import { RendezvousReplay } from '../../src/directory/push/replay.ts';

const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

const DIRECTORY_STUN = [198, 51, 100, 10];

/** Resolves the virtual time at which bob next RECEIVES the directory's STUN answer (his keepalive's). */
function nextStunAnswer(w: SimWorld): () => number | undefined {
  const bob = w.net.hosts.get('bob')!;
  let at: number | undefined;
  (bob.taps ??= []).push((t, b) => {
    // IPv4 source 12..15 = the directory's STUN host, UDP source port 3478, to bob's LAN address
    if (at === undefined && b[12] === DIRECTORY_STUN[0] && b[13] === DIRECTORY_STUN[1] && b[14] === DIRECTORY_STUN[2] && b[15] === DIRECTORY_STUN[3] && ((b[20] << 8) | b[21]) === 3478) at = t;
  });
  return () => at;
}

interface Outcome { connectedAfterMs?: number; failed?: string; pushReopenedAfterMs?: number; rendezvous: number; replays: number; bobSessions: number }

async function renumberedIdleCall(seed: number, keepaliveMs: number, replay: boolean, tag: string, idleMs = 1_000): Promise<Outcome> {
  const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], seed, (n) => dirs.dir(`renumber-${tag}-${n}`));
  if (replay) w.dir.replay = new RendezvousReplay();
  const [alice, bob] = await Promise.all([w.start('alice', { keepaliveMs }), w.start('bob', { keepaliveMs })]);
  try {
    await w.loop.until(() => false, idleMs); // idle: nothing in flight
    const answered = nextStunAnswer(w);
    expect(await w.loop.until(() => answered() !== undefined, keepaliveMs + 1_000), 'bob keeps his mapping alive').toBe(true);
    const movedAt = w.net.clock.now();
    w.move('bob', NAT_KINDS['EIM/APDF'], '198.51.100.4');
    w.dir.cutPush('bob');
    const call = alice.connect('bob').then(() => undefined, (e: Error) => e.message);
    let result: string | undefined | 'pending' = 'pending';
    void call.then((r) => { result = r; });
    await w.loop.until(() => result !== 'pending', 16_000);
    const after = Math.round(w.net.clock.now() - movedAt);
    await w.loop.until(() => false, 500); // bob's side of the handshake completes
    const reopened = w.dir.pushOpens.find((o) => o.username === 'bob' && o.at > movedAt);
    const bobSessions = w.logs.filter((l) => l.includes(' bob: session with alice')).length;
    return {
      ...(result === undefined ? { connectedAfterMs: after } : { failed: `${String(result)} after ${after} ms` }),
      ...(reopened ? { pushReopenedAfterMs: Math.round(reopened.at - movedAt) } : {}),
      rendezvous: w.dir.rendezvous.filter((r) => r.at >= movedAt).length,
      replays: w.dir.replays.length,
      bobSessions,
    };
  } finally {
    await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
  }
}

describe('an idle peer behind a renumbered NAT is callable again within a caller\'s connect timeout (real Peer, simulated network)', () => {
  it('for comparison, the old 20 s keepalive: bob is found only by his push keeper\'s ping or his next keepalive', { timeout: 60_000 }, async () => {
    const o = await renumberedIdleCall(31, 20_000, false, 'old');
    console.log(`renumbered idle callee, keepalive 20 s, no replay: ${JSON.stringify(o)}`);
    expect(o.pushReopenedAfterMs!, JSON.stringify(o)).toBeGreaterThan(5_500);
  });

  it('5 s keepalive: bob reopens his push channel within ~5 s, alice\'s re-sent call connects', { timeout: 60_000 }, async () => {
    const o = await renumberedIdleCall(31, 5_000, false, 'redial');
    console.log(`renumbered idle callee, keepalive 5 s, no replay: ${JSON.stringify(o)}`);
    expect(o.connectedAfterMs, JSON.stringify(o)).toBeDefined();
    expect(o.pushReopenedAfterMs!, JSON.stringify(o)).toBeLessThan(5_500);
    expect(o.connectedAfterMs!, JSON.stringify(o)).toBeLessThan(8_000);
    expect(o.rendezvous, 'the lost call and the re-sent one').toBe(2);
  });

  it('5 s keepalive + replay: the lost rendezvous is replayed on bob\'s new channel; connected without a re-sent call', { timeout: 60_000 }, async () => {
    const o = await renumberedIdleCall(31, 5_000, true, 'replay');
    console.log(`renumbered idle callee, keepalive 5 s, replay: ${JSON.stringify(o)}`);
    expect(o.connectedAfterMs, JSON.stringify(o)).toBeDefined();
    expect(o.connectedAfterMs!, JSON.stringify(o)).toBeLessThan(7_000);
    expect(o.replays, JSON.stringify(o)).toBeGreaterThanOrEqual(1);
    expect(o.rendezvous, 'no re-sent call was needed').toBe(1);
    expect(o.bobSessions, 'one session on bob\'s side').toBe(1);
  });

  it('worst case over the push keeper\'s phase (renumbered after 1, 8, 15, 22 s idle; seeds 41-44): connected within 7 s', { timeout: 60_000 }, async () => {
    const runs: Outcome[] = [];
    for (const [i, idleMs] of [1_000, 8_000, 15_000, 22_000].entries()) runs.push(await renumberedIdleCall(41 + i, 5_000, true, `phase${i}`, idleMs));
    const ms = runs.map((o) => o.connectedAfterMs ?? Infinity);
    console.log(`renumbered idle callee, keepalive 5 s, replay, 4 phases: connected after ${JSON.stringify(ms)} ms; ${JSON.stringify(runs)}`);
    for (const o of runs) expect(o.connectedAfterMs, JSON.stringify(o)).toBeLessThan(7_000);
  });
});

// The push channel's TCP connection dies while bob's UDP mapping stays the same (a NAT that
// dropped only the TCP state, a directory host gone without a FIN): his keepalives see nothing
// wrong. alice calls: her rendezvous goes into the dead channel and is not acknowledged; 1 s
// later the directory nudges bob over UDP (a STUN Binding indication from its STUN endpoint to
// his srflx, src/directory/push/nudge.ts), bob pings his channel (2 s deadline), finds it dead,
// opens a new one and gets the rendezvous replayed. Without the nudge bob finds the dead
// channel only at his push keeper's next ping (every 25 s, 5 s deadline).
describe('a push channel dead while the UDP mapping is unchanged (real Peer, simulated network)', () => {
  interface DeathOutcome { connectedAfterMs?: number; failed?: string; nudgedAfterMs: number[]; pushReopenedAfterMs?: number; replays: number; rendezvous: number }
  async function tcpOnlyDeath(seed: number, nudge: boolean, tag: string): Promise<DeathOutcome> {
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], seed, (n) => dirs.dir(`tcpdeath-${tag}-${n}`));
    w.dir.replay = new RendezvousReplay();
    if (!nudge) w.dir.nudge = undefined;
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      await w.loop.until(() => false, 2_000);
      const cutAt = w.net.clock.now();
      w.dir.cutPush('bob');
      let result: string | undefined | 'pending' = 'pending';
      void alice.connect('bob').then(() => { result = undefined; }, (e: Error) => { result = e.message; });
      await w.loop.until(() => result !== 'pending', 16_000);
      const after = Math.round(w.net.clock.now() - cutAt);
      const reopened = w.dir.pushOpens.find((o) => o.username === 'bob' && o.at > cutAt);
      return {
        ...(result === undefined ? { connectedAfterMs: after } : { failed: `${String(result).slice(0, 60)} after ${after} ms` }),
        nudgedAfterMs: w.dir.nudges.map((n) => Math.round(n.at - cutAt)),
        ...(reopened ? { pushReopenedAfterMs: Math.round(reopened.at - cutAt) } : {}),
        replays: w.dir.replays.length,
        rendezvous: w.dir.rendezvous.filter((r) => r.at >= cutAt).length,
      };
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  }

  it('with the directory\'s nudge: bob replaces his channel ~3 s after the call and the replayed call connects', { timeout: 60_000 }, async () => {
    const o = await tcpOnlyDeath(51, true, 'nudge');
    console.log(`push channel dead, mapping unchanged, nudge: ${JSON.stringify(o)}`);
    expect(o.connectedAfterMs, JSON.stringify(o)).toBeDefined();
    expect(o.connectedAfterMs!, JSON.stringify(o)).toBeLessThan(5_000);
    expect(o.nudgedAfterMs, JSON.stringify(o)).toHaveLength(1);
    expect(o.replays, JSON.stringify(o)).toBeGreaterThanOrEqual(1);
  });

  it('for comparison, without the nudge: bob finds the dead channel only at his push keeper\'s ping', { timeout: 60_000 }, async () => {
    const o = await tcpOnlyDeath(51, false, 'plain');
    console.log(`push channel dead, mapping unchanged, no nudge: ${JSON.stringify(o)}`);
    expect(o.nudgedAfterMs).toEqual([]);
    expect(o.pushReopenedAfterMs ?? Infinity, JSON.stringify(o)).toBeGreaterThan(5_000);
  });
});

// A replay that comes late — an older call, replayed on a channel bob reopened after the call
// got through another way (a re-sent rendezvous) — must not replace the live session it is older
// than (peer.ts onRendezvous; a restarted contact's NEWER rendezvous still replaces a session).
describe('a late replay of an older rendezvous (real Peer, simulated network)', () => {
  it('does not replace the live session, and starts no second link; a newer one does', { timeout: 60_000 }, async () => {
    const seed = 61;
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], seed, (n) => dirs.dir(`late-replay-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      let bobSessions = 0;
      bob.on('session', () => { bobSessions++; });
      await w.loop.settle(alice.connect('bob'), 15_000);
      expect(await w.loop.until(() => bobSessions === 1, 1_000)).toBe(true);
      const live = w.dir.rendezvous[w.dir.rendezvous.length - 1].calleeCopy!;
      const session = bob.sessions()[0];
      // the same call's device pair, an id bob never saw, 5 s older: a late replay
      w.dir.pushTo('bob', { ...live, id: 'f'.repeat(32), serverTime: live.serverTime - 5_000, startAt: live.startAt - 5_000, delayMs: 0, replayed: true });
      await w.loop.until(() => false, 2_000);
      expect(session.closed, w.logs.slice(-10).join('\n')).toBe(false);
      expect(bob.sessions()).toEqual([session]);
      expect(w.logs.filter((l) => l.includes(' bob: rendezvous ffffffff') && !l.includes('replayed')), 'no link for it').toEqual([]);
      expect(w.logs.filter((l) => l.includes('replayed by the directory')).length).toBe(1);
      // a NEWER rendezvous of the same device (alice restarted and called): replaces the session
      w.dir.pushTo('bob', { ...live, id: 'e'.repeat(32), serverTime: live.serverTime + 5_000, startAt: live.startAt + 5_000, delayMs: 300 });
      expect(await w.loop.until(() => session.closed, 2_000), 'the newer rendezvous replaced it').toBe(true);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });
});

// What the 5 s keepalive costs an idle peer: every UDP packet bob's host sends and receives over
// 120 s with no session (STUN keepalives to the directory and their answers, the supernode
// picker's RTT probes every 10 s and their answers), with the old and the new keepalive interval.
// (The push channel is TCP, not simulated: its WebSocket ping every 25 s adds ~0.12 packets/s.)
describe('idle UDP cost of a peer (real Peer, simulated network)', () => {
  it('5 s keepalive: 0.4 packets/s to the directory (0.2 requests/s + answers) instead of 0.1; the total stays under 0.7 packets/s', { timeout: 60_000 }, async () => {
    const rates: Record<string, { total: number; toDirectory: number }> = {};
    for (const keepaliveMs of [20_000, 5_000]) {
      const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], 71, (n) => dirs.dir(`idle-cost-${keepaliveMs}-${n}`));
      const [alice, bob] = await Promise.all([w.start('alice', { keepaliveMs }), w.start('bob', { keepaliveMs })]);
      try {
        await w.loop.until(() => false, 5_000);
        let total = 0, toDirectory = 0;
        (w.net.hosts.get('bob')!.taps ??= []).push((_t, b) => {
          total++;
          if ((b[12] === DIRECTORY_STUN[0] && b[13] === DIRECTORY_STUN[1] && b[14] === DIRECTORY_STUN[2] && b[15] === DIRECTORY_STUN[3])
            || (b[16] === DIRECTORY_STUN[0] && b[17] === DIRECTORY_STUN[1] && b[18] === DIRECTORY_STUN[2] && b[19] === DIRECTORY_STUN[3])) toDirectory++;
        });
        await w.loop.until(() => false, 120_000);
        rates[`${keepaliveMs / 1000} s`] = { total: total / 120, toDirectory: toDirectory / 120 };
      } finally {
        await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
      }
    }
    console.log(`idle UDP packets/s of one peer (sent + received): ${JSON.stringify(rates)}`);
    expect(rates['5 s'].toDirectory).toBeCloseTo(0.4, 1);
    expect(rates['20 s'].toDirectory).toBeCloseTo(0.1, 1);
    expect(rates['5 s'].total).toBeLessThan(0.7);
  });
});
