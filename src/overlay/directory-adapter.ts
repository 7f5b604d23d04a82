// Translations between the directory client's vocabulary (src/directory/client.ts:
// presence candidates, NAT behaviour, rendezvous messages) and the overlay's (candidates
// with RFC 8445 priorities, RFC 4787 NAT types, ICE credentials, a local start time).
// Pure functions.
//
// ICE credentials are derived from the rendezvous, so the directory protocol needs no
// extra fields: both devices know the rendezvous id (sent to them only, over their
// authenticated push channels) and both device ids. For device D in rendezvous R:
//   ufrag(D)    = the first 8 characters of D
//   password(D) = base64url(SHA-256("tincan ice v1" 0x00 R 0x00 D))[0..24)
// (documented in docs/protocol/checks.md). An off-path attacker who does not know R
// cannot forge checks; the directory, trusted for rendezvous anyway, could.
import { createHash } from 'node:crypto';
import type { Candidate as DirCandidate, NatBehaviour, NatKind, Rendezvous } from '../directory/client.ts';
import type { Millis } from '../wire/socket.ts';
import { candidate, type Candidate } from './candidates.ts';
import type { IceCredentials } from './check-wire.ts';
import type { FilteringBehavior, MappingBehavior, NatType } from './nat-types.ts';

export function icePassword(rendezvousId: string, deviceId: string): string {
  return createHash('sha256').update(`tincan ice v1\0${rendezvousId}\0${deviceId}`, 'utf8').digest('base64url').slice(0, 24);
}

export function iceUfrag(deviceId: string): string {
  if (deviceId.length < 4) throw new RangeError('device id too short for an ICE ufrag');
  return deviceId.slice(0, 8);
}

/** Our credentials for the connectivity checks of rendezvous `r`. */
export function iceCredentialsFor(r: Pick<Rendezvous, 'id' | 'deviceId' | 'peer'>): IceCredentials {
  return {
    localUfrag: iceUfrag(r.deviceId), localPassword: icePassword(r.id, r.deviceId),
    remoteUfrag: iceUfrag(r.peer.deviceId), remotePassword: icePassword(r.id, r.peer.deviceId),
  };
}

/** Presence candidates -> overlay candidates (unparseable entries dropped, at most `max`). */
export function fromDirectoryCandidates(list: readonly DirCandidate[], max = 16): Candidate[] {
  const out: Candidate[] = [];
  for (const c of list) {
    if (out.length >= max) break;
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(c.address) || !Number.isInteger(c.port) || c.port < 1 || c.port > 65535) continue;
    out.push(candidate(c.kind, { address: c.address, port: c.port }));
  }
  return out;
}

/** Overlay candidates -> presence candidates (peer-reflexive ones are never published). */
export function toDirectoryCandidates(list: readonly Candidate[]): DirCandidate[] {
  return list.filter((c) => c.type !== 'prflx').map((c) => ({ kind: c.type as DirCandidate['kind'], address: c.address.address, port: c.address.port }));
}

const MAPPING_TO_DIR: Record<MappingBehavior, NatKind> = { none: 'endpoint-independent', EIM: 'endpoint-independent', ADM: 'address-dependent', APDM: 'address-and-port-dependent' };
const FILTERING_TO_DIR: Record<FilteringBehavior, NatKind> = { EIF: 'endpoint-independent', ADF: 'address-dependent', APDF: 'address-and-port-dependent' };

/** Our classification as published in presence ('unknown' for UDP-blocked). */
export function toDirectoryNat(t: NatType): NatBehaviour {
  if (t.udp === 'blocked') return { mapping: 'unknown', filtering: 'unknown' };
  return { mapping: MAPPING_TO_DIR[t.mapping], filtering: FILTERING_TO_DIR[t.filtering] };
}

/**
 * A peer's published NAT behaviour as an overlay NatType (undefined when unknown).
 * `public` says whether its host candidate equals its reflexive one (no NAT).
 */
export function fromDirectoryNat(n: NatBehaviour | null, isPublic = false): NatType | undefined {
  if (!n || n.mapping === 'unknown' || n.filtering === 'unknown') return undefined;
  const m: Record<Exclude<NatKind, 'unknown'>, MappingBehavior> = { 'endpoint-independent': 'EIM', 'address-dependent': 'ADM', 'address-and-port-dependent': 'APDM' };
  const f: Record<Exclude<NatKind, 'unknown'>, FilteringBehavior> = { 'endpoint-independent': 'EIF', 'address-dependent': 'ADF', 'address-and-port-dependent': 'APDF' };
  return { udp: 'open', mapping: isPublic && n.mapping === 'endpoint-independent' ? 'none' : m[n.mapping], filtering: f[n.filtering] };
}

/** When to start the checks on our clock: the message's delay after we received it (no clock sync needed). */
export function localStartAt(r: Pick<Rendezvous, 'delayMs'>, receivedAt: Millis): Millis {
  return receivedAt + Math.max(0, Math.min(r.delayMs, 10_000));
}

/** Which side nominates: the device with the smaller id (both sides agree without a round trip). */
export function isControlling(r: Pick<Rendezvous, 'deviceId' | 'peer'>): boolean {
  return r.deviceId < r.peer.deviceId;
}
