// predictDirect: the RFC 4787 hole-punching table, checked against the pure NAT model
// by actually punching (both sides send to the other's reflexive address, then answer
// whatever arrived), so the table cannot drift from the behaviour it describes.
import { describe, it, expect } from 'vitest';
import { predictDirect, formatNatType, type NatType } from '../../src/overlay/nat-types.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { NatModel, NAT_KINDS } from './nat-model.ts';

const stun = { address: '198.51.100.10', port: 3478 };

/** Simulate one coordinated punch between hosts behind `ta` and `tb`. */
function punch(ta: NatType, tb: NatType, aFirst: boolean): boolean {
  const side = (t: NatType, lan: string, pub: string) => {
    const host: UdpAddress = t.udp === 'open' && t.mapping === 'none' ? { address: pub, port: 5000 } : { address: lan, port: 5000 };
    return { nat: new NatModel(t, pub), host };
  };
  const a = side(ta, '192.0.2.2', '198.51.100.2');
  const b = side(tb, '192.0.2.66', '198.51.100.3');
  const ra = a.nat.outbound(a.host, stun);
  const rb = b.nat.outbound(b.host, stun);
  if (!ra || !rb) return false;
  // Each side aims at the other's reflexive address; a receiver answers the source it saw.
  const send = (from: typeof a, to: typeof a, dst: UdpAddress): UdpAddress | undefined => {
    const src = from.nat.outbound(from.host, dst);
    if (!src) return undefined;
    return to.nat.inbound(src, dst) ? src : undefined;
  };
  const order = aFirst ? [[a, b, rb], [b, a, ra]] as const : [[b, a, ra], [a, b, rb]] as const;
  for (let round = 0; round < 2; round++) {
    for (const [from, to, dst] of order) {
      const seen = send(from, to, dst);
      // The receiver answers the observed source (peer-reflexive); success if that gets back.
      if (seen && send(to, from, seen)) return true;
    }
  }
  return false;
}

describe('predictDirect (RFC 4787)', () => {
  const names = Object.keys(NAT_KINDS);
  it('agrees with an actual punch through the NAT model for all 36 pairs, both send orders', () => {
    const rows: string[] = [];
    for (const x of names) {
      const row: string[] = [];
      for (const y of names) {
        const predicted = predictDirect(NAT_KINDS[x], NAT_KINDS[y]);
        expect(punch(NAT_KINDS[x], NAT_KINDS[y], true), `${x} -> ${y}`).toBe(predicted);
        expect(punch(NAT_KINDS[x], NAT_KINDS[y], false), `${x} <- ${y}`).toBe(predicted);
        expect(predictDirect(NAT_KINDS[y], NAT_KINDS[x])).toBe(predicted);
        row.push(predicted ? 'direct' : 'relay');
      }
      rows.push(`${x.padEnd(12)} ${row.map((r) => r.padEnd(7)).join('')}`);
    }
    console.log(`${''.padEnd(12)} ${names.map((n) => n.slice(0, 6).padEnd(7)).join('')}\n${rows.join('\n')}`);
  });

  it('covers the issue\'s minimum: EIM facing EIF/ADF, and EIM-EIM of any filtering, are direct', () => {
    const eim = ['public', 'EIM/EIF', 'EIM/ADF', 'EIM/APDF'];
    for (const x of eim) for (const y of eim) expect(predictDirect(NAT_KINDS[x], NAT_KINDS[y])).toBe(true);
    expect(predictDirect(NAT_KINDS['EIM/ADF'], NAT_KINDS.APDM)).toBe(true);
    expect(predictDirect(NAT_KINDS['EIM/APDF'], NAT_KINDS.APDM)).toBe(false);
    expect(predictDirect(NAT_KINDS.APDM, NAT_KINDS.APDM)).toBe(false);
    expect(predictDirect(NAT_KINDS['UDP-blocked'], NAT_KINDS.public)).toBe(false);
  });

  it('formats types', () => {
    expect(Object.values(NAT_KINDS).map(formatNatType)).toEqual(['public', 'EIM/EIF', 'EIM/ADF', 'EIM/APDF', 'APDM/APDF', 'UDP-blocked']);
  });
});
