// A simulated IPv4 router: forwards real packets by longest-prefix match.
// Contract: each packet is validated (malformed / bad header checksum dropped and
// counted), TTL is decremented with the checksum updated incrementally, and a TTL
// that would reach 0 drops the packet ('ttl-expired'). Routes and links may change
// at any time during a run (dynamic topology).
import { DROP, dropCounts, newDropCounters, type DropCounts } from './drops.ts';
import { EventKind } from './event-log.ts';
import { checkForForwarding, decrementTtl, readDst } from './forwarding.ts';
import type { Link, Port } from './link.ts';
import { RoutingTable, type Prefix } from './routing-table.ts';
import type { SimContext, SimNode } from './types.ts';

export class Router implements SimNode {
  readonly kind = 'router' as const;
  readonly ports: Port[] = [];
  readonly routes = new RoutingTable<Port>();
  forwarded = 0;
  readonly drops = newDropCounters();

  constructor(readonly id: number, readonly name: string, private readonly ctx: SimContext) {}

  attach(port: Port): void {
    this.ports.push(port);
  }

  /** Route `prefix` out over `via`: a link attached to this router, or a neighbour node. */
  addRoute(prefix: string | Prefix, via: Link | SimNode | Port): void {
    this.routes.add(prefix, this.portFor(via));
  }

  removeRoute(prefix: string | Prefix): boolean {
    return this.routes.remove(prefix);
  }

  private portFor(via: Link | SimNode | Port): Port {
    const mine = this.ports.find((p) => p === via || p.link === via || p.peer.node === via);
    if (mine === undefined) throw new Error(`router ${this.name}: no attached link to ${describe(via)}`);
    return mine;
  }

  handlePacket(bytes: Uint8Array, _port: Port): void {
    const ctx = this.ctx;
    const bad = checkForForwarding(bytes);
    if (bad >= 0) {
      this.drops[bad]++;
      ctx.drop(bad, this.id, bytes);
      return;
    }
    const out = this.routes.lookup(readDst(bytes));
    if (out === undefined) {
      this.drops[DROP['no-route']]++;
      ctx.drop(DROP['no-route'], this.id, bytes);
      return;
    }
    decrementTtl(bytes);
    this.forwarded++;
    if (ctx.log.enabled) ctx.log.record(ctx.nowMs, EventKind.forward, this.id, out.link.id);
    out.transmit(bytes);
  }

  counters(): { forwarded: number; drops: DropCounts } {
    return { forwarded: this.forwarded, drops: dropCounts(this.drops) };
  }
}

function describe(v: Link | SimNode | Port): string {
  return 'name' in v ? v.name : `port of ${v.node.name}`;
}
