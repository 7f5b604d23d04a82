// NatClassifier against the pure NAT model: every RFC 4787 behaviour is recognised,
// timers are exact, losses are retried, misbehaving servers are noticed.
import { describe, it, expect } from 'vitest';
import { NatClassifier, type ClassifierConfig, type Probe } from '../../src/overlay/nat-classify.ts';
import { formatNatType, type NatType } from '../../src/overlay/nat-types.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';
import { NatModel, NAT_KINDS } from './nat-model.ts';

const primary = { address: '198.51.100.10', port: 3478 };
const primaryAlt = { address: '198.51.100.10', port: 3479 };
const secondary = { address: '198.51.100.20', port: 3478 };
const lanHost = { address: '192.0.2.2', port: 5000 };
const publicHost = { address: '198.51.100.5', port: 5000 };

interface RunOptions {
  /** Drop this many first transmissions of each test (request side). */
  dropFirst?: number;
  /** Server answers CHANGE-REQUEST from the primary itself (broken server). */
  ignoreChange?: boolean;
  maxSteps?: number;
}

function run(config: ClassifierConfig, nat: NatModel, host: UdpAddress, opts: RunOptions = {}) {
  let now = 0;
  const c = new NatClassifier(config, now);
  const sent: { at: number; probe: Probe }[] = [];
  for (let step = 0; step < (opts.maxSteps ?? 100) && !c.result(); step++) {
    for (let p = c.pollProbe(); p; p = c.pollProbe()) {
      sent.push({ at: now, probe: p });
      if (p.transmission <= (opts.dropFirst ?? 0)) continue;
      const ext = nat.outbound(host, p.to);
      if (!ext) continue;
      let from = p.to;
      if (!opts.ignoreChange && p.change === 'ip-and-port') from = secondary;
      if (!opts.ignoreChange && p.change === 'port') from = primaryAlt;
      if (nat.inbound(from, ext)) c.handleResponse(now, p.id, { mapped: ext, from });
    }
    const t = c.pollTimeout();
    if (t === undefined) break;
    now = t;
    c.handleTimeout(now);
  }
  return { result: c.result(), sent, now };
}

const full = (local: UdpAddress): ClassifierConfig => ({ primary, secondary, primaryAltPort: primaryAlt, localAddresses: [local] });

