// A simulated end host: one IPv4 address, links to the network, UDP sockets.
// Contract: `bindUdp(port?)` returns a DatagramSocket (port 0 = next free ephemeral
// port, 49152..65535, in order); sends leave as real IPv4+UDP packets routed by the
// host's table (a default route to its first link is added on attach); arriving
// packets are checked (IPv4 header + UDP checksum) before a socket sees them, and
// anything wrong is dropped and counted by reason. Packets to the host's own address
// are looped back without touching a link. Like the real adapter, the `from` object
// of the previous datagram is reused when the next one comes from the same sender.
import { DecodeError } from '../wire/errors.ts';
import { ipv4ToU32 } from '../wire/ipv4-address.ts';
import { checkUdpPacket, packetDstPort, packetPayloadLength, packetSrcPort, packetSrcU32 } from '../wire/packet.ts';
import type { DatagramSocket, UdpAddress } from '../wire/socket.ts';
import { DROP, dropCounts, newDropCounters, type DropCounts, type DropReason } from './drops.ts';
import { EventKind } from './event-log.ts';
import { decodeDropReason, readDst } from './forwarding.ts';
import type { Port } from './link.ts';
import { PacketBuilder } from './packet-alloc.ts';
import { RoutingTable } from './routing-table.ts';
import type { SimContext, SimNode } from './types.ts';
import { SimUdpSocket } from './udp-socket.ts';

export const EPHEMERAL_MIN = 49152;
export const EPHEMERAL_MAX = 65535;
const DEFAULT_TTL = 64;

export interface HostCounters {
  packetsSent: number;
  packetsReceived: number;
  datagramsDelivered: number;
  drops: DropCounts;
}

export class Host implements SimNode {
  readonly kind = 'host' as const;
  readonly ports: Port[] = [];
  readonly routes = new RoutingTable<Port>();
  readonly addressU32: number;
  packetsSent = 0;
  packetsReceived = 0;
  datagramsDelivered = 0;
  readonly drops = newDropCounters();
  /** pcap observers: called with every packet this host sends or receives. */
  taps: ((timeMs: number, bytes: Uint8Array) => void)[] | undefined;
  private readonly sockets = new Map<number, SimUdpSocket>();
  // One-entry caches for the common case of one socket / one destination per host.
  private lastPort = -1;
  private lastSocket: SimUdpSocket | undefined = undefined;
  private lastDstText: string | undefined = undefined;
  private lastDstU32 = 0;
  /** The sender of the previous datagram, reused as `from` while it stays the same (as the real adapter does). */
  private lastFrom: UdpAddress | undefined = undefined;
  private lastFromU32 = 0;
  private nextEphemeral = EPHEMERAL_MIN;
  private ipId = 0;
  private readonly loopback: (arg: unknown) => void;
  private readonly packets: PacketBuilder;

  constructor(readonly id: number, readonly name: string, readonly address: string, private readonly ctx: SimContext) {
    this.addressU32 = ipv4ToU32(address);
    this.packets = new PacketBuilder(this.addressU32, DEFAULT_TTL);
    this.loopback = (arg) => this.handlePacket(arg as Uint8Array, undefined);
  }

  /** Called by the network when a link is attached. */
  attach(port: Port): void {
    this.ports.push(port);
    if (this.ports.length === 1 && !this.routes.has('0.0.0.0/0')) this.routes.add('0.0.0.0/0', port);
  }

