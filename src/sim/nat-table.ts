// NAT translation state as pure logic (no packets, no I/O): RFC 4787 behaviours.
// Contract:
// - mapping: endpoint-independent (EIM) reuses one external port for an internal
//   endpoint whatever the destination; address-dependent (ADM) per destination
//   address; address-and-port-dependent (APDM) per destination address and port.
// - filtering: endpoint-independent (EIF) admits inbound from anyone to an existing
//   mapping; address-dependent (ADF) only from addresses the internal endpoint sent
//   to through that mapping; address-and-port-dependent (APDF) only from those exact
//   address:port pairs.
// - port allocation: preserving (keep the internal port when free, else sequential),
//   sequential (next free port after the last one), random (seeded).
// - a mapping expires `mappingTimeoutMs` after its last outbound packet (outbound
//   refresh, RFC 4787 REQ-6); inbound packets refresh it only if `inboundRefresh`.
// Addresses are u32, ports 0..65535; time is the caller's `nowMs`.
import type { Rng } from './rng.ts';

export type NatMappingBehavior = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';
export type NatFilteringBehavior = NatMappingBehavior;
export type NatPortAllocation = 'preserving' | 'sequential' | 'random';

export interface NatBehavior {
  mapping: NatMappingBehavior;
  filtering: NatFilteringBehavior;
  portAllocation: NatPortAllocation;
  /** Idle lifetime of a mapping, refreshed by outbound traffic. Default 120,000 ms. */
  mappingTimeoutMs: number;
  /** Inbound packets also refresh the mapping (RFC 4787 allows either). Default false. */
  inboundRefresh: boolean;
  /** Hairpinning: inside hosts may reach each other via the external address. Default false. */
  hairpinning: boolean;
  /** External ports handed out, inclusive. Default [1024, 65535]. */
  portMin: number;
  portMax: number;
}

export const DEFAULT_NAT_BEHAVIOR: NatBehavior = {
  mapping: 'endpoint-independent',
  filtering: 'address-and-port-dependent',
  portAllocation: 'preserving',
  mappingTimeoutMs: 120_000,
  inboundRefresh: false,
  hairpinning: false,
  portMin: 1024,
  portMax: 65535,
};

