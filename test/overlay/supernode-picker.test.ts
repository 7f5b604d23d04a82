// SupernodePicker: fastest supernode by measured RTT with exact probe timers,
// hysteresis, failover when the chosen one goes silent; and automatic supernode eligibility.
import { describe, it, expect } from 'vitest';
import { SupernodePicker, supernodeEligible } from '../../src/overlay/supernode-picker.ts';
import type { PeerRef } from '../../src/overlay/gossip.ts';

const sn = (i: number): PeerRef => ({ id: `sn${i}`, address: { address: `198.51.100.${20 + i}`, port: 3478 } });

/** Drive the picker with fixed one-way delays per supernode (undefined = silent). */
function drive(p: SupernodePicker, delays: () => Record<string, number | undefined>, until: number, start = 0) {
  let now = start;
  const pending: { at: number; txId: string; from: PeerRef['address'] }[] = [];
  const events: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    for (let t = p.pollTransmit(); t; t = p.pollTransmit()) {
      const id = `sn${Number(t.to.address.split('.')[3]) - 20}`;
      const d = delays()[id];
      if (d !== undefined) pending.push({ at: now + 2 * d, txId: t.txId, from: t.to });
    }
    for (let e = p.pollEvent(); e; e = p.pollEvent()) events.push(`${now} ${e.type} ${'supernode' in e ? e.supernode.id : 'to' in e ? `${e.from.id}->${e.to.id} ${e.reason}` : ''}`.trim());
    const next = Math.min(p.pollTimeout() ?? Infinity, ...pending.map((x) => x.at));
    if (next > until) break;
    now = next;
    for (const x of pending.filter((y) => y.at <= now)) p.handleResponse(now, x.txId, x.from);
    pending.splice(0, pending.length, ...pending.filter((y) => y.at > now));
    p.handleTimeout(now);
  }
  return events;
}

describe('SupernodePicker', () => {
  it('probes every candidate at once and picks the fastest answer, then probes every 10 s', () => {
    let n = 0;
    const p = new SupernodePicker({ newTxId: () => `t${++n}` }, 0);
    p.setCandidates(0, [sn(1), sn(2), sn(3)]);
    const delays = { sn1: 30, sn2: 10, sn3: 20 };
    const events = drive(p, () => delays, 25_000);
    expect(events[0]).toBe('20 selected sn2'); // first answer (sn2, RTT 20) at t=20
    expect(p.selected()).toEqual({ supernode: sn(2), srttMs: 20 });
    expect(n).toBe(9); // probes at 0, 10 000, 20 000
  });

  it('keeps the current choice when another is only slightly faster (hysteresis), switches when clearly faster', () => {
    let n = 0;
    const p = new SupernodePicker({ newTxId: () => `t${++n}`, probeIntervalMs: 1000 }, 0);
    p.setCandidates(0, [sn(1), sn(2)]);
    const delays: Record<string, number | undefined> = { sn1: 10, sn2: 11 };
    drive(p, () => delays, 5000);
    expect(p.selected()?.supernode).toEqual(sn(1));
    delays.sn1 = 12; delays.sn2 = 10.5; // 24 vs 21 ms: within max(5 ms, 20%)
    drive(p, () => delays, 30_000, 5000);
    expect(p.selected()?.supernode).toEqual(sn(1));
    delays.sn1 = 40; // 80 ms vs 21 ms
    const events = drive(p, () => delays, 60_000, 30_000);
    expect(events.some((e) => e.endsWith('sn1->sn2 faster'))).toBe(true);
    expect(p.selected()?.supernode).toEqual(sn(2));
  });

  it('fails over when the chosen supernode stops answering: 3 missed probes, exact time', () => {
    let n = 0;
    const p = new SupernodePicker({ newTxId: () => `t${++n}`, probeIntervalMs: 1000, probeTimeoutMs: 500 }, 0);
    p.setCandidates(0, [sn(1), sn(2)]);
    const delays: Record<string, number | undefined> = { sn1: 5, sn2: 50 };
    drive(p, () => delays, 2500);
    expect(p.selected()?.supernode).toEqual(sn(1));
    delays.sn1 = undefined; // probes at 3000, 4000, 5000 are lost; each times out 500 ms later
    const events = drive(p, () => delays, 10_000, 2500);
    expect(events).toContain('5500 switched sn1->sn2 dead');
    delays.sn2 = undefined;
    // sn2 silent from 10 000: probes at 10 000, 11 000, 12 000 time out at +500 ms
    expect(drive(p, () => delays, 20_000, 10_000)).toContain('12500 none-reachable');
  });
});

describe('supernodeEligible', () => {
  const open = { udp: 'open', mapping: 'none', filtering: 'EIF' } as const;
  it('only a public, unfiltered address with capacity and no opt-out', () => {
    expect(supernodeEligible({ nat: open, optOut: false, uplinkBytesPerSec: 5e6 }).eligible).toBe(true);
    expect(supernodeEligible({ nat: open, optOut: true, uplinkBytesPerSec: 5e6 })).toEqual({ eligible: false, reason: 'opted out' });
    expect(supernodeEligible({ nat: { ...open, filtering: 'APDF' }, optOut: false, uplinkBytesPerSec: 5e6 }).reason).toMatch(/filtered/);
    expect(supernodeEligible({ nat: { udp: 'open', mapping: 'EIM', filtering: 'EIF' }, optOut: false, uplinkBytesPerSec: 5e6 }).reason).toMatch(/NAT/);
    expect(supernodeEligible({ nat: { udp: 'blocked' }, optOut: false, uplinkBytesPerSec: 5e6 }).eligible).toBe(false);
    expect(supernodeEligible({ nat: open, optOut: false, uplinkBytesPerSec: 1000 }).reason).toMatch(/uplink/);
  });
});
