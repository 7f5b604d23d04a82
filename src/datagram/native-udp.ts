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
// Batched (batch.ts): onBatch(handler) switches the addon to batch mode — no copy and no
// split: one handler call per recvmmsg with one run per received datagram or GRO
// super-datagram, read in place from the addon's receive arena (a JS ArrayBuffer, so a
// view kept past the call is memory-safe, but its bytes change at the next receive; a
// consumer that transfers the arena away — structuredClone/postMessage with a transfer
// list — only loses batch mode: the addon sees it detached before its next recvmmsg and
// reads into a private arena in copied mode from then on, dropping staged ARENA_REF sends);
// sendRun(to, bytes, segmentSize) copies a run into staging in one TypedArray.set with one
// sendMeta entry per segment, which the flush coalesces into GSO messages as any other run —
// except that during a batch handler call, a run that is a view of that batch (forwarding
// what was just received) is not copied at all: its entries name the arena (ARENA_REF) and
// the socket flushes when the handler returns, before the next recvmmsg reuses the arena.
import { createRequire } from 'node:module';
import { getSystemErrorName, inspect } from 'node:util';
import { ipv4ToU32, u32ToIpv4 } from '../wire/ipv4-address.ts';
import type { DatagramHandler, UdpAddress } from '../wire/socket.ts';
import { segmentCount, SingleDatagramBatch, validRun, type BatchHandler, type DatagramBatch } from './batch.ts';
import { DEFAULT_RECV_BUFFER, MAX_UDP_PAYLOAD, UdpSocket, validPort, type BindUdpOptions, type UdpCounters } from './udp-socket.ts';

/** The addon's exports (src/datagram/native/tincan_udp.c). */
interface NativeAddon {
  /** onRecv(ab, datagrams) per copied batch; onRecv(undefined, runs, 1) per batch-mode recvmmsg (runs in the arena). */
  open(addr: number, port: number, rcvbuf: number, sndbuf: number, flags: number, onRecv: (ab: ArrayBuffer | undefined, count: number, kind?: number) => void):
    [NativeHandle, ArrayBuffer, ArrayBuffer, ArrayBuffer, ArrayBuffer, number, number, number, number, ArrayBuffer] | number;
  flush(handle: NativeHandle, count: number): void;
  recvMode(handle: NativeHandle, mode: 0 | 1): void;
  busyPoll(handle: NativeHandle, us: number): void;
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
/** u32 slots per run in recvMeta in batch mode (RUN_META_STRIDE in tincan_udp.h). */
const RUN_STRIDE = 8;
/** sendMeta offset flag: the bytes are in the receive arena (ARENA_REF in tincan_udp.h). */
const ARENA_REF = 0x80000000;
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
  /** JS calls with received datagrams (one fresh ArrayBuffer each; batch mode: one call per recvmmsg, runs in place). */
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
  private batchHandler: BatchHandler | undefined;
  private readonly batch: NativeBatch;
  private single: SingleDatagramBatch | undefined;
  /** The receive arena's ArrayBuffer; inBatch: a batch handler is running; arenaStaged: staged entries name the arena. */
  private readonly arena: ArrayBuffer;
  private inBatch = false;
  private arenaStaged = false;
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
    const busy = opts.busyPollUs !== undefined && Number.isInteger(opts.busyPollUs) && opts.busyPollUs > 0 ? Math.min(opts.busyPollUs, 1000) : 0;
    const flags = (opts.gro === false ? 0 : 1) | (opts.gso === false ? 0 : 2) | ((Number.isInteger(batches) && batches >= 1 && batches <= 64 ? batches : 0) << 8) | (busy << 16);
    // buffer sizes are best effort, as with node:dgram: a nonsensical request is no request (0)
    const size = (n: number | undefined) => (n !== undefined && Number.isInteger(n) && n > 0 ? Math.min(n, 2 ** 30) : 0);
    const rcvbuf = size(opts.recvBufferSize ?? DEFAULT_RECV_BUFFER), sndbuf = size(opts.sendBufferSize);
    const r = addon.open(ipv4ToU32(address), port, rcvbuf, sndbuf, flags, (ab, n, kind) => (kind === 1 ? this.onRuns(n) : this.onCopied(ab!, n)));
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
    this.arena = r[9];
    this.batch = new NativeBatch(new Uint8Array(r[9]), this.recvMeta, this);
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

