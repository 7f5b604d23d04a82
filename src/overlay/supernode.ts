// A supernode's protocol core, sans-IO: one UDP port serving
//   - the relay (relay.ts, docs/protocol/relay.md),
//   - supernode gossip (gossip.ts, docs/protocol/gossip.md), when configured,
//   - STUN Binding (RFC 8489): the answer carries XOR-MAPPED-ADDRESS, so peers use the
//     supernode as the second vantage point of NAT classification (nat-classify.ts).
// Datagrams are told apart by their first byte (demux.ts). Everything else is dropped
// and counted. Contract as every sans-IO endpoint: handleDatagram/handleTimeout in,
// pollTransmit/pollTimeout out; `now` is Unix ms (relay tickets expire in it).
// Batch path: handleRun(now, from, buf, off, len, seg) takes a run (datagrams of `seg` bytes,
// the last may be shorter, back to back: a GRO super-datagram) and pollRunInto(slot) hands
// out runs; every segment's first byte is checked: maximal stretches of relay segments go to
// RelayForwarder.handleRun, any other segment (gossip, STUN, junk) is copied and goes through
// handleDatagram. Same outcome as handleDatagram per segment; queued relay runs are views of
// `buf`, so the caller drains before `buf` changes.
// `withReusedTransmit(core)` is the same endpoint whose pollTransmit() returns one reused
// object (valid until the next call: what the Driver needs, which sends each at once), so
// forwarding allocates nothing per datagram.
import type { Millis, UdpAddress } from '../wire/socket.ts';
import { decodeStun, encodeStun, STUN_METHOD_BINDING } from '../wire/stun.ts';
import { DecodeError } from '../wire/errors.ts';
import { classifyDatagram } from './demux.ts';
import { RelayForwarder, type RelayConfig, type RelayCounters, type RelayRunSlot } from './relay.ts';
import { RELAY_MARKER } from './relay-wire.ts';
import { GossipNode, type PeerRef } from './gossip.ts';
import { decodeGossipMessage, encodeGossipMessage, GossipDecodeError } from './gossip-wire.ts';
import { specialRange } from './ip-ranges.ts';

export interface SupernodeConfig {
  readonly relay: RelayConfig;
  readonly gossip?: {
    readonly self: PeerRef;
    readonly random: () => number;
    readonly viewSize?: number;
    readonly shuffleLength?: number;
    readonly shuffleIntervalMs?: Millis;
    /** Fallback seeds: re-added whenever the view is less than half full (as the directory list is). */
    readonly seeds?: readonly PeerRef[];
  };
  /** Answer STUN Binding requests (default true). */
  readonly stun?: boolean;
}

export interface SupernodeCounters {
  relay: RelayCounters;
  stunAnswered: number;
  gossipIn: number;
  dropped: number;
}

export class SupernodeCore {
  readonly relay: RelayForwarder;
  readonly gossip?: GossipNode;
  private readonly out: { to: UdpAddress; bytes: Uint8Array }[] = [];
  private readonly stats = { stunAnswered: 0, gossipIn: 0, dropped: 0 };

  constructor(private readonly config: SupernodeConfig, now: Millis) {
    this.relay = new RelayForwarder(config.relay, now);
    if (config.gossip) this.gossip = new GossipNode(config.gossip, now);
  }

  /** Seed or refill the gossip view from the directory's supernode list. */
  handleDirectoryList(now: Millis, list: readonly PeerRef[]): void {
    this.gossip?.handleDirectoryList(now, list);
    this.drainGossip();
  }

  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void {
    if (bytes.length > 0 && bytes[0] === RELAY_MARKER) { this.relay.handleDatagram(now, from, bytes); return; } // the hot path
    switch (classifyDatagram(bytes)) {
      case 'relay':
        this.relay.handleDatagram(now, from, bytes);
        return;
      case 'gossip':
        if (!this.gossip || !this.publicSource(from)) { this.stats.dropped++; return; }
        try {
          this.gossip.handleMessage(now, from, decodeGossipMessage(bytes));
          this.stats.gossipIn++;
        } catch (e) {
          if (!(e instanceof GossipDecodeError)) throw e;
          this.stats.dropped++;
        }
        this.drainGossip();
        return;
      case 'stun':
        this.answerStun(from, bytes);
        return;
      default:
        this.stats.dropped++;
    }
  }

