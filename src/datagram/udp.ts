// The real DatagramSocket: IPv4 UDP, and the real Clock (performance.now +
// setTimeout). bindUdp() returns the native batched socket (native-udp.ts:
// recvmmsg/sendmmsg, UDP GSO/GRO) when its addon loaded, else — and always with
// TINCAN_UDP=dgram or `impl: 'dgram'` — DgramUdpSocket over node:dgram. Both are
// UdpSocket (udp-socket.ts; also exported here as NodeUdpSocket, its old name).
// Contract (src/wire/socket.ts): send() never throws; datagrams that cannot be sent
// (closed socket, payload over 65,507 bytes, bad port or an address that is not a
// dotted quad — no DNS lookups, kernel send errors) are dropped and counted in
// `counters`. The payload is copied at send() time, so the caller may reuse its
// buffer. Received payloads are plain Uint8Array views the receiver owns (it may
// overwrite them, e.g. decrypt in place). close() is idempotent and stops delivery
// at once. The receive buffer is enlarged (default 4 MiB) on a best-effort basis:
// Linux caps it at net.core.rmem_max; `recvBufferSize` reports what was granted.
// DgramUdpSocket: a fresh buffer per received datagram. Hot path: the destination
// is already a validated dotted quad, so node:dgram's per-send DNS lookup
// (dns.lookup: one process.nextTick + closure per datagram) is replaced by a
// synchronous identity lookup, so send() hands the datagram to the kernel before
// it returns (a send() just before close() is no longer lost; if the kernel queue
// is full libuv queues it, and close() then cancels it). The sender of the
// previous datagram is reused as the `from` object when the next one comes from
// the same address and port.
import { createSocket, type Socket } from 'node:dgram';
import { isIpv4 } from '../wire/ipv4-address.ts';
import type { Clock, DatagramHandler, Millis, TimerHandle, UdpAddress } from '../wire/socket.ts';
import { NativeUdpSocket, nativeUdp } from './native-udp.ts';
import { DEFAULT_RECV_BUFFER, MAX_UDP_PAYLOAD, UdpSocket, validPort, type BindUdpOptions, type UdpCounters } from './udp-socket.ts';
import { segmentCount, sendRunBySegments, SingleDatagramBatch, type BatchHandler } from './batch.ts';

export { DEFAULT_RECV_BUFFER, MAX_UDP_PAYLOAD, UdpSocket, type BindUdpOptions, type UdpCounters };
export { NativeUdpSocket, nativeUdp, type NativeUdpCounters } from './native-udp.ts';
/** The common type under its old name: `instanceof NodeUdpSocket` holds for both implementations. */
export { UdpSocket as NodeUdpSocket };

export class DgramUdpSocket extends UdpSocket {
  readonly kind = 'dgram' as const;
  /** sendOwned() hands the caller's buffer to libuv, which may send it later. */
  readonly copiesOnSend = false;
  readonly local: UdpAddress;
  readonly counters: UdpCounters = { sent: 0, received: 0, dropped: 0, sendErrors: 0 };
  /** SO_RCVBUF / SO_SNDBUF as granted by the kernel (Linux reports twice the usable size). */
  readonly recvBufferSize: number;
  readonly sendBufferSize: number;
  /** Last kernel error code seen (e.g. 'ENOBUFS'), for diagnostics. */
  lastError: string | undefined;
  private handler: DatagramHandler | undefined;
  private batchHandler: BatchHandler | undefined;
  private readonly single = new SingleDatagramBatch();
  /** Last destination address that passed isIpv4 (one-entry cache). */
  private lastTo: string | undefined = undefined;
  private closed = false;
  private readonly closedPromise: Promise<void>;
  private readonly onSent = (err: Error | null) => {
    if (err) {
      this.counters.sendErrors++;
      this.lastError = (err as NodeJS.ErrnoException).code ?? err.message;
    }
  };

