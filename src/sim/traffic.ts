// Traffic generators for scenarios, written only against DatagramSocket + Clock (so
// they would run over real UDP too): a constant-rate UDP flow into a measuring sink,
// and ping-pong (echo) with RTT measurement. Payload layout of both (big-endian):
// [0..4) flow id, [4..8) sequence number, [8..16) send time (float64 ms), then zero
// padding up to the requested size (minimum 16 bytes).
import type { Clock, DatagramSocket, UdpAddress } from '../wire/socket.ts';

export const PROBE_HEADER_BYTES = 16;
const MAX_SAMPLES = 100_000;

export interface LatencyStats {
  samples: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function latencyStats(samples: number[]): LatencyStats | undefined {
  if (samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    samples: s.length, minMs: round(s[0]), meanMs: round(s.reduce((a, b) => a + b, 0) / s.length),
    p50Ms: round(q(0.5)), p99Ms: round(q(0.99)), maxMs: round(s[s.length - 1]),
  };
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A reusable probe buffer: send() copies the payload, so one buffer per generator suffices. */
class ProbeWriter {
  readonly buf: Uint8Array;
  constructor(size: number) {
    this.buf = new Uint8Array(Math.max(PROBE_HEADER_BYTES, size));
  }
  /** Byte stores (no DataView: one object less to touch per probe). */
  write(flowId: number, seq: number, nowMs: number): Uint8Array {
    const b = this.buf;
    b[0] = flowId >>> 24;
    b[1] = flowId >>> 16;
    b[2] = flowId >>> 8;
    b[3] = flowId;
    b[4] = seq >>> 24;
    b[5] = seq >>> 16;
    b[6] = seq >>> 8;
    b[7] = seq;
    f64[0] = nowMs;
    for (let i = 0; i < 8; i++) b[8 + i] = f64Bytes[LITTLE_ENDIAN ? 7 - i : i];
    return b;
  }
}
const be32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** Probe field readers (no allocation); flow id -1 when the datagram is too short. */
function probeFlowId(bytes: Uint8Array): number {
  return bytes.length < PROBE_HEADER_BYTES ? -1 : be32(bytes, 0);
}
function probeSeq(bytes: Uint8Array): number {
  return be32(bytes, 4);
}
function probeSentMs(bytes: Uint8Array): number {
  for (let i = 0; i < 8; i++) f64Bytes[LITTLE_ENDIAN ? 7 - i : i] = bytes[8 + i];
  return f64[0];
}

/** Set of sequence numbers seen (a growable bitmap: no per-entry allocation). */
class SeqSet {
  private bits = new Uint8Array(128);
  /** Adds seq; returns false if it was already present. Sequence numbers above 2^26 are not tracked (treated as new). */
  add(seq: number): boolean {
    if (seq >= 1 << 26) return true;
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      let n = this.bits.length;
      while (n <= byte) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if (this.bits[byte] & mask) return false;
    this.bits[byte] |= mask;
    return true;
  }
}

export interface FlowReport {
  sent: number;
  received: number;
  lost: number;
  lossRate: number;
  duplicates: number;
  reordered: number;
  latency: LatencyStats | undefined;
}

/** Receives probes of one flow: counts unique, duplicate and out-of-order arrivals and one-way latency. */
export class FlowSink {
  received = 0;
  duplicates = 0;
  reordered = 0;
  readonly latenciesMs: number[] = [];
  private readonly seen = new SeqSet();
  private maxSeq = -1;

  constructor(private readonly clock: Clock, private readonly flowId: number) {}

  handle(bytes: Uint8Array): void {
    if (probeFlowId(bytes) !== this.flowId) return;
    const seq = probeSeq(bytes);
    if (!this.seen.add(seq)) {
      this.duplicates++;
      return;
    }
    this.received++;
    if (seq < this.maxSeq) this.reordered++;
    else this.maxSeq = seq;
    if (this.latenciesMs.length < MAX_SAMPLES) this.latenciesMs.push(this.clock.now() - probeSentMs(bytes));
  }
}

export interface ConstantRateOptions {
  flowId: number;
  /** Packets per second. */
  ratePps: number;
  /** UDP payload bytes per packet (>= 16). */
  sizeBytes: number;
  startMs: number;
  /** Stop sending at this time (exclusive). */
  stopMs: number;
}

/** Sends `ratePps` probes per second from `socket` to `to` between startMs and stopMs. */
export class ConstantRateFlow {
  sent = 0;
  private timer: { cancel(): void } | undefined;
  private readonly probe: ProbeWriter;

  constructor(private readonly clock: Clock, private readonly socket: DatagramSocket, private readonly to: UdpAddress,
    private readonly opts: ConstantRateOptions) {
    this.probe = new ProbeWriter(opts.sizeBytes);
    if (!(opts.ratePps > 0 && opts.ratePps <= 1_000_000)) throw new RangeError(`flow ${opts.flowId}: ratePps must be in (0, 1e6], got ${opts.ratePps}`);
    this.nextMs = opts.startMs;
    this.tickFn = () => this.tick();
    this.timer = clock.setTimer(opts.startMs, this.tickFn);
  }

  private nextMs: number;
  private readonly tickFn: () => void;

  private tick(): void {
    if (this.nextMs >= this.opts.stopMs) return;
    this.socket.send(this.to, this.probe.write(this.opts.flowId, this.sent++, this.clock.now()));
    this.nextMs = this.opts.startMs + (this.sent * 1000) / this.opts.ratePps;
    this.timer = this.clock.setTimer(this.nextMs, this.tickFn);
  }

  stop(): void {
    this.timer?.cancel();
  }

  report(sink: FlowSink): FlowReport {
    const lost = Math.max(0, this.sent - sink.received);
    return {
      sent: this.sent, received: sink.received, lost, lossRate: this.sent === 0 ? 0 : Math.round((lost / this.sent) * 10000) / 10000,
      duplicates: sink.duplicates, reordered: sink.reordered, latency: latencyStats(sink.latenciesMs),
    };
  }
}

/** Echo server: sends every datagram back to where it came from (works through NATs). */
export function startEcho(socket: DatagramSocket): void {
  socket.onDatagram((from, bytes) => socket.send(from, bytes));
}

export interface PingReport {
  sent: number;
  replies: number;
  lossRate: number;
  rtt: LatencyStats | undefined;
}

/** Sends a probe every intervalMs to an echo server and measures round-trip times. */
export class Pinger {
  sent = 0;
  replies = 0;
  readonly rttsMs: number[] = [];
  private readonly seen = new SeqSet();
  private timer: { cancel(): void } | undefined;
  private readonly probe: ProbeWriter;

  constructor(private readonly clock: Clock, private readonly socket: DatagramSocket, private readonly to: UdpAddress,
    private readonly opts: { flowId: number; intervalMs: number; sizeBytes: number; startMs: number; stopMs: number }) {
    this.probe = new ProbeWriter(opts.sizeBytes);
    if (!(opts.intervalMs > 0)) throw new RangeError(`ping ${opts.flowId}: intervalMs must be > 0`);
    const flowId = opts.flowId;
    socket.onDatagram((_from, bytes) => {
      if (probeFlowId(bytes) !== flowId || !this.seen.add(probeSeq(bytes))) return;
      this.replies++;
      if (this.rttsMs.length < MAX_SAMPLES) this.rttsMs.push(this.clock.now() - probeSentMs(bytes));
    });
    this.flowId = opts.flowId;
    this.intervalMs = opts.intervalMs;
    this.stopMs = opts.stopMs;
    this.nextMs = opts.startMs;
    this.tickFn = () => this.tick();
    this.timer = clock.setTimer(opts.startMs, this.tickFn);
  }

  private nextMs: number;
  // copies of opts fields read per probe (one object less to touch)
  private readonly flowId: number;
  private readonly intervalMs: number;
  private readonly stopMs: number;
  private readonly tickFn: () => void;

  private tick(): void {
    if (this.nextMs >= this.stopMs) return;
    this.socket.send(this.to, this.probe.write(this.flowId, this.sent++, this.clock.now()));
    this.nextMs += this.intervalMs;
    this.timer = this.clock.setTimer(this.nextMs, this.tickFn);
  }

  stop(): void {
    this.timer?.cancel();
  }

  report(): PingReport {
    return {
      sent: this.sent, replies: this.replies,
      lossRate: this.sent === 0 ? 0 : Math.round(((this.sent - this.replies) / this.sent) * 10000) / 10000,
      rtt: latencyStats(this.rttsMs),
    };
  }
}
