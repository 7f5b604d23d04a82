// Review: a nomination is authenticated (MESSAGE-INTEGRITY with the rendezvous' password) but
// not bound to the address it came from. An attacker who sees one of the controlling side's
// nominating checks (every probe on the selected pair carries USE-CANDIDATE; a Wi-Fi
// eavesdropper, a box on the path, the relay for relayed checks) can replay it from its own
// address. Before: the controlled agent made that never-checked prflx pair its selected path
// at once ('path-switched' reason 'nominated'), so its session traffic went to the attacker
// until the pair's triggered check failed or the next genuine nomination (up to ~1.5 s per
// replayed datagram; a replay a second kept the session dark). Now (RFC 8445 §7.3.1.5) the
// controlled side follows a nomination only for a pair its own check proved: at once when it
// has, else when that check succeeds. Seeded, virtual time (check-harness.ts).
// Also: replayed checks from many addresses each made a peer-reflexive pair, up to maxPairs
// (64), never forgotten: after that a request from the contact's NEW address (its NAT
// renumbered mid-call) made no pair at all. Now a full table forgets a failed prflx pair.
import { describe, it, expect } from 'vitest';
import { CheckHarness } from './check-harness.ts';
import { NAT_KINDS } from './nat-model.ts';
import { candidate, candidateKey } from '../../src/overlay/candidates.ts';
import { CheckAgent, type CheckTransmit } from '../../src/overlay/checks.ts';

const ATTACKER = { address: '203.0.113.66', port: 4444 };

describe('review: CheckAgent nominations (controlled side)', () => {
  it('a replayed nomination from another address never becomes the selected path', () => {
    const h = new CheckHarness(NAT_KINDS['EIM/EIF'], NAT_KINDS['EIM/APDF'], { seed: 11 });
    h.runUntil(3_000);
    const b = h.b.agent!;
    const before = b.selectedPair();
    expect(before, 'B follows A\'s nomination').toBeDefined();
    const hostKey = candidateKey(h.b.candidates[0]);
    const replayAt = h.now;
    // replayed every 500 ms for 5 s (the attacker never answers B's checks: it cannot)
    for (let t = h.now; t < replayAt + 5_000; t += 500) {
      h.runUntil(t);
      b.handleRequest(h.now, hostKey, ATTACKER, `replay${t}`, true);
      expect(b.selectedPair()?.remote.address, `at +${Math.round(t - replayAt)} ms`).not.toEqual(ATTACKER);
    }
    h.runUntil(replayAt + 8_000);
    const toAttacker = h.eventsOf(h.b, 'path-switched').filter((x) => x.at >= replayAt && x.e.to.remote.address.address === ATTACKER.address);
    expect(toAttacker).toEqual([]);
    expect(b.selectedPair()?.key).toBe(before!.key);
    // the replay still got its answer (a check is answered whoever sends it) and was checked back: nothing else
    expect(b.status().find((s) => s.pair.remote.address.address === ATTACKER.address)?.state).toBe('failed');
  });

  it('a nomination waiting for its check is dropped when a later nomination is followed: the stale one never moves the path', () => {
    const L = candidate('host', { address: '198.51.100.3', port: 5000 });
    const R1 = { address: '198.51.100.2', port: 5000 }, R2 = { address: '203.0.113.2', port: 5000 };
    let n = 0;
    const b = new CheckAgent({ controlling: false, startAt: 0, localCandidates: [L], remoteCandidates: [candidate('host', R1), candidate('host', R2)], newTxId: () => `t${++n}` });
    const sent: CheckTransmit[] = [];
    const drain = () => { for (let t = b.pollTransmit(); t; t = b.pollTransmit()) sent.push(t); };
    b.handleTimeout(0); b.handleTimeout(20); drain();
    const check = (to: typeof R1) => sent.find((t) => t.kind === 'request' && t.to.address === to.address)!;
    b.handleResponse(30, check(R1).txId, R1); // R1 proven; R2's check still out
    b.handleRequest(40, candidateKey(L), R2, 'n1', true); // the controlling side nominates R2 ...
    b.handleRequest(50, candidateKey(L), R1, 'n2', true); // ... then R1 (it changed its mind)
    expect(b.selectedPair()?.remote.address).toEqual(R1);
    b.handleResponse(60, check(R2).txId, R2); // R2's check answers late
    expect(b.selectedPair()?.remote.address).toEqual(R1);
  });

  it('checks replayed from 64 other addresses do not fill the pair table for good: the contact\'s new address still gets a pair', () => {
    const h = new CheckHarness(NAT_KINDS['EIM/EIF'], NAT_KINDS['EIM/APDF'], { seed: 12 });
    h.runUntil(3_000);
    const b = h.b.agent!;
    const hostKey = candidateKey(h.b.candidates[0]);
    for (let i = 0; i < 64; i++) b.handleRequest(h.now, hostKey, { address: '203.0.113.66', port: 10_000 + i }, `fill${i}`, false);
    expect(b.status().length).toBe(64); // full: the attacker's pairs are being checked (and will fail)
    h.runUntil(h.now + 5_000);
    const moved = { address: '198.51.100.99', port: 61_000 }; // the contact's NAT renumbered mid-call
    b.handleRequest(h.now, hostKey, moved, 'moved1', false);
    expect(b.status().some((x) => x.pair.remote.address.address === moved.address && x.pair.remote.address.port === moved.port)).toBe(true);
    expect(b.status().length).toBeLessThanOrEqual(64);
    expect(b.selectedPair()).toBeDefined();
  });

  it('a genuine nomination of a pair the controlled side has not checked yet is followed once its check succeeds', () => {
    // NAT pairs that go direct: both sides end on the same direct pair (B's proven by its own check).
    for (const [ka, kb] of [['EIM/EIF', 'EIM/APDF'], ['EIM/APDF', 'EIM/APDF'], ['public', 'APDM'], ['APDM', 'EIM/EIF']] as const) {
      const h = new CheckHarness(NAT_KINDS[ka], NAT_KINDS[kb], { seed: 5 });
      h.runUntil(3_000);
      const a = h.a.agent!.selectedPair(), b = h.b.agent!.selectedPair();
      const desc = `${ka} x ${kb}: A ${a && `${a.local.type}->${a.remote.type}`}, B ${b && `${b.local.type}->${b.remote.type}`}`;
      expect(a, desc).toBeDefined();
      expect(b, desc).toBeDefined();
      expect(a!.relayed, desc).toBe(false);
      expect(b!.relayed, desc).toBe(false);
      expect(h.b.agent!.status().find((x) => x.pair.key === b!.key)?.state, desc).toBe('succeeded');
      expect(h.eventsOf(h.b, 'path-selected').length + h.eventsOf(h.b, 'path-switched').length, desc).toBeGreaterThanOrEqual(1);
    }
  });
});
