// The directory's UDP nudge (push/nudge.ts) goes to candidates the device published itself,
// so its targets are filtered (review2 finding A): unicast IPv4 and a real port only; never
// "this network", multicast, reserved or broadcast; loopback only when the directory's own
// STUN socket is on loopback; private (LAN) addresses allowed.
import { describe, it, expect } from 'vitest';
import { nudgeTargetAllowed } from '../../src/directory/push/nudge.ts';

describe('nudgeTargetAllowed', () => {
  it('allows public and private unicast IPv4 with a real port', () => {
    for (const a of ['198.51.100.7', '203.0.113.250', '192.0.2.1', '10.1.2.3', '192.168.0.9', '172.16.5.5', '100.64.0.1']) {
      expect(nudgeTargetAllowed(a, 5000, false), a).toBe(true);
    }
  });
  it('refuses loopback unless STUN itself is on loopback', () => {
    expect(nudgeTargetAllowed('127.0.0.1', 5000, false)).toBe(false);
    expect(nudgeTargetAllowed('127.8.9.10', 53, false)).toBe(false);
    expect(nudgeTargetAllowed('127.0.0.1', 5000, true)).toBe(true);
  });
  it('refuses this-network, multicast, reserved and broadcast addresses, bad ports and non-IPv4 text', () => {
    for (const a of ['0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255']) expect(nudgeTargetAllowed(a, 5000, true), a).toBe(false);
    for (const p of [0, -1, 65536, 1.5, Number.NaN]) expect(nudgeTargetAllowed('198.51.100.7', p, true), String(p)).toBe(false);
    for (const a of ['::1', 'localhost', '198.51.100', '198.51.100.256', '198.51.100.7 ', '01.2.3.4.5', '']) expect(nudgeTargetAllowed(a, 5000, true), a).toBe(false);
  });
});
