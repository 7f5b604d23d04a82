// Transport configuration with defaults. Everything a connection needs from
// outside (crypto, randomness) is injected here.
import type { CryptoProvider } from './crypto.ts';
import type { Random } from './random.ts';
import { DEFAULT_LIMITS, type StreamLimits } from './streams/streams.ts';
import type { CongestionFactory } from './congestion/types.ts';
import { NewReno } from './congestion/new-reno.ts';
import { Cubic } from './congestion/cubic.ts';
import { Bbr } from './congestion/bbr.ts';

export type RetryPolicy = boolean | { whenPendingHandshakesAbove: number };

export interface TransportConfig {
  crypto: CryptoProvider;
  random: Random;
  limits: StreamLimits;
  congestion: CongestionFactory;
  /** Initial congestion window, packets. */
  initialWindowPackets: number;
  initialRttMs: number;
  maxAckDelayMs: number;
  /** ACK after this many ack-eliciting packets. */
  ackFrequency: number;
  idleTimeoutMs: number;
  /** Send a PING when nothing was sent for this long (0 = off). */
  keepAliveMs: number;
  /** Initial (and minimum) UDP payload size. */
  initialMtu: number;
  /** Upper bound for path MTU discovery (= initialMtu disables probing). */
  maxUdpPayload: number;
  pacing: boolean;
  /** Per-stream bytes buffered (unacked) before the stream reports backpressure. */
  sendBufferBytes: number;
  /** Unreliable datagrams queued at most (oldest dropped). */
  maxDatagramQueue: number;
  /**
   * Server: stateless address validation with a Retry round trip.
   * `true` = always; `false` = never; `{ whenPendingHandshakesAbove: n }` =
   * only while more than `n` connections are still in their handshake
   * (a Retry-under-load policy: no extra round trip in normal operation,
   * no per-connection state for unverified sources under a flood).
   */
  retry: RetryPolicy;
  /** Server: secret for Retry tokens (>= 16 bytes). */
  tokenSecret?: Uint8Array;
  /** Retry token lifetime. */
  tokenLifetimeMs: number;
  /**
   * The endpoint owns the bytes of every received datagram (a fresh buffer per
   * datagram that nobody else reads afterwards, as node:dgram delivers): 1-RTT packets
   * may then be decrypted in place (PacketKeys.openInPlace). Default false (the Pair
   * harness and the simulator keep references to delivered datagrams).
   */
  ownsReceivedDatagrams: boolean;
  /**
   * Received datagrams are only lent to the endpoint: their memory is rewritten once
   * handleDatagram returns (the native batched socket's receive arena). The transport then
   * copies the received bytes it keeps — stream and CRYPTO data, exactly the bytes stored
   * (streams/recv-slab.ts) — and keeps no view of a datagram. Default false: it keeps views
   * (zero-copy), and whoever delivers a datagram must leave its bytes alone. createTransport
   * does not turn it on by itself (opt-in: no speed-up measured yet on a loaded machine; the
   * Driver lends the native socket's arena only with it).
   */
  copyReceivedData: boolean;
  /**
   * Whoever polls transmits is done with a Transmit's bytes before it polls the next
   * one (the native batched socket copies each datagram into its staging area at
   * send): 1-RTT packets are then written into one reused buffer per connection, no
   * allocation per packet (for 64 KB PMTUD packets: no 64 KB buffer + GC each).
   * Default false: the Pair harness, the simulator and node:dgram's sendOwned keep
   * the bytes after the call.
   */
  reuseTransmitBuffers: boolean;
}

export const congestionControllers: Record<string, CongestionFactory> = {
  newreno: (mtu) => new NewReno(mtu),
  cubic: (mtu) => new Cubic(mtu),
  bbr: (mtu) => new Bbr(mtu),
  /** for tests: a window so large that only flow control limits sending */
  unlimited: (mtu) => ({ name: 'unlimited', onSent() {}, onAck() {}, onCongestionEvent() {}, window: () => 1e9 + mtu }),
};

export function makeConfig(c: Partial<TransportConfig> & Pick<TransportConfig, 'crypto' | 'random'>): TransportConfig {
  const iw = c.initialWindowPackets ?? 10;
  return {
    congestion: (mtu) => new Bbr(mtu, iw),
    initialWindowPackets: 10,
    initialRttMs: 333,
    maxAckDelayMs: 25,
    ackFrequency: 2,
    idleTimeoutMs: 30_000,
    keepAliveMs: 0,
    initialMtu: 1200,
    maxUdpPayload: 1452,
    pacing: true,
    sendBufferBytes: 1 << 20,
    maxDatagramQueue: 64,
    retry: false,
    tokenLifetimeMs: 10_000,
    ownsReceivedDatagrams: false,
    copyReceivedData: false,
    reuseTransmitBuffers: false,
    ...c,
    limits: { ...DEFAULT_LIMITS, ...c.limits },
  };
}