  /** Open a UDP socket on `port` (0 or omitted: an ephemeral port). Throws if the port is taken. */
  bindUdp(port = 0): DatagramSocket & SimUdpSocket {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`${this.name}: bad UDP port ${port}`);
    if (port === 0) port = this.allocateEphemeral();
    if (this.sockets.has(port)) throw new Error(`${this.name}: UDP port ${port} already bound`);
    const s = new SimUdpSocket(this, port);
    this.sockets.set(port, s);
    this.lastPort = -1;
    this.lastSocket = undefined;
    return s;
  }

  private allocateEphemeral(): number {
    const span = EPHEMERAL_MAX - EPHEMERAL_MIN + 1;
    for (let i = 0; i < span; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p === EPHEMERAL_MAX ? EPHEMERAL_MIN : p + 1;
      if (!this.sockets.has(p)) return p;
    }
    throw new Error(`${this.name}: no free ephemeral UDP port`);
  }

  /** @internal socket bookkeeping */
  unbind(port: number, socket: SimUdpSocket): void {
    if (this.sockets.get(port) === socket) this.sockets.delete(port);
    this.lastPort = -1;
    this.lastSocket = undefined;
  }

  /** @internal a socket refused a send */
  countSendDrop(reason: DropReason): void {
    this.drops[DROP[reason]]++;
    this.ctx.drop(DROP[reason], this.id, EMPTY);
  }

  /** @internal build and route one datagram from a local socket; false if `to.address` is not IPv4 */
  sendUdp(srcPort: number, to: UdpAddress, payload: Uint8Array): boolean {
    const text = to.address;
    let dst: number;
    if (text === this.lastDstText) dst = this.lastDstU32;
    else {
      try {
        dst = this.ctx.addressU32(text);
      } catch {
        return false;
      }
      this.lastDstText = text;
      this.lastDstU32 = dst;
    }
    const bytes = this.packets.build(srcPort, dst, to.port, payload, this.ipId);
    this.ipId = (this.ipId + 1) & 0xffff;
    this.sendPacket(bytes);
    return true;
  }

  /** Route a complete IPv4 packet out of this host (also used by traffic generators). */
  sendPacket(bytes: Uint8Array): void {
    const ctx = this.ctx;
    this.packetsSent++;
    const taps = this.taps;
    if (taps !== undefined) for (const t of taps) t(ctx.nowMs, bytes);
    if (ctx.log.enabled) ctx.log.record(ctx.nowMs, EventKind.send, this.id, 0, bytes);
    const dst = readDst(bytes);
    if (dst === this.addressU32) {
      ctx.queue.push(ctx.nowMs, this.loopback, bytes);
      return;
    }
    const port = this.routes.lookup(dst);
    if (port === undefined) {
      this.drops[DROP['no-route']]++;
      ctx.drop(DROP['no-route'], this.id, bytes);
      return;
    }
    port.transmit(bytes);
  }

  handlePacket(bytes: Uint8Array, _port: Port | undefined): void {
    const ctx = this.ctx;
    if (_port !== undefined) {
      const taps = this.taps;
      if (taps !== undefined) for (const t of taps) t(ctx.nowMs, bytes);
    }
    this.packetsReceived++;
    try {
      checkUdpPacket(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      const reason = decodeDropReason(err);
      this.drops[reason]++;
      ctx.drop(reason, this.id, bytes);
      return;
    }
    if (readDst(bytes) !== this.addressU32) {
      this.drops[DROP['not-for-host']]++;
      ctx.drop(DROP['not-for-host'], this.id, bytes);
      return;
    }
    const dport = packetDstPort(bytes);
    let socket: SimUdpSocket | undefined;
    if (dport === this.lastPort) socket = this.lastSocket;
    else {
      socket = this.sockets.get(dport);
      if (socket !== undefined) {
        this.lastPort = dport;
        this.lastSocket = socket;
      }
    }
    if (socket === undefined) {
      this.drops[DROP['port-unreachable']]++;
      ctx.drop(DROP['port-unreachable'], this.id, bytes);
      return;
    }
    this.datagramsDelivered++;
    const ihl = (bytes[0] & 0x0f) << 2;
    const srcU32 = packetSrcU32(bytes);
    const srcPort = packetSrcPort(bytes);
    let from = this.lastFrom;
    if (from === undefined || srcU32 !== this.lastFromU32 || srcPort !== from.port) {
      from = { address: ctx.addressString(srcU32), port: srcPort };
      this.lastFrom = from;
      this.lastFromU32 = srcU32;
    }
    socket.deliver(from, bytes.subarray(ihl + 8, ihl + 8 + packetPayloadLength(bytes)));
  }

  counters(): HostCounters {
    return {
      packetsSent: this.packetsSent, packetsReceived: this.packetsReceived,
      datagramsDelivered: this.datagramsDelivered, drops: dropCounts(this.drops),
    };
  }
}

const EMPTY = new Uint8Array(0);