  /** Use bindUdp(). */
  constructor(private readonly socket: Socket) {
    super();
    const a = socket.address();
    this.local = { address: a.address, port: a.port };
    this.recvBufferSize = safe(() => socket.getRecvBufferSize());
    this.sendBufferSize = safe(() => socket.getSendBufferSize());
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    // UdpAddress is readonly, so the previous sender's object can be handed out again
    let last: UdpAddress = { address: '', port: 0 };
    socket.on('message', (msg, rinfo) => {
      if (this.closed) return;
      this.counters.received++;
      const handler = this.handler, batchHandler = this.batchHandler;
      if (handler === undefined && batchHandler === undefined) return;
      if (rinfo.port !== last.port || rinfo.address !== last.address) last = { address: rinfo.address, port: rinfo.port };
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      if (handler !== undefined) handler(last, bytes);
      else batchHandler!(this.single.set(last, bytes)); // emulated: a batch of one per datagram
    });
    socket.on('error', (err) => {
      this.counters.sendErrors++;
      this.lastError = (err as NodeJS.ErrnoException).code ?? err.message;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(to: UdpAddress, bytes: Uint8Array): void {
    this.transmit(to, bytes, true);
  }

  /**
   * As send(), without the copy: the caller hands `bytes` over and never touches them
   * again (the transport's packets are fresh buffers). Saves an allocation and a copy
   * per datagram (64 KB each with PMTUD on loopback).
   */
  sendOwned(to: UdpAddress, bytes: Uint8Array): void {
    this.transmit(to, bytes, false);
  }

  private transmit(to: UdpAddress, bytes: Uint8Array, copy: boolean): void {
    if (this.closed || bytes.length > MAX_UDP_PAYLOAD || !validPort(to.port) || to.port === 0 || (to.address !== this.lastTo && !isIpv4(to.address))) {
      this.counters.dropped++;
      return;
    }
    try {
      this.lastTo = to.address;
      // a copy (the caller may reuse its buffer; Buffer.from takes a pooled slab, cheaper than slice()) or a view
      const data = copy ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.socket.send(data, to.port, to.address, this.onSent);
      this.counters.sent++;
    } catch (err) {
      this.counters.sendErrors++;
      this.lastError = (err as NodeJS.ErrnoException).code ?? String(err);
    }
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
    this.batchHandler = undefined;
  }

  /** Emulated: one batch of one run per datagram (correct, no faster than onDatagram). */
  onBatch(handler: BatchHandler): void {
    this.batchHandler = handler;
    this.handler = undefined;
  }

  /** Emulated: send() (a copy) per segment. */
  sendRun(to: UdpAddress, bytes: Uint8Array, segmentSize: number): void {
    if (!sendRunBySegments((t, b) => this.transmit(t, b, true), to, bytes, segmentSize)) this.counters.dropped += segmentCount(bytes.length, segmentSize);
  }

  /** Nothing to do: send() hands each datagram to the kernel at once. */
  flush(): void {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.batchHandler = undefined;
    try {
      this.socket.close();
    } catch {
      // already closed by the runtime: nothing left to release
    }
  }

  /** Resolves when the port is released (after close()). */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }
}

/** Which implementation bindUdp() uses when `impl` is not given: TINCAN_UDP=dgram|native, else the default. */
export function defaultUdpImpl(): 'native' | 'dgram' {
  const env = process.env.TINCAN_UDP;
  if (env === 'dgram' || env === 'native') return env;
  return DEFAULT_IMPL === 'native' && nativeUdp.available ? 'native' : 'dgram';
}

/** The default when TINCAN_UDP is not set (the native socket once the addon loads). */
const DEFAULT_IMPL: 'native' | 'dgram' = 'native';

/**
 * Bind an IPv4 UDP socket. Rejects (e.g. EADDRINUSE, EADDRNOTAVAIL) if the bind fails,
 * and with an Error when `impl: 'native'` (or TINCAN_UDP=native) is asked for but the addon did not load.
 */
export async function bindUdp(opts: BindUdpOptions = {}): Promise<UdpSocket> {
  const address = opts.address ?? '0.0.0.0';
  const port = opts.port ?? 0;
  if (!isIpv4(address)) throw new RangeError(`bindUdp: address must be a dotted-quad IPv4 address, got ${JSON.stringify(address)}`);
  if (!validPort(port)) throw new RangeError(`bindUdp: port must be 0..65535, got ${port}`);
  if ((opts.impl ?? defaultUdpImpl()) === 'native') return new NativeUdpSocket(opts);
  return bindDgramUdp(address, port, opts);
}

async function bindDgramUdp(address: string, port: number, opts: BindUdpOptions): Promise<DgramUdpSocket> {
  const socket = createSocket({ type: 'udp4', lookup: literalLookup });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  const recv = opts.recvBufferSize ?? DEFAULT_RECV_BUFFER;
  safe(() => socket.setRecvBufferSize(recv));
  if (opts.sendBufferSize !== undefined) safe(() => socket.setSendBufferSize(opts.sendBufferSize!));
  return new DgramUdpSocket(socket);
}

/** Longest delay setTimeout accepts; longer timers re-arm in steps. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Wall-clock time (performance.now, ms since process start), setTimeout-based one-shot
 * timers, and `defer` = setImmediate (the Driver batches received datagrams with it).
 */
export const realClock: Clock & { defer(callback: () => void): void } = {
  defer: (callback) => { setImmediate(callback); },
  now: (): Millis => performance.now(),
  setTimer(atMs: Millis, callback: () => void): TimerHandle {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    // setTimeout may fire up to ~1 ms early against performance.now(): re-check and
    // re-arm, so the callback never runs before `atMs`. Never fires synchronously.
    const delayFor = () => Math.min(Math.max(0, Math.ceil(atMs - performance.now())), MAX_TIMEOUT_MS);
    const check = () => {
      if (cancelled) return;
      if (performance.now() >= atMs) callback();
      else handle = setTimeout(check, Math.max(1, delayFor()));
    };
    handle = setTimeout(check, delayFor());
    return {
      cancel() {
        cancelled = true;
        if (handle !== undefined) clearTimeout(handle);
      },
    };
  },
};

/**
 * node:dgram's `lookup` hook, called synchronously by every send() and by bind():
 * both only ever pass validated dotted quads, so the address is its own
 * resolution (dns.lookup's literal fast path still defers via process.nextTick).
 */
function literalLookup(hostname: string, _options: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  callback(null, hostname, 4);
}

function safe(f: () => unknown): number {
  try {
    const v = f();
    return typeof v === 'number' ? v : 0;
  } catch {
    return 0;
  }
}
