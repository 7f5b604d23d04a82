// The relay's bounded transmit queue, sans-IO: a ring of items in parallel arrays — a
// destination and bytes that are one datagram, or a run of datagrams of `seg` bytes (the
// last may be shorter) to one destination. The bound is in DATAGRAMS and the policy is
// drop-oldest, exactly as if every datagram were queued alone: push() drops whole items
// from the head, then trims the head run from its front, and keeps only the last `cap`
// segments of a run longer than the whole queue; it returns how many datagrams it dropped.
// pollInto() hands out one datagram at a time (a run segment by segment: a subarray each);
// pollRunInto() hands out whole items (segmentSize = the item's length for one datagram).
// No allocation per item except those subarrays (overflow trimming, pollInto on a run).
import type { UdpAddress } from '../wire/socket.ts';

/** A transmit item of pollRunInto: `bytes` is datagrams of `segmentSize` (the last may be shorter). */
export interface RelayRunSlot {
  to: UdpAddress;
  bytes: Uint8Array;
  segmentSize: number;
}

export class RelayTransmitQueue {
  private readonly to: (UdpAddress | undefined)[];
  private readonly bytes: (Uint8Array | undefined)[];
  /** Segment size and count per item (0 and 1 for a single datagram). */
  private readonly seg: number[];
  private readonly count: number[];
  private head = 0;
  /** Items queued, and the datagrams in them. */
  private items = 0;
  private packets = 0;

  /** `cap`: datagrams (>= 1). */
  constructor(private readonly cap: number) {
    if (!(cap >= 1)) throw new RangeError('RelayTransmitQueue: cap must be >= 1');
    this.to = new Array<UdpAddress | undefined>(cap).fill(undefined);
    this.bytes = new Array<Uint8Array | undefined>(cap).fill(undefined);
    this.seg = new Array<number>(cap).fill(0);
    this.count = new Array<number>(cap).fill(0);
  }

  /** Datagrams queued. */
  get size(): number { return this.packets; }

  /**
   * Queue `count` datagrams: one (`seg` ignored) or a run of `seg`-byte segments in `bytes`.
   * Returns the datagrams dropped to make room (drop-oldest, see the header).
   */
  push(to: UdpAddress, bytes: Uint8Array, seg: number, count: number): number {
    const cap = this.cap;
    let over = this.packets + count - cap;
    const dropped = over > 0 ? over : 0;
    while (over > 0 && this.items > 0) {
      const h = this.head, c = this.count[h]!;
      if (c <= over) {
        over -= c;
        this.dropHead();
      } else {
        this.bytes[h] = this.bytes[h]!.subarray(over * this.seg[h]!);
        this.count[h] = c - over;
        this.packets -= over;
        over = 0;
      }
    }
    if (over > 0) {
      bytes = bytes.subarray(over * seg);
      count -= over;
    }
    let i = this.head + this.items;
    if (i >= cap) i -= cap;
    this.to[i] = to;
    this.bytes[i] = bytes;
    this.seg[i] = count > 1 ? seg : 0;
    this.count[i] = count;
    this.items++;
    this.packets += count;
    return dropped;
  }

  /** One datagram into `slot` (false when empty). */
  pollInto(slot: { to: UdpAddress; bytes: Uint8Array }): boolean {
    if (this.items === 0) return false;
    const h = this.head;
    const count = this.count[h]!;
    slot.to = this.to[h]!;
    if (count > 1) {
      const b = this.bytes[h]!, seg = this.seg[h]!;
      slot.bytes = b.subarray(0, seg);
      this.bytes[h] = b.subarray(seg);
      this.count[h] = count - 1;
      this.packets--;
      return true;
    }
    slot.bytes = this.bytes[h]!;
    this.dropHead();
    return true;
  }

  /** The next item into `slot`: a run (segmentSize < bytes.length) or one datagram (segmentSize = its length). */
  pollRunInto(slot: RelayRunSlot): boolean {
    if (this.items === 0) return false;
    const h = this.head;
    slot.to = this.to[h]!;
    const b = this.bytes[h]!;
    slot.bytes = b;
    slot.segmentSize = this.count[h]! > 1 ? this.seg[h]! : b.length;
    this.dropHead();
    return true;
  }

  private dropHead(): void {
    const h = this.head;
    this.packets -= this.count[h]!;
    this.to[h] = undefined;
    this.bytes[h] = undefined;
    this.head = h + 1 === this.cap ? 0 : h + 1;
    this.items--;
  }
}
