// ICE-like candidates (RFC 8445 §5.1): types, priorities, pairing. Pure functions.
//
// A candidate is an address at which a peer might be reached:
//   host   — an address of the peer's own socket (LAN or public)
//   srflx  — server-reflexive: the socket's address as seen by a STUN server (the NAT mapping)
//   prflx  — peer-reflexive: an address learnt from a connectivity check that arrived
//   relay  — a supernode relay session (address = the relay's address; traffic is
//            framed per docs/protocol/relay.md and forwarded to the ticket's other device)
// Pairs are (local, remote) where the local side can send: our host socket toward the
// remote's host/srflx/prflx addresses, or our relay session toward the remote's relay
// candidate on the same relay. A local srflx candidate is never a sending base (its base
// is the host socket), as in RFC 8445 §6.1.2.4.
import type { UdpAddress } from '../wire/socket.ts';
import { formatAddress } from '../wire/socket.ts';

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

/** RFC 8445 §5.1.2.2 recommended type preferences. */
export const TYPE_PREFERENCE: Readonly<Record<CandidateType, number>> = { host: 126, prflx: 110, srflx: 100, relay: 0 };

export interface Candidate {
  readonly type: CandidateType;
  readonly address: UdpAddress;
  /** 32-bit priority (candidatePriority). */
  readonly priority: number;
}

/** RFC 8445 §5.1.2.1: (2^24)·type preference + (2^8)·local preference + (256 − component id). */
export function candidatePriority(type: CandidateType, localPreference = 65535, componentId = 1): number {
  if (!Number.isInteger(localPreference) || localPreference < 0 || localPreference > 65535) throw new RangeError('localPreference must be 0..65535');
  if (!Number.isInteger(componentId) || componentId < 1 || componentId > 256) throw new RangeError('componentId must be 1..256');
  return TYPE_PREFERENCE[type] * 2 ** 24 + localPreference * 2 ** 8 + (256 - componentId);
}

export function candidate(type: CandidateType, address: UdpAddress, localPreference = 65535): Candidate {
  return { type, address, priority: candidatePriority(type, localPreference) };
}

/** Stable identity of a candidate within one agent. */
export function candidateKey(c: Candidate): string {
  return `${c.type}:${formatAddress(c.address)}`;
}

/**
 * RFC 8445 §6.1.2.3: 2^32·MIN(G,D) + 2·MAX(G,D) + (G>D ? 1 : 0), where G is the
 * controlling agent's candidate priority and D the controlled agent's. Needs 64 bits: bigint.
 */
export function pairPriority(controllingPriority: number, controlledPriority: number): bigint {
  const g = BigInt(controllingPriority);
  const d = BigInt(controlledPriority);
  const min = g < d ? g : d;
  const max = g < d ? d : g;
  return (min << 32n) + 2n * max + (g > d ? 1n : 0n);
}

export interface CandidatePair {
  readonly key: string;
  readonly local: Candidate;
  readonly remote: Candidate;
  readonly priority: bigint;
  /** True when traffic goes through a supernode relay. */
  readonly relayed: boolean;
}

export function canPair(local: Candidate, remote: Candidate): boolean {
  if (local.type === 'relay') return remote.type === 'relay' && remote.address.address === local.address.address && remote.address.port === local.address.port;
  if (local.type !== 'host') return false;
  return remote.type !== 'relay';
}

export function makePair(local: Candidate, remote: Candidate, controlling: boolean): CandidatePair {
  const priority = controlling ? pairPriority(local.priority, remote.priority) : pairPriority(remote.priority, local.priority);
  return { key: `${candidateKey(local)}|${formatAddress(remote.address)}`, local, remote, priority, relayed: local.type === 'relay' };
}

/** All sendable pairs, highest priority first, duplicates removed, at most `maxPairs` (RFC 8445 §6.1.2.5 limit). */
export function formPairs(local: readonly Candidate[], remote: readonly Candidate[], controlling: boolean, maxPairs = 64): CandidatePair[] {
  const byKey = new Map<string, CandidatePair>();
  for (const l of local) {
    for (const r of remote) {
      if (!canPair(l, r)) continue;
      const p = makePair(l, r, controlling);
      const old = byKey.get(p.key);
      if (!old || old.priority < p.priority) byKey.set(p.key, p);
    }
  }
  return [...byKey.values()].sort(comparePairs).slice(0, maxPairs);
}

export function comparePairs(a: CandidatePair, b: CandidatePair): number {
  return a.priority > b.priority ? -1 : a.priority < b.priority ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
