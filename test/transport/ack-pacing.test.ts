// ACK piggybacking policy (AckManager.worthPiggybacking) and BBR's startup
// pacing rate: the two causes of lost simulator goodput found in bench:transport
// (an ACK of the peer's ACK-only packets in every other data packet, 0.23 % of
// the link; a startup pacing rate of 2.885 x the handshake's delivery rate).
import { describe, it, expect } from 'vitest';
import { AckManager } from '../../src/transport/ack-manager.ts';
import { Bbr } from '../../src/transport/congestion/bbr.ts';
import { Pacer } from '../../src/transport/pacing.ts';
import type { RateSample } from '../../src/transport/delivery-rate.ts';

describe('ACK piggybacking', () => {
  it('ACK-only packets from the peer are acknowledged at most once per interval', () => {
    const a = new AckManager(25, 2, false);
    a.onPacket(0, 0, false);
    expect(a.worthPiggybacking(0, 40)).toBe(true); // never sent an ACK yet
    a.onAckSent(0);
    a.onPacket(1, 1, false);
    a.onPacket(2, 2, false);
    expect(a.pending).toBe(true);
    expect(a.deadline).toBeUndefined(); // nothing forces an ACK
    expect(a.worthPiggybacking(39, 40)).toBe(false);
    expect(a.worthPiggybacking(40, 40)).toBe(true);
  });

  it('an unacknowledged ack-eliciting packet is always worth piggybacking', () => {
    const a = new AckManager(25, 2, false);
    a.onPacket(0, 0, true);
    a.onAckSent(0);
    expect(a.worthPiggybacking(1, 40)).toBe(false); // nothing new
    a.onPacket(1, 1, true);
    expect(a.worthPiggybacking(1, 40)).toBe(true);
  });
});

describe('BBR startup pacing', () => {
  const sample = (over: Partial<RateSample>): RateSample => ({ deliveredBytes: 1200, intervalMs: 40, rate: 30, appLimited: false, priorDelivered: 0, totalDelivered: 1200, ackedBytes: 1200, ...over });

  it('a tiny first delivery-rate sample does not throttle startup below 2.885 x initial window / min RTT', () => {
    const b = new Bbr(1200, 10);
    b.onRateSample(40, sample({}), 40, 0); // the handshake: 1,200 bytes in 40 ms
    expect(b.btlBw).toBe(30);
    expect(b.pacingRate(40)).toBeCloseTo((2.885 * 10 * 1200) / 40, 6);
  });

  it('never decreases before the pipe is full, follows gain x bandwidth afterwards', () => {
    const b = new Bbr(1200, 10);
    b.onRateSample(40, sample({ rate: 2000 }), 40, 0);
    const high = b.pacingRate(40);
    expect(high).toBeCloseTo(2.885 * 2000, 6);
    // a lower sample does not lower it during startup
    b.onRateSample(80, sample({ rate: 1000, priorDelivered: 1200, totalDelivered: 2400 }), 40, 0);
    expect(b.pacingRate(40)).toBe(high);
  });
});

describe('pacer', () => {
  // rate 100 bytes/ms (override), burst 150 bytes, granularity 2 ms: the bucket holds max(150, 200) bytes
  const RATE = 100;
  it('keeps at most the burst or 2 ms of sending, and asks for a wake-up when a packet does not fit', () => {
    const p = new Pacer(150);
    expect(p.delayUntil(0, 150, 0, 40, RATE)).toBeUndefined();
    p.onSent(150);
    expect(p.delayUntil(0, 100, 0, 40, RATE)).toBe(1); // 100 bytes at 100 bytes/ms
    // a wake-up 10 ms late on time-based refill alone: the bucket holds only 200 bytes
    expect(p.delayUntil(10, 200, 0, 40, RATE)).toBeUndefined();
    p.onSent(200);
    expect(p.delayUntil(10, 100, 0, 40, RATE)).toBe(11);
  });

  it('a pacing timer that fired late keeps the sending time it overslept (at most one RTT)', () => {
    const p = new Pacer(150);
    p.delayUntil(0, 150, 0, 40, RATE);
    p.onSent(150);
    expect(p.delayUntil(0, 100, 0, 40, RATE)).toBe(1); // wake-up asked for t = 1
    p.onLateTimer(5, 40); // it came at t = 6
    expect(p.delayUntil(6, 600, 0, 40, RATE)).toBeUndefined(); // 6 ms x 100 bytes: all kept (cap 2 + 5 ms)
    p.onSent(600);
    expect(p.delayUntil(6, 100, 0, 40, RATE)).toBe(7); // the credit is used once
    p.onLateTimer(500, 3); // bounded by the RTT: 3 ms
    expect(p.delayUntil(1000, 100, 0, 40, RATE)).toBeUndefined();
    p.onSent(500); // the bucket held (2 + 3) ms = 500 bytes, no more
    expect(p.delayUntil(1000, 100, 0, 40, RATE)).toBe(1001);
  });
});
