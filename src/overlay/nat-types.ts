// NAT behaviour vocabulary (RFC 4787) and the hole-punching predictor built on it.
// `predictDirect(a, b)` answers: with both peers sending to each other's
// server-reflexive address at a coordinated time (and answering whatever
// arrives, i.e. learning peer-reflexive candidates), can a direct UDP path
// form? Pure functions, no I/O.

/** RFC 4787 §4.1 mapping behaviour. 'none' = no NAT (host address == mapped address). */
export type MappingBehavior = 'none' | 'EIM' | 'ADM' | 'APDM';
/** RFC 4787 §5 filtering behaviour (of the NAT or of a stateful firewall in front of a public host). */
export type FilteringBehavior = 'EIF' | 'ADF' | 'APDF';

export type NatType =
  | { readonly udp: 'blocked' }
  | { readonly udp: 'open'; readonly mapping: MappingBehavior; readonly filtering: FilteringBehavior };

/** Short human label: "public", "EIM/ADF", "APDM/APDF", "UDP-blocked", ... */
export function formatNatType(t: NatType): string {
  if (t.udp === 'blocked') return 'UDP-blocked';
  if (t.mapping === 'none') return t.filtering === 'EIF' ? 'public' : `public/${t.filtering}`;
  return `${t.mapping}/${t.filtering}`;
}

/** True when the address seen by others from this side does not depend on the destination. */
function predictable(m: MappingBehavior): boolean {
  return m === 'none' || m === 'EIM';
}

/**
 * Can side `a` receive the first packet that an unpredictable-mapping side sends from a
 * fresh port, given that `a` has itself already sent to the peer's IP (at the wrong port)?
 * EIF: anything may come in. ADF: the peer's IP was contacted, so yes (NATs that pool
 * several external IPs are out of scope: RFC 4787 REQ-2 asks for "paired" pooling).
 */
function acceptsFromNewPort(f: FilteringBehavior): boolean {
  return f === 'EIF' || f === 'ADF';
}

export function predictDirect(a: NatType, b: NatType): boolean {
  if (a.udp === 'blocked' || b.udp === 'blocked') return false;
  const pa = predictable(a.mapping);
  const pb = predictable(b.mapping);
  // Both mappings predictable: each side's packets to the other's reflexive address open
  // its own filter for exactly that address, and the other's packets come from it.
  if (pa && pb) return true;
  // Neither predictable: no port to aim at (no port prediction in tincan).
  if (!pa && !pb) return false;
  // One unpredictable side U sends to the predictable side P's reflexive address from a
  // new port; P must accept that packet, then both learn the peer-reflexive address.
  return pa ? acceptsFromNewPort(a.filtering) : acceptsFromNewPort(b.filtering);
}
