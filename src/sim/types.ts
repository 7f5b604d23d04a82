// Shared shapes inside the simulator: nodes, the ports that join them to links, and
// the context (clock, queue, RNG, log, drop counters) that the Network gives them.
import type { EventQueue } from './event-queue.ts';
import type { EventLog } from './event-log.ts';
import type { Rng } from './rng.ts';
import type { Port } from './link.ts';

export type NodeKind = 'host' | 'router' | 'nat-inside' | 'nat-outside';

/** Anything a link end can attach to. `handlePacket` receives real IPv4 bytes it now owns. */
export interface SimNode {
  readonly id: number;
  readonly name: string;
  readonly kind: NodeKind;
  readonly ports: Port[];
  handlePacket(bytes: Uint8Array, port: Port): void;
}

export interface SimContext {
  readonly queue: EventQueue;
  /** Current virtual time in ms. */
  readonly nowMs: number;
  readonly rng: Rng;
  readonly log: EventLog;
  /** Count a drop (network-wide and in the log). */
  drop(reason: number, entityId: number, bytes: Uint8Array): void;
  nextId(): number;
  /** Dotted quad for a u32 address (cached). */
  addressString(addr: number): string;
  /** u32 for a dotted quad (cached); throws the wire DecodeError for bad text. */
  addressU32(text: string): number;
}