describe('NatClassifier', () => {
  const kinds: [string, NatType][] = [
    ...Object.entries(NAT_KINDS),
    ['ADM/APDF', { udp: 'open', mapping: 'ADM', filtering: 'APDF' }],
    ['APDM/EIF', { udp: 'open', mapping: 'APDM', filtering: 'EIF' }],
    ['public/APDF (firewall)', { udp: 'open', mapping: 'none', filtering: 'APDF' }],
    ['EIM/ADF', { udp: 'open', mapping: 'EIM', filtering: 'ADF' }],
  ];
  for (const [name, type] of kinds) {
    it(`recognises ${name}`, () => {
      const host = type.udp === 'open' && type.mapping === 'none' ? publicHost : lanHost;
      const { result } = run(full(host), new NatModel(type, '198.51.100.2'), host);
      expect(result).toBeDefined();
      expect(result!.nat).toEqual(type);
      expect(result!.certain).toBe(true);
      if (type.udp === 'open') expect(result!.mapped?.address).toBe(type.mapping === 'none' ? publicHost.address : '198.51.100.2');
    });
  }

  it('gives up on a blocked network at exact times: 0, 250, 750, result at 1750', () => {
    const { result, sent, now } = run(full(lanHost), new NatModel({ udp: 'blocked' }, '198.51.100.2'), lanHost);
    expect(sent.map((s) => [s.at, s.probe.test, s.probe.transmission])).toEqual([
      [0, 'map-primary', 1], [250, 'map-primary', 2], [750, 'map-primary', 3],
    ]);
    expect(now).toBe(1750);
    expect(formatNatType(result!.nat)).toBe('UDP-blocked');
  });

  it('runs filtering tests before touching the secondary or the alternate port (RFC 5780 §4.4)', () => {
    const { sent } = run(full(lanHost), new NatModel(NAT_KINDS['EIM/APDF'], '198.51.100.2'), lanHost);
    const order = sent.map((s) => `${s.at}:${s.probe.test}`);
    // map-primary answered at 0; filter tests go out at 0 and time out at 1750; then mapping tests.
    expect(order.slice(0, 3)).toEqual(['0:map-primary', '0:filter-other-ip', '0:filter-other-port']);
    expect(order.filter((o) => o.includes('map-secondary'))).toEqual(['1750:map-secondary']);
    expect(order.filter((o) => o.includes('map-alt-port'))).toEqual(['1750:map-alt-port']);
  });

  it('survives losing the first transmission of every test', () => {
    const { result, sent } = run(full(lanHost), new NatModel(NAT_KINDS['EIM/ADF'], '198.51.100.2'), lanHost, { dropFirst: 1 });
    expect(formatNatType(result!.nat)).toBe('EIM/ADF');
    expect(sent[1]).toMatchObject({ at: 250, probe: { test: 'map-primary', transmission: 2 } });
  });

  it('without an alternate port: ADM and ADF are reported conservatively as APDM/APDF, uncertain', () => {
    const config = { primary, secondary, localAddresses: [lanHost] };
    const { result } = run(config, new NatModel({ udp: 'open', mapping: 'ADM', filtering: 'ADF' }, '198.51.100.2'), lanHost);
    expect(result!.nat).toEqual({ udp: 'open', mapping: 'APDM', filtering: 'APDF' });
    expect(result!.certain).toBe(false);
    expect(result!.notes.join('\n')).toMatch(/ADM and APDM not distinguished/);
  });

  it('notices a server that ignores CHANGE-REQUEST instead of believing it', () => {
    const { result } = run(full(lanHost), new NatModel(NAT_KINDS['EIM/EIF'], '198.51.100.2'), lanHost, { ignoreChange: true });
    expect(result!.notes.join('\n')).toMatch(/ignored CHANGE-REQUEST/);
    expect(result!.nat).toEqual({ udp: 'open', mapping: 'EIM', filtering: 'APDF' });
  });

  it('ignores unknown ids and late duplicates', () => {
    const c = new NatClassifier(full(lanHost), 0);
    const p = c.pollProbe()!;
    c.handleResponse(0, 999, { mapped: lanHost, from: primary });
    expect(c.pollProbe()).toBeUndefined();
    c.handleResponse(1, p.id, { mapped: { address: '198.51.100.2', port: 40000 }, from: primary });
    c.handleResponse(2, p.id, { mapped: { address: '198.51.100.2', port: 40001 }, from: primary });
    expect([c.pollProbe()!.test, c.pollProbe()!.test, c.pollProbe()]).toEqual(['filter-other-ip', 'filter-other-port', undefined]);
  });

  it('rejects impossible configurations', () => {
    expect(() => new NatClassifier({ primary, secondary: { ...primary, port: 1 } }, 0)).toThrow(RangeError);
    expect(() => new NatClassifier({ primary, secondary, primaryAltPort: primary }, 0)).toThrow(RangeError);
    expect(() => new NatClassifier({ primary, secondary, maxTransmits: 0 }, 0)).toThrow(RangeError);
  });

  it('a server that cannot answer CHANGE-REQUEST (420) ends the filtering test at once: APDF assumed, uncertain', () => {
    let now = 0;
    const c = new NatClassifier({ primary, secondary, localAddresses: [lanHost] }, now);
    const nat = new NatModel({ udp: 'open', mapping: 'EIM', filtering: 'EIF' }, '198.51.100.2');
    for (let step = 0; step < 20 && !c.result(); step++) {
      for (let p = c.pollProbe(); p; p = c.pollProbe()) {
        const ext = nat.outbound(lanHost, p.to)!;
        if (p.change !== 'none') c.handleUnsupported(now, p.id); // the 420 arrives in the same instant
        else c.handleResponse(now, p.id, { mapped: ext, from: p.to });
      }
      const t = c.pollTimeout();
      if (t === undefined) break;
      now = t;
      c.handleTimeout(now);
    }
    expect(now).toBe(0); // no timeout was needed
    expect(formatNatType(c.result()!.nat)).toBe('EIM/APDF');
    expect(c.result()!.certain).toBe(false);
    expect(c.result()!.notes.join('; ')).toContain('cannot answer from another address');
  });
});