  /** A run of datagrams from one sender (see the header): the same as handleDatagram on each. */
  handleRun(now: Millis, from: UdpAddress, buf: Uint8Array, off: number, len: number, seg: number): void {
    const end = off + len;
    if (!(seg >= 1) || seg >= len || !Number.isInteger(seg) || !(off >= 0) || end > buf.length) {
      // one datagram: relay traffic as a view (forwarded without a copy), anything else copied
      if (len > 0 && off >= 0 && end <= buf.length && buf[off] === RELAY_MARKER) this.relay.handleRun(now, from, buf, off, len, len);
      else this.handleDatagram(now, from, buf.slice(Math.max(0, off), Math.min(buf.length, end)));
      return;
    }
    let start = -1; // first segment of the current stretch of relay segments
    for (let p = off; p < end; p += seg) {
      if (buf[p] === RELAY_MARKER) {
        if (start < 0) start = p;
        continue;
      }
      if (start >= 0) { this.relay.handleRun(now, from, buf, start, p - start, seg); start = -1; }
      this.handleDatagram(now, from, buf.slice(p, Math.min(end, p + seg))); // a copy: gossip/STUN may keep what they decode
    }
    if (start >= 0) this.relay.handleRun(now, from, buf, start, end - start, seg);
  }

  handleTimeout(now: Millis): void {
    this.relay.handleTimeout(now);
    if (this.gossip && now >= this.gossip.pollTimeout()) {
      this.gossip.handleTimeout(now);
      if (this.gossip.needsSeeding() && this.config.gossip?.seeds) this.gossip.handleDirectoryList(now, this.config.gossip.seeds);
    }
    this.drainGossip();
  }

  pollTransmit(): { to: UdpAddress; bytes: Uint8Array } | undefined {
    return this.relay.pollTransmit() ?? this.out.shift();
  }

  /** As pollTransmit(), into `slot` (false when nothing is queued): no allocation for relayed datagrams. */
  pollInto(slot: { to: UdpAddress; bytes: Uint8Array }): boolean {
    if (this.relay.pollInto(slot)) return true;
    const t = this.out.shift();
    if (t === undefined) return false;
    slot.to = t.to;
    slot.bytes = t.bytes;
    return true;
  }

  /** The next transmit item: a relayed run (segmentSize < bytes.length) or one datagram (segmentSize = its length). */
  pollRunInto(slot: RelayRunSlot): boolean {
    if (this.relay.pollRunInto(slot)) return true;
    const t = this.out.shift();
    if (t === undefined) return false;
    slot.to = t.to;
    slot.bytes = t.bytes;
    slot.segmentSize = t.bytes.length;
    return true;
  }

  pollTimeout(): Millis | undefined {
    return Math.min(this.relay.pollTimeout(), this.gossip?.pollTimeout() ?? Infinity);
  }

  counters(): SupernodeCounters {
    return { relay: this.relay.counters(), ...this.stats };
  }

  private publicSource(from: UdpAddress): boolean {
    const r = specialRange(from.address);
    return r === undefined || (r === 'loopback' && !!this.config.relay.allowLoopback) || ((r === 'private' || r === 'shared') && !!this.config.relay.allowPrivate);
  }

  private drainGossip(): void {
    if (!this.gossip) return;
    for (let t = this.gossip.pollTransmit(); t; t = this.gossip.pollTransmit()) this.out.push({ to: t.to, bytes: encodeGossipMessage(t.msg) });
  }

  private answerStun(from: UdpAddress, bytes: Uint8Array): void {
    if (this.config.stun === false || !this.publicSource(from)) { this.stats.dropped++; return; }
    let msg;
    try { msg = decodeStun(bytes); } catch (e) {
      if (e instanceof DecodeError) { this.stats.dropped++; return; }
      throw e;
    }
    // Only plain Binding requests; CHANGE-REQUEST and unknown required attributes are not served here.
    if (msg.method !== STUN_METHOD_BINDING || msg.class !== 'request' || msg.changeRequest || msg.unknownRequired.length > 0) { this.stats.dropped++; return; }
    this.stats.stunAnswered++;
    this.out.push({
      to: from,
      bytes: encodeStun({
        method: STUN_METHOD_BINDING, class: 'success', transactionId: msg.transactionId,
        attributes: [{ type: 'xor-mapped-address', address: { family: 4, address: from.address, port: from.port } }],
      }, { fingerprint: true }),
    });
  }
}

/** A Driver endpoint over `core` whose pollTransmit() hands out one reused object (see the header). */
export function withReusedTransmit(core: SupernodeCore): {
  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void;
  handleTimeout(now: Millis): void;
  pollTransmit(): { to: UdpAddress; bytes: Uint8Array } | undefined;
  pollTimeout(): Millis | undefined;
} {
  const slot = { to: undefined as unknown as UdpAddress, bytes: undefined as unknown as Uint8Array };
  return {
    handleDatagram: (now, from, bytes) => core.handleDatagram(now, from, bytes),
    handleTimeout: (now) => core.handleTimeout(now),
    pollTransmit: () => (core.pollInto(slot) ? slot : undefined),
    pollTimeout: () => core.pollTimeout(),
  };
}
