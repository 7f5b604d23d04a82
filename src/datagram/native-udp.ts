// The native batched UDP socket (Linux; addon in src/datagram/native): same contract
// as the node:dgram socket (udp-socket.ts, src/wire/socket.ts) at a fraction of the
// per-datagram cost. send()/sendOwned() validate (never throw; closed, oversize,
// bad port, non-dotted-quad address: dropped and counted) and copy the datagram into
// a staging buffer shared with the addon; the staged datagrams go to the kernel in
// one flush — sendmmsg, equal-size runs to one destination as one UDP GSO message —
// at the end of the current JS task (queueMicrotask), when staging is full, on
// flush() (the Driver calls it after its transmit loop), on close() and when the
// process exits (process.exit() runs no microtasks). Datagrams
// the kernel has no room for wait in a bounded native queue and go out when the
// socket is writable; `counters.sent` counts what the kernel accepted. Receiving:
// recvmmsg batches (GRO super-datagrams split) arrive as ONE fresh ArrayBuffer per
// batch; the handler gets a Uint8Array view per datagram, which it owns (views never
// overlap and the buffer is never reused). The `from` object is reused while the
// sender stays the same. A handler that throws does not cost the rest of its batch:
// the first error is rethrown (uncaught) after the batch.
import { createRequire } from 'node:module';
import { getSystemErrorName, inspect } from 'node:util';
import { ipv4ToU32, u32ToIpv4 } from '../wire/ipv4-address.ts';
import type { DatagramHandler, UdpAddress } from '../wire/socket.ts';
import { DEFAULT_RECV_BUFFER, MAX_UDP_PAYLOAD, UdpSocket, validPort, type BindUdpOptions, type UdpCounters } from './udp-socket.ts';

/** The addon's exports (src/datagram/native/tincan_udp.c). */
interface NativeAddon {
  open(addr: number, port: number, rcvbuf: number, sndbuf: number, flags: number, onRecv: (ab: ArrayBuffer, count: number) => void):
    [NativeHandle, ArrayBuffer, ArrayBuffer, ArrayBuffer, ArrayBuffer, number, number, number, number] | number;
  flush(handle: NativeHandle, count: number): void;
  close(handle: NativeHandle, onClosed: () => void): void;
  injectSendErrors(handle: NativeHandle, errno: number, times: number): void;
  readonly stagingBytes: number;
  readonly sendMetaCap: number;
  readonly recvMetaCap: number;
}
type NativeHandle = { readonly __nativeUdp: unique symbol };

/** Counter slots of the shared Float64Array, in the addon's order (enum in tincan_udp.h). */
const COUNTER_NAMES = [
  'sent', 'received', 'dropped', 'sendErrors', 'sendSyscalls', 'recvSyscalls',
  'gsoMessages', 'gsoSegments', 'groSegments', 'recvBatches', 'queued', 'queueDrops',
  'rxOverflow', 'truncated', 'recvErrors', 'lastErrno', 'gsoOn', 'groOn',
  'sendBlocked', 'gsoFallbacks', 'gsoMaxSegment',
] as const;
const C_DROPPED = 2;
const C_LAST_ERRNO = 15;

export interface NativeUdpCounters extends UdpCounters {
  /** sendmmsg / recvmmsg calls (including ones that returned EAGAIN). */
  sendSyscalls: number;
  recvSyscalls: number;
  /** GSO messages sent and the datagrams they carried. */
  gsoMessages: number;
  gsoSegments: number;
  /** Datagrams that arrived inside GRO super-datagrams. */
  groSegments: number;
  /** JS calls with received datagrams (one ArrayBuffer each). */
  recvBatches: number;
  /** Datagrams waiting for the socket to become writable now; queueDrops: dropped because that queue was full (or at close). */
  queued: number;
  queueDrops: number;
  /**
   * The kernel's count of packets dropped for a full receive buffer (SO_RXQ_OVFL, as of the last
   * datagram received): datagrams, except that a dropped GRO super-datagram counts once.
   */
  rxOverflow: number;
  /** Received datagrams dropped as truncated (cannot happen below 64 KiB), receive errors. */
  truncated: number;
  recvErrors: number;
  lastErrno: number;
  /** 1 while GSO is used / GRO is on. */
  gsoOn: number;
  groOn: number;
  /** Flushes the kernel refused for lack of room (EAGAIN/ENOBUFS), GSO messages resent without GSO. */
  sendBlocked: number;
  gsoFallbacks: number;
  /** 0, or the segment size of the last GSO message refused with EMSGSIZE/EINVAL (too big for the route): only shorter segments are coalesced since. */
  gsoMaxSegment: number;
}