  /** The destination as a host-order u32 (the last one cached: senders repeat it), or -1 when it is not a dotted quad. */
  private destination(address: string): number {
    if (address === this.lastTo) return this.lastToU32;
    let addr: number;
    try {
      addr = ipv4ToU32(address);
    } catch {
      return -1;
    }
    this.lastTo = address;
    this.lastToU32 = addr;
    return addr;
  }

  private stage(to: UdpAddress, bytes: Uint8Array): void {
    const len = bytes.length;
    const port = to.port;
    if (this.closed || !(len <= MAX_UDP_PAYLOAD) || port === 0 || !validPort(port)) {
      this.ctr[C_DROPPED]++;
      return;
    }
    const addr = this.destination(to.address);
    if (addr < 0) {
      this.ctr[C_DROPPED]++;
      return;
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

  sendRun(to: UdpAddress, bytes: Uint8Array, segmentSize: number): void {
    const len = bytes.length;
    const inArena = this.inBatch && bytes.buffer === this.arena;
    if (segmentSize >= len && validRun(len, segmentSize) && !inArena) { this.stage(to, bytes); return; }
    const port = to.port;
    if (this.closed || !validRun(len, segmentSize) || !(segmentSize <= MAX_UDP_PAYLOAD) || port === 0 || !validPort(port)) {
      this.ctr[C_DROPPED] += segmentCount(len, segmentSize);
      return;
    }
    const addr = this.destination(to.address);
    if (addr < 0) {
      this.ctr[C_DROPPED] += segmentCount(len, segmentSize);
      return;
    }
    const meta = this.sendMeta;
    if (inArena) {
      // no copy: the entries name the arena; onRuns flushes before the arena is reused
      const seg = segmentSize >= len ? Math.max(len, 1) : segmentSize;
      const base = bytes.byteOffset, end = base + len;
      let off = base;
      do {
        if (this.count === this.metaCap) this.flush();
        const m = this.count << 2;
        meta[m] = (ARENA_REF | off) >>> 0;
        meta[m + 1] = Math.min(seg, end - off);
        meta[m + 2] = addr;
        meta[m + 3] = port;
        this.count++;
        off += seg;
      } while (off < end);
      this.arenaStaged = true;
      return;
    }
    let src = 0;
    while (src < len) {
      // as many whole segments as staging and sendMeta hold (at least one after a flush)
      let room = Math.min(this.metaCap - this.count, Math.floor((this.stagingBytes - this.used) / segmentSize));
      if (room <= 0) {
        this.flush();
        room = Math.min(this.metaCap, Math.floor(this.stagingBytes / segmentSize));
      }
      const take = Math.min(len - src, room * segmentSize);
      let off = this.used;
      this.staging.set(bytes.subarray(src, src + take), off);
      const end = off + take;
      let m = this.count << 2;
      for (; off < end; off += segmentSize, m += 4) {
        meta[m] = off;
        meta[m + 1] = Math.min(segmentSize, end - off);
        meta[m + 2] = addr;
        meta[m + 3] = port;
      }
      this.count = m >>> 2;
      this.used = end;
      src += take;
    }
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
    this.arenaStaged = false;
    this.addon.flush(this.handle, n);
  }

  /**
   * Change busy polling at run time (BindUdpOptions.busyPollUs: 0 = off, else microseconds
   * without a datagram before the socket sleeps again, at most 1000; anything else counts as 0).
   * Takes effect from the next read, also inside a wake-up that is already polling.
   */
  setBusyPoll(us: number): void {
    if (this.closed || typeof this.addon.busyPoll !== 'function') return; // an addon built before busyPoll: no change
    this.addon.busyPoll(this.handle, Number.isInteger(us) && us > 0 ? Math.min(us, 1000) : 0);
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
    if (this.batchHandler !== undefined && !this.closed) this.addon.recvMode(this.handle, 0);
    this.batchHandler = undefined;
  }

  onBatch(handler: BatchHandler): void {
    this.batchHandler = handler;
    this.handler = undefined;
    if (!this.closed) this.addon.recvMode(this.handle, 1);
  }

  /** The sender of a run / datagram: the previous object while it stays the same. */
  sender(addr: number, port: number): UdpAddress {
    if (addr !== this.lastFromU32 || port !== this.lastFrom.port) {
      this.lastFrom = { address: u32ToIpv4(addr), port };
      this.lastFromU32 = addr;
    }
    return this.lastFrom;
  }

  /** Batch mode: `n` runs in the arena, described in recvMeta. */
  private onRuns(n: number): void {
    if (this.closed) return;
    const b = this.batch;
    b.runs = Math.min(n, b.maxRuns);
    const h = this.batchHandler;
    if (h !== undefined) {
      this.inBatch = true;
      try {
        h(b);
      } finally {
        this.inBatch = false;
        if (this.arenaStaged) this.flush(); // the next recvmmsg overwrites the arena
      }
      return;
    }
    // switched to onDatagram since the addon read the mode: a copy per datagram, as that path promises
    for (let r = 0; r < b.runs; r++) {
      const off = b.offset(r), len = b.length(r), seg = b.segmentSize(r), from = b.from(r);
      for (let p = off, end = off + len; ; p += seg) {
        const handler = this.handler;
        if (handler === undefined || this.closed) return;
        handler(from, b.bytes.slice(p, Math.min(end, p + seg)));
        if (seg === 0 || p + seg >= end) break;
      }
    }
  }

  /** Copied mode: `n` datagrams in the fresh `ab`, described in recvMeta. */
  private onCopied(ab: ArrayBuffer, n: number): void {
    const meta = this.recvMeta;
    let failed = false;
    let failure: unknown;
    for (let i = 0, m = 0; i < n; i++, m += 4) {
      const handler = this.handler;
      const batchHandler = handler === undefined ? this.batchHandler : undefined;
      if ((handler === undefined && batchHandler === undefined) || this.closed) break;
      const from = this.sender(meta[m + 2]!, meta[m + 3]!);
      try {
        const bytes = new Uint8Array(ab, meta[m]!, meta[m + 1]!);
        // switched to onBatch since the addon read the mode: a batch of one per datagram
        if (handler !== undefined) handler(from, bytes);
        else batchHandler!((this.single ??= new SingleDatagramBatch()).set(from, bytes));
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
    this.batchHandler = undefined;
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

/**
 * A batch-mode receive batch: runs in the addon's arena, described in recvMeta (offset,
 * length, segment size, address, port per run). One reused object per socket; every
 * accessor clamps what it reads, so a corrupted meta slot can never describe bytes outside
 * the arena (the addon writes only in-bounds values; this is defence in depth).
 */
class NativeBatch implements DatagramBatch {
  runs = 0;
  readonly maxRuns: number;

  constructor(readonly bytes: Uint8Array, private readonly meta: Uint32Array, private readonly sock: NativeUdpSocket) {
    this.maxRuns = Math.floor(meta.length / RUN_STRIDE);
  }

  offset(run: number): number {
    return Math.min(this.meta[run * RUN_STRIDE]!, this.bytes.length);
  }

  length(run: number): number {
    return Math.min(this.meta[run * RUN_STRIDE + 1]!, this.bytes.length - this.offset(run));
  }

  segmentSize(run: number): number {
    const seg = this.meta[run * RUN_STRIDE + 2]!;
    const len = this.length(run);
    return seg === 0 && len > 0 ? len : Math.min(seg, len);
  }

  from(run: number): UdpAddress {
    return this.sock.sender(this.meta[run * RUN_STRIDE + 3]!, this.meta[run * RUN_STRIDE + 4]!);
  }
}
