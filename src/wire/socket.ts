// The datagram boundary every layer above `wire` is written against.
// Types only: the real adapter — bindUdp() in src/datagram/udp.ts, on Linux the
// native batched socket (src/datagram/native-udp.ts: recvmmsg/sendmmsg, UDP GSO/GRO)
// with node:dgram as the fallback (other platforms, addon not built, TINCAN_UDP=dgram)
// — and the simulator's host sockets (src/sim) all implement `DatagramSocket`, and
// one compliance suite (test/datagram/compliance.ts) runs against each of them
// (test/datagram/udp.test.ts, test/sim/socket-compliance.test.ts).
// Addresses are IPv4 dotted quads; ports are 0..65535.

/** Milliseconds, as a float. Real time: performance.now(); simulated: virtual clock. */
export type Millis = number;

export interface UdpAddress {
  readonly address: string;
  readonly port: number;
}

export type DatagramHandler = (from: UdpAddress, bytes: Uint8Array) => void;

export interface DatagramSocket {
  /** The bound local address (after binding, port is never 0). */
  readonly local: UdpAddress;
  /** Queue one datagram to `to`. Never throws for network conditions; oversize or closed-socket sends are dropped and counted. */
  send(to: UdpAddress, bytes: Uint8Array): void;
  /** Register the single receive handler (a later call replaces the earlier one). */
  onDatagram(handler: DatagramHandler): void;
  /** Stop receiving and release the port. Idempotent. */
  close(): void;
}

export interface TimerHandle {
  cancel(): void;
}

/** Time source + one-shot timers: performance.now()/setTimeout for real, the virtual clock in the simulator. */
export interface Clock {
  now(): Millis;
  setTimer(atMs: Millis, callback: () => void): TimerHandle;
}

export function formatAddress(a: UdpAddress): string {
  return `${a.address}:${a.port}`;
}

export function sameAddress(a: UdpAddress, b: UdpAddress): boolean {
  return a.address === b.address && a.port === b.port;
}