let addon: NativeAddon | undefined;
let loadError: string | undefined;
try {
  if (process.platform !== 'linux') throw new Error(`not built on ${process.platform}`);
  // TINCAN_UDP_ADDON=<path>: load another build of the addon (test/datagram/native-asan.test.ts: ASan+UBSan)
  const path = process.env.TINCAN_UDP_ADDON || './native/build/Release/tincan_udp.node';
  addon = createRequire(import.meta.url)(path) as NativeAddon;
} catch (err) {
  loadError = err instanceof Error ? err.message : String(err);
}

/** Open sockets: staged datagrams are flushed when the process exits (process.exit() skips microtasks). */
const openSockets = new Set<NativeUdpSocket>();
let exitHook = false;
function flushAllAtExit(): void {
  for (const s of openSockets) s.flush();
}

/** Whether the addon loaded, and why not. */
export const nativeUdp: { readonly available: boolean; readonly loadError: string | undefined } = { available: addon !== undefined, loadError };

export class NativeUdpSocket extends UdpSocket {
  readonly kind = 'native' as const;
  /** send()/sendOwned() copy into staging before they return: the caller may reuse its buffer at once. */
  readonly copiesOnSend = true;
  readonly local: UdpAddress;
  readonly counters: NativeUdpCounters;
  readonly recvBufferSize: number;
  readonly sendBufferSize: number;
  private readonly addon: NativeAddon;
  private readonly handle: NativeHandle;
  private readonly staging: Uint8Array;
  private readonly sendMeta: Uint32Array;
  private readonly recvMeta: Uint32Array;
  private readonly ctr: Float64Array;
  private readonly stagingBytes: number;
  private readonly metaCap: number;
  private readonly closedPromise: Promise<void>;
  private resolveClosed: () => void = () => {};
  private handler: DatagramHandler | undefined;
  private closed = false;
  /** Staged datagrams and their bytes. */
  private count = 0;
  private used = 0;
  private scheduled = false;
  /** One-entry destination cache: the last address text that parsed, and its number. */
  private lastTo: string | undefined = undefined;
  private lastToU32 = 0;
  /** The sender of the previous datagram, handed out again while it stays the same. */
  private lastFrom: UdpAddress = { address: '', port: 0 };
  private lastFromU32 = -1;
  private readonly flushTask = () => {
    this.scheduled = false;
    this.flush();
  };

