// Directory <-> overlay translations: candidates, NAT behaviour, derived ICE credentials
// (both sides derive matching ones and a check authenticates), local start time, roles.
import { describe, it, expect } from 'vitest';
import {
  fromDirectoryCandidates, fromDirectoryNat, iceCredentialsFor, icePassword, isControlling, localStartAt, toDirectoryCandidates, toDirectoryNat,
} from '../../src/overlay/directory-adapter.ts';
import { candidate, candidatePriority } from '../../src/overlay/candidates.ts';
import { decodeCheck, encodeCheckRequest } from '../../src/overlay/check-wire.ts';
import type { Rendezvous } from '../../src/directory/client.ts';

const A = '0123456789abcdef0123456789abcdef';
const B = 'fedcba9876543210fedcba9876543210';
const peer = (deviceId: string) => ({ username: 'x', deviceId, x25519: '', ed25519: null, candidates: [], nat: null, supernode: null });

describe('directory adapter', () => {
  it('derives matching ICE credentials on both sides; a check authenticates', () => {
    const ra: Pick<Rendezvous, 'id' | 'deviceId' | 'peer'> = { id: 'r1', deviceId: A, peer: peer(B) };
    const rb: Pick<Rendezvous, 'id' | 'deviceId' | 'peer'> = { id: 'r1', deviceId: B, peer: peer(A) };
    const ca = iceCredentialsFor(ra);
    const cb = iceCredentialsFor(rb);
    expect([ca.localUfrag, ca.remoteUfrag]).toEqual([cb.remoteUfrag, cb.localUfrag]);
    expect([ca.localPassword, ca.remotePassword]).toEqual([cb.remotePassword, cb.localPassword]);
    expect(ca.localPassword).toHaveLength(24);
    expect(icePassword('r2', A)).not.toBe(ca.localPassword); // fresh per rendezvous
    const req = encodeCheckRequest(ca, { txId: '00'.repeat(12), priority: 1, controlling: isControlling(ra), tieBreaker: 1n, nominate: false });
    expect(decodeCheck(cb, req)).toMatchObject({ kind: 'request', controlling: true });
    expect([isControlling(ra), isControlling(rb)]).toEqual([true, false]);
  });

  it('translates candidates both ways, dropping junk and peer-reflexive ones', () => {
    const dir = [{ kind: 'host' as const, address: '192.0.2.2', port: 5000 }, { kind: 'srflx' as const, address: '198.51.100.2', port: 40000 },
      { kind: 'relay' as const, address: '198.51.100.20', port: 3479 }, { kind: 'host' as const, address: 'example.com', port: 1 }, { kind: 'host' as const, address: '192.0.2.3', port: 0 }];
    const ov = fromDirectoryCandidates(dir);
    expect(ov.map((c) => [c.type, c.priority])).toEqual([['host', candidatePriority('host')], ['srflx', candidatePriority('srflx')], ['relay', candidatePriority('relay')]]);
    expect(toDirectoryCandidates([...ov, candidate('prflx', { address: '198.51.100.9', port: 1 })])).toEqual(dir.slice(0, 3));
  });

  it('translates NAT behaviour both ways', () => {
    expect(toDirectoryNat({ udp: 'open', mapping: 'APDM', filtering: 'APDF' })).toEqual({ mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' });
    expect(toDirectoryNat({ udp: 'blocked' })).toEqual({ mapping: 'unknown', filtering: 'unknown' });
    expect(fromDirectoryNat({ mapping: 'endpoint-independent', filtering: 'address-dependent' })).toEqual({ udp: 'open', mapping: 'EIM', filtering: 'ADF' });
    expect(fromDirectoryNat({ mapping: 'endpoint-independent', filtering: 'endpoint-independent' }, true)).toEqual({ udp: 'open', mapping: 'none', filtering: 'EIF' });
    expect(fromDirectoryNat(null)).toBeUndefined();
    expect(fromDirectoryNat({ mapping: 'unknown', filtering: 'endpoint-independent' })).toBeUndefined();
  });

  it('starts the checks delayMs after receipt on the local clock, capped at 10 s', () => {
    expect(localStartAt({ delayMs: 300 }, 5000)).toBe(5300);
    expect(localStartAt({ delayMs: 1e9 }, 0)).toBe(10_000);
    expect(localStartAt({ delayMs: -5 }, 7)).toBe(7);
  });
});
