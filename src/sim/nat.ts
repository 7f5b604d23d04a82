// A simulated NAT box (RFC 4787 behaviours, see nat-table.ts) with two sides:
// `inside` (private LAN) and `outside` (public), each attachable to links.
// Outbound UDP from inside gets its source rewritten to externalAddress:mappedPort;
// inbound UDP to externalAddress is admitted by the mapping + filtering rules and its
// destination rewritten to the internal endpoint. IP and UDP checksums are updated
// incrementally; TTL is decremented like a router. Hairpinning (inside -> own
// external address) is translated both ways when enabled, dropped otherwise.
// Inside, packets go out the port chosen by `insideRoutes` (default: first inside link).
import { ipv4ToU32 } from '../wire/ipv4-address.ts';
import { packetDstPort, packetSrcPort, rewriteDestination, rewriteSource } from '../wire/packet.ts';
import { DROP, dropCounts, newDropCounters, type DropCounts } from './drops.ts';
import { EventKind } from './event-log.ts';
import { checkForForwarding, decrementTtl, readDst, readSrc } from './forwarding.ts';
import type { Port } from './link.ts';
import { NatTable, type NatBehavior, type NatCounters } from './nat-table.ts';
import type { Rng } from './rng.ts';
import { RoutingTable } from './routing-table.ts';
import type { NodeKind, SimContext, SimNode } from './types.ts';

const IPPROTO_UDP = 17;

/** One side of a NAT, attachable to links like any node. */
export class NatSide implements SimNode {
  readonly ports: Port[] = [];
  constructor(readonly id: number, readonly name: string, readonly kind: NodeKind, private readonly nat: Nat) {}
  attach(port: Port): void {
    this.ports.push(port);
    if (this.kind === 'nat-inside' && this.ports.length === 1) this.nat.insideRoutes.add('0.0.0.0/0', port);
  }
  handlePacket(bytes: Uint8Array, port: Port): void {
    if (this.kind === 'nat-inside') this.nat.handleFromInside(bytes, port);
    else this.nat.handleFromOutside(bytes, port);
  }
}

export class Nat {
  readonly inside: NatSide;
  readonly outside: NatSide;
  readonly table: NatTable;
  readonly externalU32: number;
  /** Where inside-bound packets go (auto-routing fills /32s for LAN hosts). */
  readonly insideRoutes = new RoutingTable<Port>();
  readonly drops = newDropCounters();

  constructor(readonly id: number, readonly name: string, readonly externalAddress: string, behavior: Partial<NatBehavior>,
    private readonly ctx: SimContext, rng: Rng, sideIds: [number, number]) {
    this.externalU32 = ipv4ToU32(externalAddress);
    this.table = new NatTable(behavior, rng);
    this.inside = new NatSide(sideIds[0], `${name}.inside`, 'nat-inside', this);
    this.outside = new NatSide(sideIds[1], `${name}.outside`, 'nat-outside', this);
    this.table.onMappingEvent = (ev, m, nowMs) => {
      if (ctx.log.enabled) ctx.log.record(nowMs, ev === 'created' ? EventKind.natMap : EventKind.natExpire, this.id, m.externalPort);
    };
  }

  get behavior(): NatBehavior {
    return this.table.behavior;
  }

  private dropHere(reason: number, bytes: Uint8Array): void {
    this.drops[reason]++;
    this.ctx.drop(reason, this.id, bytes);
  }

  /** Validate + TTL for a packet crossing the box; returns the UDP header offset or -1 (dropped). */
  private admit(bytes: Uint8Array): number {
    const bad = checkForForwarding(bytes);
    if (bad >= 0) { this.dropHere(bad, bytes); return -1; }
    if (bytes[9] !== IPPROTO_UDP) { this.dropHere(DROP['nat-not-udp'], bytes); return -1; }
    const ihl = (bytes[0] & 0x0f) << 2;
    if (bytes.length < ihl + 8) { this.dropHere(DROP.malformed, bytes); return -1; }
    decrementTtl(bytes);
    return ihl;
  }

  handleFromInside(bytes: Uint8Array, _port: Port): void {
    const udp = this.admit(bytes);
    if (udp < 0) return;
    const now = this.ctx.nowMs;
    const src = readSrc(bytes);
    const dst = readDst(bytes);
    const sport = packetSrcPort(bytes);
    const dport = packetDstPort(bytes);
    const m = this.table.outbound(now, src, sport, dst, dport);
    if (m === undefined) return this.dropHere(DROP['nat-ports-exhausted'], bytes);
    rewriteSource(bytes, this.externalU32, m.externalPort);
    if (dst === this.externalU32) {
      // Hairpin: the packet re-enters as if from outside, source = our external endpoint.
      if (!this.table.behavior.hairpinning) return this.dropHere(DROP['nat-hairpin-off'], bytes);
      return this.translateInbound(bytes, dport, this.externalU32, m.externalPort);
    }
    if (this.ctx.log.enabled) this.ctx.log.record(now, EventKind.natTranslate, this.id, m.externalPort);
    const out = this.outside.ports[0];
    if (out === undefined) return this.dropHere(DROP['no-route'], bytes);
    out.transmit(bytes);
  }

  handleFromOutside(bytes: Uint8Array, _port: Port): void {
    const udp = this.admit(bytes);
    if (udp < 0) return;
    if (readDst(bytes) !== this.externalU32) return this.dropHere(DROP['no-route'], bytes);
    this.translateInbound(bytes, packetDstPort(bytes), readSrc(bytes), packetSrcPort(bytes));
  }

  private translateInbound(bytes: Uint8Array, externalPort: number, remAddr: number, remPort: number): void {
    const m = this.table.inbound(this.ctx.nowMs, externalPort, remAddr, remPort);
    if (m === undefined) {
      return this.dropHere(this.table.lastDropReason === 'filtered' ? DROP['nat-filtered'] : DROP['nat-no-mapping'], bytes);
    }
    rewriteDestination(bytes, m.internalAddr, m.internalPort);
    const out = this.insideRoutes.lookup(m.internalAddr);
    if (out === undefined) return this.dropHere(DROP['no-route'], bytes);
    out.transmit(bytes);
  }

  counters(): NatCounters & { liveMappings: number; drops: DropCounts } {
    return { ...this.table.counters, liveMappings: this.table.size, drops: dropCounts(this.drops) };
  }
}
