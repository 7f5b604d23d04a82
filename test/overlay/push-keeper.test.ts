// PushKeeper (src/overlay/push-keeper.ts): the push channel's pings, deadlines,
// make-before-break replacement and retry backoff, with exact timers.
import { describe, it, expect } from 'vitest';
import { PushKeeper, type PushAction } from '../../src/overlay/push-keeper.ts';

function keeper(random = () => 0) {
  const k = new PushKeeper({ random });
  const drain = (): PushAction[] => { const out: PushAction[] = []; for (let a = k.pollAction(); a; a = k.pollAction()) out.push(a); return out; };
  return { k, drain };
}

/** A keeper with channel 1 open at t=0. */
function openAt0(random?: () => number) {
  const t = keeper(random);
  t.k.start(0);
  expect(t.drain()).toEqual([{ type: 'open', id: 1, reason: 'start' }]);
  t.k.opened(0, 1);
  expect(t.drain()).toEqual([]);
  return t;
}

describe('PushKeeper', () => {
  it('pings an open channel every 25 s; a pong keeps it', () => {
    const { k, drain } = openAt0();
    expect(k.pollTimeout()).toBe(25_000);
    k.handleTimeout(24_999);
    expect(drain()).toEqual([]);
    k.handleTimeout(25_000);
    expect(drain()).toEqual([{ type: 'ping', id: 1 }]);
    expect(k.pollTimeout()).toBe(30_000); // the pong deadline
    k.pong(25_040, 1);
    expect(k.pollTimeout()).toBe(50_040);
    k.handleTimeout(30_000);
    expect(drain()).toEqual([]);
    expect(k.healthy).toBe(true);
  });

  it('no pong within 5 s: a new channel is opened at once and the dead one dropped only when it is open', () => {
    const { k, drain } = openAt0();
    k.handleTimeout(25_000);
    drain();
    k.handleTimeout(30_000);
    expect(drain()).toEqual([{ type: 'open', id: 2, reason: 'no pong' }]);
    expect(k.healthy).toBe(false);
    k.opened(30_060, 2);
    expect(drain()).toEqual([{ type: 'drop', id: 1, reason: 'no pong' }]);
    expect(k.healthy).toBe(true);
    expect(k.pollTimeout()).toBe(55_060);
    k.closed(30_070, 1); // the dropped channel's close is not ours any more
    expect(drain()).toEqual([]);
    expect(k.healthy).toBe(true);
  });

  it('moved(): a replacement is opened now (make-before-break) and the old channel pinged', () => {
    const { k, drain } = openAt0();
    k.moved(7_000);
    expect(drain()).toEqual([{ type: 'open', id: 2, reason: 'network changed' }, { type: 'ping', id: 1 }]);
    expect(k.pollTimeout()).toBe(9_000); // the old channel's 2 s deadline
    k.moved(7_100); // an attempt is in flight, the old channel already pinged: nothing more
    expect(drain()).toEqual([]);
    k.opened(7_050, 2);
    expect(drain()).toEqual([{ type: 'drop', id: 1, reason: 'replaced' }]);
    k.handleTimeout(9_000); // the old channel's deadline is gone with it
    expect(drain()).toEqual([]);
  });

  it('moved() but the replacement cannot open while the old channel still answers: the old one is kept', () => {
    const { k, drain } = openAt0();
    k.moved(7_000);
    drain();
    k.pong(7_020, 1);
    k.openFailed(7_030, 2);
    expect(drain()).toEqual([]);
    expect(k.healthy).toBe(true);
    expect(k.pollTimeout()).toBe(32_020); // the next routine ping: no retry pending
  });

  it('suspect(): a ping with a 2 s deadline, at most once per second; a slow pong revives a channel found dead', () => {
    const { k, drain } = openAt0();
    k.suspect(3_000);
    expect(drain()).toEqual([{ type: 'ping', id: 1 }]);
    k.suspect(3_500);
    expect(drain()).toEqual([]);
    expect(k.pollTimeout()).toBe(5_000);
    k.handleTimeout(5_000);
    expect(drain()).toEqual([{ type: 'open', id: 2, reason: 'no pong' }]);
    k.openFailed(5_010, 2); // the directory is unreachable for a moment: retry after 250 ms (random 0)
    expect(k.pollTimeout()).toBe(5_260);
    k.pong(5_100, 1); // ... but the old channel was only slow
    expect(k.healthy).toBe(true);
    expect(k.pollTimeout()).toBe(30_100);
  });

  it('a closed channel is re-opened after a jittered wait that doubles per failure up to 30 s; a channel that stays open 10 s resets it, one that closes at once does not', () => {
    const { k, drain } = openAt0(() => 0.5); // factor 0.75
    k.closed(1_000, 1);
    expect(k.pollTimeout()).toBe(1_000 + 375);
    let now = 1_375;
    const waits: number[] = [];
    for (let id = 2; id <= 10; id++) {
      k.handleTimeout(now);
      expect(drain()).toEqual([{ type: 'open', id, reason: 'retry' }]);
      k.openFailed(now + 10, id);
      waits.push(k.pollTimeout()! - (now + 10));
      now = k.pollTimeout()!;
    }
    expect(waits).toEqual([750, 1_500, 3_000, 6_000, 12_000, 22_500, 22_500, 22_500, 22_500]);
    k.handleTimeout(now);
    expect(drain()).toEqual([{ type: 'open', id: 11, reason: 'retry' }]);
    k.opened(now + 5, 11);
    k.closed(now + 10, 11); // closed right after its hello: still a failure, the wait stays long
    expect(k.pollTimeout()).toBe(now + 10 + 22_500);
    now = k.pollTimeout()!;
    k.handleTimeout(now);
    expect(drain()).toEqual([{ type: 'open', id: 12, reason: 'retry' }]);
    k.opened(now + 5, 12);
    k.closed(now + 5 + 10_000, 12); // stayed open 10 s: the wait starts over
    expect(k.pollTimeout()).toBe(now + 5 + 10_000 + 375);
  });

  it('a pong resets the retry wait', () => {
    const { k, drain } = openAt0(() => 0.5);
    k.closed(100, 1);
    for (let id = 2; id <= 5; id++) { k.handleTimeout(k.pollTimeout()!); drain(); k.openFailed(k.pollTimeout() ?? 0, id); }
    const t = k.pollTimeout()!;
    k.handleTimeout(t);
    expect(drain()).toEqual([{ type: 'open', id: 6, reason: 'retry' }]);
    k.opened(t + 5, 6);
    k.suspect(t + 10);
    expect(drain()).toEqual([{ type: 'ping', id: 6 }]);
    k.pong(t + 20, 6);
    k.closed(t + 30, 6);
    expect(k.pollTimeout()).toBe(t + 30 + 375);
  });

  it('moved() while waiting to retry: opens at once with the wait reset', () => {
    const { k, drain } = openAt0();
    k.closed(0, 1);
    for (let id = 2; id <= 5; id++) { k.handleTimeout(k.pollTimeout()!); drain(); k.openFailed(k.pollTimeout() ?? 0, id); }
    expect(k.pollTimeout()! - 0).toBeGreaterThan(3_000);
    k.moved(4_000);
    expect(drain()).toEqual([{ type: 'open', id: 6, reason: 'network changed' }]);
    k.openFailed(4_010, 6);
    expect(k.pollTimeout()).toBe(4_010 + 250);
  });

  it('close(): no timers, no actions; a channel that opens afterwards is dropped', () => {
    const { k, drain } = openAt0();
    k.moved(1_000);
    drain();
    k.close();
    expect(k.pollTimeout()).toBeUndefined();
    k.opened(1_050, 2);
    expect(drain()).toEqual([{ type: 'drop', id: 2, reason: 'not wanted any more' }]);
    k.handleTimeout(100_000);
    k.suspect(100_000);
    expect(drain()).toEqual([]);
  });
});
