// ACK piggybacking policy (AckManager.worthPiggybacking) and BBR's startup
// pacing rate: the two causes of lost simulator goodput found in bench:transport
// (an ACK of the peer's ACK-only packets in every other data packet, 0.23 % of
// the link; a startup pacing rate of 2.885 x the handshake's delivery rate).
import { describe, it, expect } from 'vitest';
import { AckManager } from '../../src/transport/ack-manager.ts';
import { Bbr } from '../../src/transport/congestion/bbr.ts';
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