  /** Use bindUdp(). Throws an Error with `code` (e.g. 'EADDRINUSE') when the bind fails. */
  constructor(opts: BindUdpOptions = {}) {
    super();
    if (addon === undefined) throw new Error(`native UDP addon not loaded: ${loadError}`);
    const address = opts.address ?? '0.0.0.0';
    const port = opts.port ?? 0;
    // TINCAN_UDP_RECV_BATCHES=1..64: recvmmsg calls per poll wake-up (default 4; experiments)
    const batches = Number(process.env.TINCAN_UDP_RECV_BATCHES ?? 0);
    const flags = (opts.gro === false ? 0 : 1) | (opts.gso === false ? 0 : 2) | ((Number.isInteger(batches) && batches >= 1 && batches <= 64 ? batches : 0) << 8);
    // buffer sizes are best effort, as with node:dgram: a nonsensical request is no request (0)
    const size = (n: number | undefined) => (n !== undefined && Number.isInteger(n) && n > 0 ? Math.min(n, 2 ** 30) : 0);
    const rcvbuf = size(opts.recvBufferSize ?? DEFAULT_RECV_BUFFER), sndbuf = size(opts.sendBufferSize);
    const r = addon.open(ipv4ToU32(address), port, rcvbuf, sndbuf, flags, (ab, n) => this.onBatch(ab, n));
    if (typeof r === 'number') {
      const code = r < 0 ? getSystemErrorName(r) : 'EINVAL';
      throw Object.assign(new Error(`bind ${code} ${address}:${port}`), { code, errno: r, syscall: 'bind', address, port });
    }
    this.addon = addon;
    this.handle = r[0];
    this.staging = new Uint8Array(r[1]);
    this.sendMeta = new Uint32Array(r[2]);
    this.recvMeta = new Uint32Array(r[3]);
    this.ctr = new Float64Array(r[4]);
    this.local = { address: u32ToIpv4(r[5]), port: r[6] };
    this.recvBufferSize = r[7];
    this.sendBufferSize = r[8];
    this.stagingBytes = Math.min(addon.stagingBytes, this.staging.length);
    this.metaCap = Math.min(addon.sendMetaCap, this.sendMeta.length >>> 2);
    const ctr = this.ctr;
    const counters = {} as NativeUdpCounters;
    COUNTER_NAMES.forEach((name, i) => Object.defineProperty(counters, name, { enumerable: true, get: () => ctr[i] }));
    // console.log / util.inspect show the numbers, not [Getter]
    Object.defineProperty(counters, inspect.custom, { value: () => ({ ...counters }) });
    this.counters = counters;
    this.closedPromise = new Promise((resolve) => { this.resolveClosed = resolve; });
    openSockets.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', flushAllAtExit);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get lastError(): string | undefined {
    const e = this.ctr[C_LAST_ERRNO]!;
    if (e === 0) return undefined;
    try {
      return getSystemErrorName(-e);
    } catch {
      return `errno ${e}`;
    }
  }

  send(to: UdpAddress, bytes: Uint8Array): void {
    this.stage(to, bytes);
  }

  /** Same as send(): the datagram is copied into the staging buffer either way. */
  sendOwned(to: UdpAddress, bytes: Uint8Array): void {
    this.stage(to, bytes);
  }

  private stage(to: UdpAddress, bytes: Uint8Array): void {
    const len = bytes.length;
    const port = to.port;
    if (this.closed || !(len <= MAX_UDP_PAYLOAD) || port === 0 || !validPort(port)) {
      this.ctr[C_DROPPED]++;
      return;
    }
    let addr = this.lastToU32;
    if (to.address !== this.lastTo) {
      try {
        addr = ipv4ToU32(to.address);
      } catch {
        this.ctr[C_DROPPED]++;
        return;
      }
      this.lastTo = to.address;
      this.lastToU32 = addr;
    }
    if (this.count === this.metaCap || this.used + len > this.stagingBytes) this.flush();
    const off = this.used;
    if (len > 0) this.staging.set(bytes, off);
    const m = this.count << 2;
    const meta = this.sendMeta;
    meta[m] = off;
    meta[m + 1] = len;
    meta[m + 2] = addr;
    meta[m + 3] = port;
    this.used = off + len;
    this.count++;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    this.used = 0;
    this.addon.flush(this.handle, n);
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  private onBatch(ab: ArrayBuffer, n: number): void {
    const meta = this.recvMeta;
    let failed = false;
    let failure: unknown;
    for (let i = 0, m = 0; i < n; i++, m += 4) {
      const handler = this.handler;
      if (handler === undefined || this.closed) break;
      const addr = meta[m + 2]!;
      const port = meta[m + 3]!;
      if (addr !== this.lastFromU32 || port !== this.lastFrom.port) {
        this.lastFrom = { address: u32ToIpv4(addr), port };
        this.lastFromU32 = addr;
      }
      try {
        handler(this.lastFrom, new Uint8Array(ab, meta[m]!, meta[m + 1]!));
      } catch (err) {
        if (!failed) {
          failed = true;
          failure = err;
        }
      }
    }
    if (failed) throw failure;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.handler = undefined;
    openSockets.delete(this);
    this.addon.close(this.handle, this.resolveClosed);
  }

  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  /** Tests only: the next `times` sendmmsg calls fail with `errno` (e.g. 11 = EAGAIN). */
  injectSendErrors(errno: number, times: number): void {
    if (!this.closed) this.addon.injectSendErrors(this.handle, errno, times);
  }
}
