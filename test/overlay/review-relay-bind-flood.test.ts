// Review: the relay verifies the Ed25519 signature of EVERY BIND's ticket (relay.ts
// handleBind -> TicketVerifier.verify), with no budget: ~110-125 us per verification on this
// machine (directoryTicketVerifier, sodium), i.e. ~8,000-9,000 BINDs/s — about 1.3 MB/s of
// 150-byte datagrams with random "tickets", from any (spoofable) public sources — keep a
// supernode's only thread busy, and the DATA of every bound session waits behind them.
// Each junk BIND also gets an ERROR back (to a spoofed source: reflection). The verifier here
// only counts (deterministic, no timing); the assertion is the budget the relay keeps since
// 464bcc7. Left open (a protocol matter): spoofed floods can still spend the whole total budget,
// so a NEW session's first BIND may be dropped during one; a return-routability cookie before
// the signature check would end that.
import { describe, it, expect } from 'vitest';
import { RelayForwarder, type TicketVerifier } from '../../src/overlay/relay.ts';
import { encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import { T0, A, B, bound, config, data, sid, verifier } from './review-relay-world.ts';

describe('review: relay BIND flood (ticket verification budget)', () => {
  // Fixed in 464bcc7 (ticket-check budget + cache of verified tickets); failed before.
  it('50,000 junk BINDs in one second from distinct public sources cost at most 10,000 signature verifications; bound sessions keep forwarding', {}, async () => {
    let verifications = 0;
    const counting: TicketVerifier = { verify: (t, now) => { verifications++; return verifier.verify(t, now); } };
    const relay = bound(new RelayForwarder(config({ verifier: counting, deviceBytesPerSec: 100_000_000, deviceBurstBytes: 100_000_000, maxQueuePackets: 100_000 }), T0));
    const before = verifications;
    const junk = new Uint8Array(113);
    let forwarded = 0;
    const slot = { to: A, bytes: new Uint8Array(0) };
    for (let i = 0; i < 50_000; i++) {
      const now = T0 + Math.floor(i / 50);
      junk[0] = i & 0xff; junk[1] = (i >> 8) & 0xff; junk[2] = i >> 16;
      const from = { address: `203.0.${113 + (i % 2)}.${1 + (i % 250)}`, port: 1024 + (i % 60_000) };
      relay.handleDatagram(now, from, encodeRelayMessage({ type: 'bind', requestId: i, deviceId: 'a', ticket: junk }));
      if (i % 100 === 0) relay.handleDatagram(now, A, data(sid(1), 200, i & 0xff));
      while (relay.pollInto(slot)) if (slot.to === B) forwarded++;
    }
    expect(forwarded).toBe(500);
    expect(verifications - before).toBeLessThanOrEqual(10_000);
  });
});
