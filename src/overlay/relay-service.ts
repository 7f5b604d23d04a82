// I/O glue for a supernode: the sans-IO SupernodeCore (supernode.ts: relay, gossip, STUN
// Binding on one port) on a real UDP socket, run by RelayBatchDriver (relay-driver.ts: a
// burst received in one batch is forwarded in one flush as soon as it was read). Time is Unix ms (performance.timeOrigin + performance.now(),
// monotonic within the process) because relay tickets expire in Unix ms. The UDP socket is
// relay-udp.ts (forwarded datagrams go back out without a copy). Tickets are
// checked with the directory's public key. Unless `tcp: false`, the relay also listens on
// TCP at the same port number for devices whose UDP is blocked (relay-tcp.ts).
import { randomBytes, randomInt } from 'node:crypto';
import { realClock } from '../datagram/udp.ts';
import { bindRelayUdp } from './relay-udp.ts';
import { RelayBatchDriver } from './relay-driver.ts';
import { BusyPollPolicy, type BusyPollPolicyOptions } from './relay-busy-poll.ts';
import type { Clock, UdpAddress } from '../wire/socket.ts';
import type { RelayConfig, TicketVerifier } from './relay.ts';
import { SupernodeCore, type SupernodeCounters } from './supernode.ts';
import type { PeerRef, ViewEntry } from './gossip.ts';
import { directoryTicketVerifier } from './ticket-verifier.ts';
import { listenRelayTcp, type RelayTcpListener } from './relay-tcp.ts';

/**
 * Real time in Unix milliseconds with realClock's precise timers, and realClock's `defer`
 * (setImmediate): with it the Driver batches — every datagram of a received burst goes to
 * the core as it arrives, the forwarding output is sent once per event-loop turn and the
 * socket flushed once (the native socket: one sendmmsg, equal-size runs to one destination
 * as one GSO message). Without it every datagram was its own run and its own send syscall.
 */
export const unixClock: Clock & { defer(callback: () => void): void } = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer: (atMs, callback) => realClock.setTimer(atMs - performance.timeOrigin, callback),
  defer: (callback) => realClock.defer(callback),
};

export interface RelayServiceOptions extends Omit<RelayConfig, 'verifier' | 'newSessionId'> {
  readonly address?: string; // default 0.0.0.0
  readonly port?: number; // default 3479
  /** The directory's Ed25519 public key (32 bytes); or give `verifier`. */
  readonly directoryPublicKey?: Uint8Array;
  readonly verifier?: TicketVerifier;
  /** Gossip with other supernodes: our id and reachable address (port 0: the bound port), seeds, shuffle period. */
  readonly gossip?: { readonly self: PeerRef; readonly seeds?: readonly PeerRef[]; readonly shuffleIntervalMs?: number; readonly viewSize?: number };
  /** Also serve the relay over TCP on the same port number (default true). */
  readonly tcp?: boolean;
  /**
   * Busy polling on the UDP socket in microseconds (native socket only; BindUdpOptions.busyPollUs):
   * keep reading for this long after the last datagram instead of sleeping. Default: the
   * TINCAN_RELAY_BUSY_POLL_US environment variable, else 0 (off). CPU for latency (experimental).
   */
  readonly busyPollUs?: number;
  /**
   * Adaptive busy polling (native socket, when busyPollUs is 0): spin between bursts only while
   * the relay receives a lot (relay-busy-poll.ts: from 50,000 datagrams/s, off below half of
   * it; 200 us without a datagram before sleeping; an empty poll yields the core to any other
   * runnable task). For a supernode in a process (and on a core) of its own — `tincan supernode`
   * turns it on — not for one sharing its event loop with other work (the demo, tests): a spin
   * holds the loop up to 200 us after the relay's last datagram. Default false.
   */
  readonly adaptiveBusyPoll?: boolean | BusyPollPolicyOptions;
}

export interface RelayService {
  readonly local: UdpAddress;
  counters(): SupernodeCounters;
  /** The UDP socket's counters (the native socket's include sendmmsg/GSO/GRO figures), its kind, and the driver's path ('runs' with the native socket, else 'datagrams'). */
  udpCounters(): Record<string, number | string>;
  /** Relay-over-TCP counters (undefined with `tcp: false`). */
  tcpCounters(): RelayTcpListener['counters'] | undefined;
  /** The current gossip view (empty without gossip). */
  view(): readonly ViewEntry[];
  /** Add supernodes learnt from the directory. */
  seed(list: readonly PeerRef[]): void;
  close(): void;
}

export async function startRelayService(opts: RelayServiceOptions): Promise<RelayService> {
  const verifier = opts.verifier ?? (opts.directoryPublicKey ? directoryTicketVerifier(opts.directoryPublicKey) : undefined);
  if (!verifier) throw new Error('relay service: a directory public key (or a ticket verifier) is required');
  const { address = '0.0.0.0', port = 3479, directoryPublicKey: _k, verifier: _v, gossip, tcp: withTcp = true, busyPollUs = Number(process.env.TINCAN_RELAY_BUSY_POLL_US ?? 0) || 0,
    adaptiveBusyPoll = false, ...limits } = opts;
  const random = () => randomInt(0, 2 ** 32) / 2 ** 32;
  const udp = await bindRelayUdp(address, port, busyPollUs); // sends without copying: the core never reuses a buffer it sent
  let tcp: RelayTcpListener | undefined;
  try {
    tcp = withTcp ? await listenRelayTcp(udp, { address, port: udp.local.port }) : undefined;
  } catch (e) {
    udp.close();
    throw new Error(`relay service: TCP port ${udp.local.port} on ${address}: ${(e as Error).message}`);
  }
  const socket = tcp?.socket ?? udp;
  // Advertised gossip address: as configured, with port 0 meaning "the port we bound".
  const self = gossip ? { id: gossip.self.id, address: { address: gossip.self.address.address, port: gossip.self.address.port || socket.local.port } } : undefined;
  const core = new SupernodeCore({
    relay: { ...limits, verifier, newSessionId: () => randomBytes(8).readBigUInt64BE() },
    gossip: gossip && self ? { self, random, shuffleIntervalMs: gossip.shuffleIntervalMs, viewSize: gossip.viewSize, seeds: gossip.seeds } : undefined,
  }, unixClock.now());
  const setBusyPoll = udp.setBusyPoll;
  const policy = adaptiveBusyPoll !== false && busyPollUs === 0 && setBusyPoll !== undefined ? new BusyPollPolicy(adaptiveBusyPoll === true ? {} : adaptiveBusyPoll) : undefined;
  const driver = new RelayBatchDriver(core, socket, unixClock, policy ? { policy, apply: setBusyPoll! } : undefined);
  if (gossip?.seeds) core.handleDirectoryList(unixClock.now(), gossip.seeds);
  driver.wake();
  return {
    local: socket.local,
    counters: () => core.counters(),
    tcpCounters: () => tcp?.counters,
    udpCounters: () => ({ kind: udp.kind, path: driver.batched ? 'runs' : 'datagrams', busyPoll: policy ? (policy.on ? policy.spinUs : 0) : busyPollUs, busyPollTurnedOn: policy?.turnedOn ?? 0, ...udp.counters }),
    view: () => core.gossip?.view() ?? [],
    seed: (list) => { core.handleDirectoryList(unixClock.now(), list); driver.wake(); },
    close: () => driver.close(),
  };
}
