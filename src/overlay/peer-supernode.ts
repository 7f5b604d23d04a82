// A peer serving as a supernode on its own UDP socket (Skype's rule: a client with its own
// public, unfiltered address may relay for others; supernodeEligible decides, the user may
// opt out). I/O glue: a SupernodeCore (relay + STUN Binding) fed with the datagrams the
// peer's own links did not claim — relay messages and plain STUN Binding requests (no
// USERNAME: connectivity checks belong to the links) — run by RelayBatchDriver on Unix time
// (tickets expire in Unix ms), as `tincan supernode` is, plus the directory registration
// (heartbeats with load). The peer's socket is shared with its own links and demultiplexed per
// datagram, so the driver takes its per-datagram path: each offered datagram goes to the core
// at once and what the core queued leaves when the socket's receive callback returns (one
// drain per received batch, no transmit object per datagram), not one event-loop turn later.
// No busy polling: a peer is not a dedicated supernode.
// The peer never relays its own sessions through itself (it would see its own DATA as
// inbound), so its picker skips its own registration.
import { randomBytes } from 'node:crypto';
import type { DirectoryClient } from '../directory/client.ts';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../wire/socket.ts';
import { decodeStun } from '../wire/stun.ts';
import { DecodeError } from '../wire/errors.ts';
import { RelayBatchDriver } from './relay-driver.ts';
import { SupernodeCore, type SupernodeCounters } from './supernode.ts';
import { directoryTicketVerifier } from './ticket-verifier.ts';
import { classifyDatagram } from './demux.ts';
import { unixClock } from './relay-service.ts';
import { registerAtDirectory, type SupernodeRegistration } from './supernode-registration.ts';

export interface PeerSupernodeOptions {
  readonly directory: DirectoryClient;
  /** Sends from the peer's shared socket. */
  readonly send: (to: UdpAddress, bytes: Uint8Array) => void;
  /** The peer's public address (host == mapped), as registered. */
  readonly publicAddress: UdpAddress;
  readonly capacity?: number; // relay sessions, default 100
  readonly allowLoopback?: boolean;
  readonly allowPrivate?: boolean;
  /** Relayed bytes/s allowed per device and in total (default 1 MB/s and 4 MB/s: a peer's spare uplink). */
  readonly deviceBytesPerSec?: number;
  readonly totalBytesPerSec?: number;
}

export interface PeerSupernode {
  /** Offer an unclaimed datagram; true if it was for the supernode. */
  offer(from: UdpAddress, bytes: Uint8Array): boolean;
  readonly registrationId: string;
  counters(): SupernodeCounters;
  close(): void;
}

/** Is this unclaimed datagram for the supernode role? Relay messages and plain Binding requests. */
export function forSupernode(bytes: Uint8Array): boolean {
  const kind = classifyDatagram(bytes);
  if (kind === 'relay') return true;
  if (kind !== 'stun') return false;
  try {
    const m = decodeStun(bytes);
    return m.class === 'request' && m.username === undefined;
  } catch (e) {
    if (e instanceof DecodeError) return false;
    throw e;
  }
}

export async function startPeerSupernode(o: PeerSupernodeOptions): Promise<PeerSupernode> {
  const key = await o.directory.directoryKey();
  const device = o.deviceBytesPerSec ?? 1_000_000;
  const total = o.totalBytesPerSec ?? 4_000_000;
  const core = new SupernodeCore({
    relay: {
      verifier: directoryTicketVerifier(key), newSessionId: () => randomBytes(8).readBigUInt64BE(),
      allowLoopback: o.allowLoopback, allowPrivate: o.allowPrivate, maxSessions: o.capacity ?? 100,
      deviceBytesPerSec: device, deviceBurstBytes: Math.max(64 * 1024, device / 8), totalBytesPerSec: total, totalBurstBytes: Math.max(256 * 1024, total / 8),
    },
  }, unixClock.now());
  let handler: DatagramHandler = () => {};
  const socket: DatagramSocket = {
    local: o.publicAddress,
    send: (to, bytes) => o.send(to, bytes),
    onDatagram: (h) => { handler = h; },
    close: () => {},
  };
  const driver = new RelayBatchDriver(core, socket, unixClock);
  driver.wake();
  let reg: SupernodeRegistration;
  try {
    reg = await registerAtDirectory({
      directory: o.directory, address: o.publicAddress.address, port: o.publicAddress.port, capacity: o.capacity ?? 100,
      load: () => core.counters().relay.sessionsActive,
    });
  } catch (e) {
    driver.close();
    throw e;
  }
  return {
    offer(from, bytes) {
      if (!forSupernode(bytes)) return false;
      handler(from, bytes);
      return true;
    },
    get registrationId() { return reg.id; },
    counters: () => core.counters(),
    close() { reg.close(); driver.close(); },
  };
}
