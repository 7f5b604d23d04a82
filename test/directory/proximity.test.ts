// "Nearest first" ordering of supernodes: shared address prefix in whole
// octets, families never match, IPv4-mapped IPv6 counts as IPv4, ties keep
// their (least loaded first) order.
import { describe, it, expect } from 'vitest';
import { sharedPrefixBits, orderNearest } from '../../src/directory/proximity.ts';

describe('supernode proximity', () => {
  it('counts shared whole octets', () => {
    expect(sharedPrefixBits('198.51.100.7', '198.51.100.200')).toBe(24);
    expect(sharedPrefixBits('198.51.100.7', '198.51.7.7')).toBe(16);
    expect(sharedPrefixBits('198.51.100.7', '198.51.100.7')).toBe(32);
    expect(sharedPrefixBits('10.0.0.1', '192.0.2.1')).toBe(0);
    expect(sharedPrefixBits('2001:db8:1::1', '2001:db8:2::1')).toBe(40);
    expect(sharedPrefixBits('::ffff:203.0.113.9', '203.0.113.200')).toBe(24);
    expect(sharedPrefixBits('203.0.113.9', '2001:db8::1')).toBe(0);
    expect(sharedPrefixBits('not-an-ip', '203.0.113.9')).toBe(0);
  });

  it('orders nearest first and keeps the input order among equals', () => {
    const list = [{ id: 'a', address: '192.0.2.1' }, { id: 'b', address: '203.0.113.1' }, { id: 'c', address: '192.0.2.99' }, { id: 'd', address: '203.0.113.2' }];
    expect(orderNearest(list, '203.0.113.50').map((s) => `${s.id}${s.prefixBits}`)).toEqual(['b24', 'd24', 'a0', 'c0']);
    expect(orderNearest(list, '192.0.2.50').map((s) => s.id)).toEqual(['a', 'c', 'b', 'd']);
    expect(orderNearest(list, '2001:db8::1').map((s) => s.id)).toEqual(['a', 'b', 'c', 'd']);
  });
});
