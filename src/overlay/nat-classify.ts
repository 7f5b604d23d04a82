// NAT classification in the RFC 5780 style, sans-IO.
//
// Contract: the caller feeds time and facts in, and sends the probes this
// module asks for; it never touches a socket or a clock.
//   const c = new NatClassifier(config, now)
//   loop: while ((p = c.pollProbe())) send a binding request for p (p.change says
//         whether the server must answer from another IP/port: STUN CHANGE-REQUEST)
//         on a response: c.handleResponse(now, p.id, { mapped, from })
//         wake up at c.pollTimeout() and call c.handleTimeout(now)
//   c.result() is defined once classification is finished.
// Probes are retransmitted on an exponential schedule (rtoMs, 2·rtoMs, ...);
// one probe id covers all transmissions of one test (like a STUN transaction).
//
// Two vantage points: `primary` (the directory's STUN endpoint) and
// `secondary` (a supernode: different IP and port). `primaryAltPort` (same IP
// as primary, other port) is optional; without it ADM cannot be told from APDM
// nor ADF from APDF, and the result says so (`certain: false`, conservative
// APDM/APDF).
//
// Order matters (RFC 5780 §4.4): the filtering tests run before anything is
// sent to the secondary or the alternate port, because sending there would
// open the very filters being tested.
import type { Millis, UdpAddress } from '../wire/socket.ts';
import { sameAddress, formatAddress } from '../wire/socket.ts';
import type { FilteringBehavior, MappingBehavior, NatType } from './nat-types.ts';

export interface ClassifierConfig {
  readonly primary: UdpAddress;
  readonly secondary: UdpAddress;
  readonly primaryAltPort?: UdpAddress;
  /** The host's own addresses (host candidates): a mapped address equal to one means "no NAT". */
  readonly localAddresses?: readonly UdpAddress[];
  /** First retransmission timeout; doubled after each transmission. Default 250 ms. */
  readonly rtoMs?: Millis;
  /** Transmissions per test before it counts as "no response". Default 3. */
  readonly maxTransmits?: number;
}

export type ClassifierTest =
  | 'map-primary' // binding to primary: are we reachable at all, what is our mapped address
  | 'filter-other-ip' // binding to primary, answer from another IP and port (EIF?)
  | 'filter-other-port' // binding to primary, answer from primary IP, other port (ADF?)
  | 'map-secondary' // binding to secondary: does the mapping depend on the destination?
  | 'map-alt-port'; // binding to primary's alternate port: ADM or APDM?

export type ChangeRequest = 'none' | 'ip-and-port' | 'port';

export interface Probe {
  /** Handle for this test; the driver maps it to a STUN transaction id. */
  readonly id: number;
  readonly test: ClassifierTest;
  readonly to: UdpAddress;
  readonly change: ChangeRequest;
  /** 1 for the first transmission of this test, 2 for the first retransmission, ... */
  readonly transmission: number;
}

/** What a server told us: the mapped address it saw, and where its response came from. */
export interface BindingFact {
  readonly mapped: UdpAddress;
  readonly from: UdpAddress;
}

export interface Classification {
  readonly nat: NatType;
  /** Server-reflexive address seen by the primary (undefined when UDP is blocked). */
  readonly mapped?: UdpAddress;
  /** False when a test could not be run or got no answer and a conservative guess was made. */
  readonly certain: boolean;
  readonly notes: readonly string[];
}

interface TestState {
  readonly probe: Omit<Probe, 'transmission'>;
  transmissions: number;
  nextAt: Millis; // next transmission, or give-up time after the last one
  fact?: BindingFact;
  finished: boolean; // answered or given up
  unsupported?: boolean; // the server answered that it cannot run this test (e.g. 420 to CHANGE-REQUEST)
}

export class NatClassifier {
  private readonly rtoMs: Millis;
  private readonly maxTransmits: number;
  private readonly tests = new Map<ClassifierTest, TestState>();
  private readonly outbox: Probe[] = [];
  private readonly notes: string[] = [];
  private nextId = 1;
  private phase: 'map-primary' | 'filter' | 'map' | 'done' = 'map-primary';
  private outcome?: Classification;

  constructor(private readonly config: ClassifierConfig, now: Millis) {
    this.rtoMs = config.rtoMs ?? 250;
    this.maxTransmits = config.maxTransmits ?? 3;
    if (!(this.rtoMs > 0) || !Number.isInteger(this.maxTransmits) || this.maxTransmits < 1) {
      throw new RangeError('NatClassifier: rtoMs must be > 0 and maxTransmits an integer >= 1');
    }
    if (config.primary.address === config.secondary.address) {
      throw new RangeError('NatClassifier: primary and secondary must have different IP addresses');
    }
    if (config.primaryAltPort && (config.primaryAltPort.address !== config.primary.address || config.primaryAltPort.port === config.primary.port)) {
      throw new RangeError('NatClassifier: primaryAltPort must share the primary IP and differ in port');
    }
    this.start('map-primary', config.primary, 'none', now);
  }

  pollProbe(): Probe | undefined {
    return this.outbox.shift();
  }

  pollTimeout(): Millis | undefined {
    let t: Millis | undefined;
    for (const s of this.tests.values()) if (!s.finished && (t === undefined || s.nextAt < t)) t = s.nextAt;
    return t;
  }

  result(): Classification | undefined {
    return this.outcome;
  }

