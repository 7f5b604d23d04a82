// I/O glue for a supernode relay: the sans-IO RelayForwarder (relay.ts) on a real UDP
// socket, run by the project's Driver (src/datagram/driver.ts). Time is Unix ms
// (performance.timeOrigin + performance.now(), monotonic within the process) because
// relay tickets expire in Unix ms. Tickets are checked with the directory's public key.
import { randomBytes } from 'node:crypto';
import { bindUdp, realClock } from '../datagram/udp.ts';
import { Driver } from '../datagram/driver.ts';
import type { Clock, UdpAddress } from '../wire/socket.ts';
import { RelayForwarder, type RelayConfig, type RelayCounters, type TicketVerifier } from './relay.ts';
import { directoryTicketVerifier } from './ticket-verifier.ts';

/** Real time in Unix milliseconds with realClock's precise timers. */
export const unixClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer: (atMs, callback) => realClock.setTimer(atMs - performance.timeOrigin, callback),
};

export interface RelayServiceOptions extends Omit<RelayConfig, 'verifier' | 'newSessionId'> {
  readonly address?: string; // default 0.0.0.0
  readonly port?: number; // default 3479
  /** The directory's Ed25519 public key (32 bytes); or give `verifier`. */
  readonly directoryPublicKey?: Uint8Array;
  readonly verifier?: TicketVerifier;
}

export interface RelayService {
  readonly local: UdpAddress;
  counters(): RelayCounters;
  close(): void;
}

export async function startRelayService(opts: RelayServiceOptions): Promise<RelayService> {
  const verifier = opts.verifier ?? (opts.directoryPublicKey ? directoryTicketVerifier(opts.directoryPublicKey) : undefined);
  if (!verifier) throw new Error('relay service: a directory public key (or a ticket verifier) is required');
  const { address = '0.0.0.0', port = 3479, directoryPublicKey: _k, verifier: _v, ...limits } = opts;
  const forwarder = new RelayForwarder({ ...limits, verifier, newSessionId: () => randomBytes(8).readBigUInt64BE() }, unixClock.now());
  const socket = await bindUdp({ address, port });
  const driver = new Driver(forwarder, socket, unixClock);
  driver.wake();
  return { local: socket.local, counters: () => forwarder.counters(), close: () => driver.close() };
}