/** Common names for behaviour pairs (RFC 3489 vocabulary, as in the field). */
export const NAT_PRESETS: Record<string, Pick<NatBehavior, 'mapping' | 'filtering'>> = {
  'full-cone': { mapping: 'endpoint-independent', filtering: 'endpoint-independent' },
  'restricted-cone': { mapping: 'endpoint-independent', filtering: 'address-dependent' },
  'port-restricted-cone': { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' },
  symmetric: { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' },
};

export interface NatMapping {
  readonly internalAddr: number;
  readonly internalPort: number;
  readonly externalPort: number;
  /** The destination key this mapping is specific to (0 for EIM). */
  readonly remoteKey: number;
  readonly createdAtMs: number;
  expiresAtMs: number;
  /** Destinations the internal endpoint has sent to through this mapping (for ADF/APDF). */
  readonly permittedAddrs: Set<number>;
  readonly permittedEndpoints: Set<number>;
  /** Set when the mapping has been removed (expired). */
  removed: boolean;
  /** The last destination permitted (fast path before the sets; -1 = none). */
  lastAddr: number;
  lastPort: number;
}

export type NatDropReason = 'no-mapping' | 'filtered' | 'ports-exhausted';

export interface NatCounters {
  mappingsCreated: number;
  mappingsExpired: number;
  translatedOut: number;
  translatedIn: number;
  droppedNoMapping: number;
  droppedFiltered: number;
  droppedPortsExhausted: number;
}

const endpointKey = (addr: number, port: number): number => addr * 65536 + port;
const OUT_CACHE = 1024;

export class NatTable {
  readonly behavior: NatBehavior;
  readonly counters: NatCounters = {
    mappingsCreated: 0, mappingsExpired: 0, translatedOut: 0, translatedIn: 0,
    droppedNoMapping: 0, droppedFiltered: 0, droppedPortsExhausted: 0,
  };
  /** Reason for the last `undefined` returned by outbound/inbound. */
  lastDropReason: NatDropReason = 'no-mapping';
  /** Called when a mapping is created or expires (for logs). */
  onMappingEvent: ((event: 'created' | 'expired', m: NatMapping, nowMs: number) => void) | undefined;

  private readonly byInternal = new Map<number, Map<number, NatMapping>>();
  private readonly byExternalPort = new Map<number, NatMapping>();
  private readonly outCache: (NatMapping | undefined)[] = new Array(OUT_CACHE).fill(undefined);
  private readonly outKeysI = new Float64Array(OUT_CACHE).fill(-1);
  private readonly outKeysR = new Float64Array(OUT_CACHE).fill(-1);
  private nextPort: number;
  private nextSweepMs = 0;
  private readonly rng: Rng;

  constructor(behavior: Partial<NatBehavior>, rng: Rng) {
    this.behavior = { ...DEFAULT_NAT_BEHAVIOR, ...behavior };
    const b = this.behavior;
    if (!(Number.isInteger(b.portMin) && Number.isInteger(b.portMax) && b.portMin >= 1 && b.portMax <= 65535 && b.portMin <= b.portMax)) {
      throw new RangeError(`NAT port range must satisfy 1 <= portMin <= portMax <= 65535, got ${b.portMin}..${b.portMax}`);
    }
    if (!(b.mappingTimeoutMs > 0)) throw new RangeError(`NAT mappingTimeoutMs must be > 0, got ${b.mappingTimeoutMs}`);
    this.nextPort = b.portMin;
    this.rng = rng;
  }

  /** Live mappings (expired ones may linger until the next lookup or sweep). */
  get size(): number {
    return this.byExternalPort.size;
  }

  mappings(): IterableIterator<NatMapping> {
    return this.byExternalPort.values();
  }

  private remoteKeyFor(remAddr: number, remPort: number): number {
    switch (this.behavior.mapping) {
      case 'endpoint-independent': return 0;
      case 'address-dependent': return remAddr + 1;
      default: return endpointKey(remAddr, remPort) + 1;
    }
  }

  /**
   * Translate an outbound packet's source. Returns the mapping (its externalPort is the
   * new source port), creating or refreshing it; undefined if no port is free.
   */
  outbound(nowMs: number, intAddr: number, intPort: number, remAddr: number, remPort: number): NatMapping | undefined {
    if (nowMs >= this.nextSweepMs) this.sweep(nowMs);
    const ik = endpointKey(intAddr, intPort);
    const rk = this.remoteKeyFor(remAddr, remPort);
    // Direct-mapped cache of recent (internal endpoint, remote key) -> mapping lookups.
    const slot = (intAddr ^ (intPort << 7) ^ (rk % 1048573) ^ ((rk / 65536) | 0)) & (OUT_CACHE - 1);
    let inner: Map<number, NatMapping> | undefined;
    let m: NatMapping | undefined;
    const cached = this.outCache[slot];
    if (cached !== undefined && !cached.removed && this.outKeysI[slot] === ik && this.outKeysR[slot] === rk) m = cached;
    else {
      inner = this.byInternal.get(ik);
      m = inner?.get(rk);
    }
    if (m !== undefined && m.expiresAtMs <= nowMs) {
      this.remove(m, nowMs);
      m = undefined;
    }
    if (m === undefined) {
      const port = this.allocatePort(intPort);
      if (port < 0) {
        this.counters.droppedPortsExhausted++;
        this.lastDropReason = 'ports-exhausted';
        return undefined;
      }
      m = {
        internalAddr: intAddr, internalPort: intPort, externalPort: port, remoteKey: rk,
        createdAtMs: nowMs, expiresAtMs: 0, permittedAddrs: new Set(), permittedEndpoints: new Set(), removed: false,
        lastAddr: -1, lastPort: -1,
      };
      inner ??= this.byInternal.get(ik);
      if (inner === undefined) {
        inner = new Map();
        this.byInternal.set(ik, inner);
      }
      inner.set(rk, m);
      this.byExternalPort.set(port, m);
      this.counters.mappingsCreated++;
      this.onMappingEvent?.('created', m, nowMs);
    }
    this.outCache[slot] = m;
    this.outKeysI[slot] = ik;
    this.outKeysR[slot] = rk;
    m.expiresAtMs = nowMs + this.behavior.mappingTimeoutMs;
    if (m.lastAddr !== remAddr || m.lastPort !== remPort) {
      const f = this.behavior.filtering;
      if (f === 'address-dependent') m.permittedAddrs.add(remAddr);
      else if (f === 'address-and-port-dependent') m.permittedEndpoints.add(endpointKey(remAddr, remPort));
      m.lastAddr = remAddr;
      m.lastPort = remPort;
    }
    this.counters.translatedOut++;
    return m;
  }

  /**
   * Translate an inbound packet to `externalPort` from remAddr:remPort. Returns the
   * mapping (deliver to its internal endpoint) or undefined (see lastDropReason).
   */
  inbound(nowMs: number, externalPort: number, remAddr: number, remPort: number): NatMapping | undefined {
    if (nowMs >= this.nextSweepMs) this.sweep(nowMs);
    const m = this.byExternalPort.get(externalPort);
    if (m === undefined || m.expiresAtMs <= nowMs) {
      if (m !== undefined) this.remove(m, nowMs);
      this.counters.droppedNoMapping++;
      this.lastDropReason = 'no-mapping';
      return undefined;
    }
    const f = this.behavior.filtering;
    const sameAsLast = m.lastAddr === remAddr && (f === 'address-dependent' || m.lastPort === remPort);
    if (!sameAsLast && ((f === 'address-dependent' && !m.permittedAddrs.has(remAddr)) ||
        (f === 'address-and-port-dependent' && !m.permittedEndpoints.has(endpointKey(remAddr, remPort))))) {
      this.counters.droppedFiltered++;
      this.lastDropReason = 'filtered';
      return undefined;
    }
    if (this.behavior.inboundRefresh) m.expiresAtMs = nowMs + this.behavior.mappingTimeoutMs;
    this.counters.translatedIn++;
    return m;
  }

  /** Drop every mapping whose lifetime has passed. Runs by itself at most every timeout/4. */
  sweep(nowMs: number): void {
    for (const m of this.byExternalPort.values()) if (m.expiresAtMs <= nowMs) this.remove(m, nowMs);
    this.nextSweepMs = nowMs + this.behavior.mappingTimeoutMs / 4;
  }

  private remove(m: NatMapping, nowMs: number): void {
    m.removed = true;
    this.byExternalPort.delete(m.externalPort);
    const ik = endpointKey(m.internalAddr, m.internalPort);
    const inner = this.byInternal.get(ik);
    if (inner !== undefined) {
      inner.delete(m.remoteKey);
      if (inner.size === 0) this.byInternal.delete(ik);
    }
    this.counters.mappingsExpired++;
    this.onMappingEvent?.('expired', m, nowMs);
  }

  /** A free external port per the allocation behaviour, or -1 when none is left. */
  private allocatePort(internalPort: number): number {
    const { portMin, portMax, portAllocation } = this.behavior;
    const span = portMax - portMin + 1;
    if (this.byExternalPort.size >= span) return -1;
    if (portAllocation === 'preserving' && internalPort >= portMin && internalPort <= portMax && !this.byExternalPort.has(internalPort)) {
      return internalPort;
    }
    if (portAllocation === 'random') {
      for (let i = 0; i < 32; i++) {
        const p = portMin + this.rng.int(span);
        if (!this.byExternalPort.has(p)) return p;
      }
    }
    for (let i = 0; i < span; i++) {
      const p = this.nextPort;
      this.nextPort = p >= portMax ? portMin : p + 1;
      if (!this.byExternalPort.has(p)) return p;
    }
    return -1;
  }
}
