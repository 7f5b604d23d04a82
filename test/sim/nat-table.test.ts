// NatTable: the RFC 4787 behaviours as pure logic (the packet-level NAT tests are in
// nat.test.ts). Addresses are u32s from 192.0.2.0/24 (inside) and 198.51.100.0/24.
import { describe, it, expect } from 'vitest';
import { NatTable, type NatBehavior } from '../../src/sim/nat-table.ts';
import { createRng } from '../../src/sim/rng.ts';

const ip = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const IN = ip('192.0.2.10');
const R1 = ip('198.51.100.20');
const R2 = ip('198.51.100.30');
const table = (b: Partial<NatBehavior>) => new NatTable(b, createRng(5));

describe('NatTable mapping behaviour', () => {
  it('endpoint-independent: one external port for every destination', () => {
    const t = table({ mapping: 'endpoint-independent' });
    const a = t.outbound(0, IN, 5000, R1, 7000)!;
    const b = t.outbound(0, IN, 5000, R2, 7000)!;
    const c = t.outbound(0, IN, 5000, R1, 7001)!;
    expect(b.externalPort).toBe(a.externalPort);
    expect(c.externalPort).toBe(a.externalPort);
    expect(t.counters.mappingsCreated).toBe(1);
  });

  it('address-dependent: same port for the same address, new port for another address', () => {
    const t = table({ mapping: 'address-dependent' });
    const a = t.outbound(0, IN, 5000, R1, 7000)!;
    const sameAddr = t.outbound(0, IN, 5000, R1, 7001)!;
    const other = t.outbound(0, IN, 5000, R2, 7000)!;
    expect(sameAddr.externalPort).toBe(a.externalPort);
    expect(other.externalPort).not.toBe(a.externalPort);
  });

  it('address-and-port-dependent: a new port for each destination address:port', () => {
    const t = table({ mapping: 'address-and-port-dependent' });
    const a = t.outbound(0, IN, 5000, R1, 7000)!;
    const b = t.outbound(0, IN, 5000, R1, 7001)!;
    const again = t.outbound(0, IN, 5000, R1, 7000)!;
    expect(b.externalPort).not.toBe(a.externalPort);
    expect(again.externalPort).toBe(a.externalPort);
  });
});

describe('NatTable filtering behaviour', () => {
  it('endpoint-independent: anyone may send to an existing mapping, nobody to a missing one', () => {
    const t = table({ filtering: 'endpoint-independent' });
    const m = t.outbound(0, IN, 5000, R1, 7000)!;
    expect(t.inbound(1, m.externalPort, R2, 9999)).toBe(m);
    expect(t.inbound(1, m.externalPort + 1, R2, 9999)).toBeUndefined();
    expect(t.lastDropReason).toBe('no-mapping');
  });

  it('address-dependent: only addresses sent to, from any port', () => {
    const t = table({ filtering: 'address-dependent' });
    const m = t.outbound(0, IN, 5000, R1, 7000)!;
    expect(t.inbound(1, m.externalPort, R1, 7999)).toBe(m);
    expect(t.inbound(1, m.externalPort, R2, 7000)).toBeUndefined();
    expect(t.lastDropReason).toBe('filtered');
  });

  it('address-and-port-dependent: only the exact address:port sent to', () => {
    const t = table({ filtering: 'address-and-port-dependent' });
    const m = t.outbound(0, IN, 5000, R1, 7000)!;
    expect(t.inbound(1, m.externalPort, R1, 7000)).toBe(m);
    expect(t.inbound(1, m.externalPort, R1, 7001)).toBeUndefined();
    expect(t.lastDropReason).toBe('filtered');
  });
});

describe('NatTable port allocation and timeouts', () => {
  it('preserving keeps the internal port when free and falls back when taken', () => {
    const t = table({ portAllocation: 'preserving', mapping: 'address-and-port-dependent' });
    expect(t.outbound(0, IN, 5000, R1, 7000)!.externalPort).toBe(5000);
    expect(t.outbound(0, IN, 5000, R2, 7000)!.externalPort).not.toBe(5000);
    expect(t.outbound(0, ip('192.0.2.11'), 6000, R1, 7000)!.externalPort).toBe(6000);
  });

  it('sequential hands out consecutive ports from portMin', () => {
    const t = table({ portAllocation: 'sequential', portMin: 20000, portMax: 20010 });
    const ports = [5000, 5001, 5002].map((p) => t.outbound(0, IN, p, R1, 7000)!.externalPort);
    expect(ports).toEqual([20000, 20001, 20002]);
  });

  it('random gives seeded, distinct, in-range ports', () => {
    const ports = (seed: number) => {
      const t = new NatTable({ portAllocation: 'random' }, createRng(seed));
      return [5000, 5001, 5002, 5003].map((p) => t.outbound(0, IN, p, R1, 7000)!.externalPort);
    };
    const p = ports(3);
    expect(new Set(p).size).toBe(4);
    for (const x of p) expect(x >= 1024 && x <= 65535).toBe(true);
    expect(ports(3)).toEqual(p);
    expect(p).not.toEqual([5000, 5001, 5002, 5003]);
  });

  it('reports exhaustion when the range is full', () => {
    const t = table({ portMin: 30000, portMax: 30001 });
    expect(t.outbound(0, IN, 1, R1, 1)).toBeDefined();
    expect(t.outbound(0, IN, 2, R1, 1)).toBeDefined();
    expect(t.outbound(0, IN, 3, R1, 1)).toBeUndefined();
    expect(t.lastDropReason).toBe('ports-exhausted');
  });

  it('a mapping expires mappingTimeoutMs after the last outbound packet; outbound refreshes it, inbound does not', () => {
    const t = table({ mappingTimeoutMs: 1000, filtering: 'endpoint-independent', portAllocation: 'sequential' });
    const m = t.outbound(0, IN, 5000, R1, 7000)!;
    t.outbound(800, IN, 5000, R1, 7000); // refresh: now expires at 1800
    expect(t.inbound(1700, m.externalPort, R1, 7000)).toBe(m); // inbound does not refresh
    expect(t.inbound(1800, m.externalPort, R1, 7000)).toBeUndefined();
    expect(t.lastDropReason).toBe('no-mapping');
    expect(t.counters.mappingsExpired).toBe(1);
    const fresh = t.outbound(1900, IN, 5000, R1, 7000)!;
    expect(fresh).not.toBe(m);
    expect(fresh.externalPort).not.toBe(m.externalPort);
  });

  it('inboundRefresh: inbound traffic keeps the mapping alive when enabled', () => {
    const t = table({ mappingTimeoutMs: 1000, filtering: 'endpoint-independent', inboundRefresh: true });
    const m = t.outbound(0, IN, 5000, R1, 7000)!;
    expect(t.inbound(900, m.externalPort, R1, 7000)).toBe(m);
    expect(t.inbound(1800, m.externalPort, R1, 7000)).toBe(m);
  });
});
