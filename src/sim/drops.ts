// Why the simulator dropped a packet: one code per reason, counted per network,
// per link direction and per node. Names are what summaries and logs print.

export const DROP_REASONS = [
  'link-down',        // link (or direction) down: scheduled outage, flap or set down
  'mtu',              // packet larger than the link MTU
  'queue-full',       // drop-tail queue at a bandwidth-limited link
  'random-loss',      // independent random loss on a link
  'burst-loss',       // Gilbert–Elliott (bursty) loss on a link
  'ttl-expired',      // a router or NAT would have decremented TTL to 0
  'no-route',         // no routing-table entry for the destination
  'bad-checksum',     // IPv4 header or UDP checksum wrong (e.g. after corruption)
  'malformed',        // not a parseable IPv4(+UDP) packet
  'not-for-host',     // delivered to a host whose address is not the destination
  'port-unreachable', // no socket bound to the destination port
  'socket-closed',    // send on a closed socket
  'oversize',         // payload larger than a UDP datagram can carry (65,507 bytes)
  'bad-destination',  // send to something that is not a dotted-quad IPv4 address and port 1..65535
  'nat-no-mapping',   // inbound to a NAT port with no (live) mapping
  'nat-filtered',     // inbound refused by the NAT's filtering behaviour
  'nat-ports-exhausted', // the NAT had no free external port
  'nat-hairpin-off',  // inside host sent to the NAT's external address, hairpinning off
  'nat-not-udp',      // NATs here translate UDP only
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export const DROP: { readonly [K in DropReason]: number } = Object.fromEntries(
  DROP_REASONS.map((r, i) => [r, i]),
) as { [K in DropReason]: number };

export type DropCounts = Partial<Record<DropReason, number>>;

/** Non-zero counts of a per-reason counter array, by name. */
export function dropCounts(counts: ArrayLike<number>): DropCounts {
  const out: DropCounts = {};
  for (let i = 0; i < DROP_REASONS.length; i++) if (counts[i] > 0) out[DROP_REASONS[i]] = counts[i];
  return out;
}

export function newDropCounters(): Float64Array {
  return new Float64Array(DROP_REASONS.length);
}