  handleTimeout(now: Millis): void {
    for (const s of this.tests.values()) {
      if (s.finished || now < s.nextAt) continue;
      if (s.transmissions < this.maxTransmits) this.transmit(s, now);
      else s.finished = true; // no response
    }
    this.advance(now);
  }

  /** A response for probe `id`. Unknown ids and late duplicates are ignored. */
  handleResponse(now: Millis, id: number, fact: BindingFact): void {
    const s = [...this.tests.values()].find((t) => t.probe.id === id);
    if (!s || s.finished) return;
    if (!this.fromExpectedSource(s, fact)) return;
    s.fact = fact;
    s.finished = true;
    this.advance(now);
  }

  /**
   * The server answered probe `id` with an error (e.g. 420: it has no alternate address for
   * CHANGE-REQUEST): the test cannot be run. It ends at once instead of timing out, and the
   * result says what was assumed.
   */
  handleUnsupported(now: Millis, id: number): void {
    const s = [...this.tests.values()].find((t) => t.probe.id === id);
    if (!s || s.finished || s.probe.test === 'map-primary') return;
    s.finished = true;
    s.unsupported = true;
    this.notes.push(`${s.probe.test}: ${formatAddress(s.probe.to)} cannot run this test`);
    this.advance(now);
  }

  private fromExpectedSource(s: TestState, fact: BindingFact): boolean {
    const { primary } = this.config;
    const test = s.probe.test;
    if (test === 'filter-other-ip' && fact.from.address === primary.address) {
      this.notes.push(`filter-other-ip answered from the primary IP (${formatAddress(fact.from)}): server ignored CHANGE-REQUEST; ignored`);
      return false;
    }
    if (test === 'filter-other-port' && (fact.from.address !== primary.address || fact.from.port === primary.port)) {
      this.notes.push(`filter-other-port answered from ${formatAddress(fact.from)}, not from the primary IP's other port; ignored`);
      return false;
    }
    return true;
  }

  private start(test: ClassifierTest, to: UdpAddress, change: ChangeRequest, now: Millis): void {
    const s: TestState = { probe: { id: this.nextId++, test, to, change }, transmissions: 0, nextAt: now, finished: false };
    this.tests.set(test, s);
    this.transmit(s, now);
  }

  private transmit(s: TestState, now: Millis): void {
    s.transmissions++;
    this.outbox.push({ ...s.probe, transmission: s.transmissions });
    s.nextAt = now + this.rtoMs * 2 ** (s.transmissions - 1);
  }

  private finished(...tests: ClassifierTest[]): boolean {
    return tests.every((t) => this.tests.get(t)?.finished !== false);
  }

  private advance(now: Millis): void {
    const { primary, secondary, primaryAltPort } = this.config;
    if (this.phase === 'map-primary' && this.finished('map-primary')) {
      if (!this.tests.get('map-primary')!.fact) {
        this.phase = 'done';
        this.outcome = { nat: { udp: 'blocked' }, certain: true, notes: [...this.notes, `no response from ${formatAddress(primary)} after ${this.maxTransmits} transmissions`] };
        return;
      }
      this.phase = 'filter';
      this.start('filter-other-ip', primary, 'ip-and-port', now);
      if (primaryAltPort) this.start('filter-other-port', primary, 'port', now);
    }
    if (this.phase === 'filter' && this.finished('filter-other-ip', 'filter-other-port')) {
      this.phase = 'map';
      this.start('map-secondary', secondary, 'none', now);
      if (primaryAltPort) this.start('map-alt-port', primaryAltPort, 'none', now);
    }
    if (this.phase === 'map' && this.finished('map-secondary', 'map-alt-port')) {
      this.phase = 'done';
      this.outcome = this.decide();
    }
  }

  private decide(): Classification {
    const notes = [...this.notes];
    let certain = true;
    const fact = (t: ClassifierTest) => this.tests.get(t)?.fact;
    const m1 = fact('map-primary')!.mapped;

    let mapping: MappingBehavior;
    const m2 = fact('map-secondary')?.mapped;
    if ((this.config.localAddresses ?? []).some((a) => sameAddress(a, m1))) {
      mapping = 'none';
    } else if (!m2) {
      mapping = 'APDM';
      certain = false;
      notes.push('secondary vantage point did not answer: mapping assumed APDM');
    } else if (sameAddress(m1, m2)) {
      mapping = 'EIM';
    } else if (!this.config.primaryAltPort) {
      mapping = 'APDM';
      certain = false;
      notes.push('no alternate port on the primary: ADM and APDM not distinguished, assumed APDM');
    } else {
      const m3 = fact('map-alt-port')?.mapped;
      if (!m3) {
        mapping = 'APDM';
        certain = false;
        notes.push('alternate port did not answer: assumed APDM');
      } else mapping = sameAddress(m1, m3) ? 'ADM' : 'APDM';
    }

    let filtering: FilteringBehavior;
    if (fact('filter-other-ip')) filtering = 'EIF';
    else if (fact('filter-other-port')) filtering = 'ADF';
    else {
      filtering = 'APDF';
      if (this.tests.get('filter-other-ip')?.unsupported) {
        certain = false;
        notes.push('the primary cannot answer from another address: filtering assumed APDF');
      } else if (!this.config.primaryAltPort) {
        certain = false;
        notes.push('no alternate port on the primary: ADF and APDF not distinguished, assumed APDF');
      }
    }
    return { nat: { udp: 'open', mapping, filtering }, mapped: m1, certain, notes };
  }
}
