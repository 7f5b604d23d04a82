// All streams of one connection: ids and limits (MAX_STREAMS), per-stream and
// connection flow control (MAX_STREAM_DATA / MAX_DATA), RESET_STREAM and
// STOP_SENDING, and the round-robin order in which streams get to send.
// Frame handlers throw TransportError on a peer's protocol violation.
// Stream id bits: 0x1 = server-initiated, 0x2 = unidirectional.
import { SendBuffer } from './send-buffer.ts';
import { RecvBuffer } from './recv-buffer.ts';
import type { RecvSlab } from './recv-slab.ts';
import { RecyclingSlab } from './recv-ring.ts';
import { ErrorCode, TransportError } from '../errors.ts';
import type { Frame } from '../wire/frames.ts';

export interface StreamLimits {
  /** Per-stream receive window we grant (bytes). */
  maxStreamData: number;
  /** Connection receive window we grant (bytes). */
  maxData: number;
  /** Peer-initiated streams we allow, per kind. */
  maxStreamsBidi: number;
  maxStreamsUni: number;
}

export const DEFAULT_LIMITS: StreamLimits = { maxStreamData: 1 << 20, maxData: 16 << 20, maxStreamsBidi: 1000, maxStreamsUni: 1000 };

export type StreamEvent =
  | { type: 'stream_opened'; id: number }
  | { type: 'stream_readable'; id: number }
  | { type: 'stream_writable'; id: number }
  | { type: 'stream_reset'; id: number; code: number }
  | { type: 'stream_stop_sending'; id: number; code: number };

interface SendSide {
  buf: SendBuffer;
  maxData: number;
  fin: boolean;
  finSent: boolean;
  finAcked: boolean;
  finPending: boolean;
  reset?: { code: number; pending: boolean; acked: boolean };
  blocked: boolean; // writable event owed
}
interface RecvSide {
  buf: RecvBuffer;
  maxData: number;
  finalSize?: number;
  finRead: boolean;
  reset?: number;
  stopSending?: { code: number; pending: boolean };
  maxDataPending: boolean;
}
export interface Stream { id: number; send?: SendSide; recv?: RecvSide }

/** What a sent packet remembers about a stream frame, to ack or re-send it. */
export interface SentStreamFrame { id: number; offset: number; len: number; fin: boolean }

export const isUni = (id: number): boolean => (id & 2) !== 0;
export const isServerInitiated = (id: number): boolean => (id & 1) !== 0;

export class Streams {
  readonly streams = new Map<number, Stream>();
  private nextLocal = { bidi: 0, uni: 0 };
  private peerOpened = { bidi: 0, uni: 0 }; // count of peer streams opened
  /** How many streams of each kind the peer lets us open. */
  peerMaxStreams = { bidi: 0, uni: 0 };
  localMaxStreams: { bidi: number; uni: number };
  private maxStreamsPending = { bidi: false, uni: false };
  /** Connection flow control. */
  peerMaxData = 0;
  sentData = 0;
  localMaxData: number;
  private recvData = 0;
  private consumedData = 0;
  maxDataPending = false;
  peerStreamMaxData = 0; // initial MAX_STREAM_DATA the peer grants per stream
  readonly sendQueue = new Set<number>();
  /** Streams that may owe MAX_STREAM_DATA / RESET_STREAM / STOP_SENDING (so no scan over all streams per packet). */
  private readonly controlIds = new Set<number>();
  /** Where stream events go (the connection's event queue). */
  emit: (e: StreamEvent) => void = () => {};
  sendBufferBytes = 1 << 20;
  /** Set when received data must be copied (TransportConfig.copyReceivedData): every receive buffer copies into it. */
  recvSlab: RecvSlab | undefined;

  constructor(readonly isClient: boolean, readonly local: StreamLimits, peer: StreamLimits) {
    this.localMaxStreams = { bidi: local.maxStreamsBidi, uni: local.maxStreamsUni };
    this.localMaxData = local.maxData;
    this.peerMaxStreams = { bidi: peer.maxStreamsBidi, uni: peer.maxStreamsUni };
    this.peerMaxData = peer.maxData;
    this.peerStreamMaxData = peer.maxStreamData;
  }

  private isLocal(id: number): boolean { return isServerInitiated(id) !== this.isClient; }

  /** Open a local stream; undefined when the peer's MAX_STREAMS does not allow it yet. */
  open(bidi: boolean): number | undefined {
    const kind = bidi ? 'bidi' : 'uni';
    if (this.nextLocal[kind] >= this.peerMaxStreams[kind]) return undefined;
    const id = this.nextLocal[kind]++ * 4 + (this.isClient ? 0 : 1) + (bidi ? 0 : 2);
    this.create(id);
    return id;
  }

  private create(id: number): Stream {
    const s: Stream = { id };
    const local = this.isLocal(id);
    if (local || !isUni(id)) s.send = { buf: new SendBuffer(), maxData: this.peerStreamMaxData, fin: false, finSent: false, finAcked: false, finPending: false, blocked: false };
    if (!local || !isUni(id)) s.recv = { buf: new RecvBuffer(this.recvSlab), maxData: this.local.maxStreamData, finRead: false, maxDataPending: false };
    this.streams.set(id, s);
    return s;
  }

  /** The stream for a frame from the peer; opens peer streams implicitly (and all lower ones of that kind). */
  private forPeerFrame(id: number, needs: 'send' | 'recv', frameType: number): Stream | undefined {
    const s = this.streams.get(id);
    if (s) {
      if (!s[needs]) throw new TransportError(ErrorCode.STREAM_STATE_ERROR, `stream ${id} has no ${needs} side`, frameType);
      return s;
    }
    if (this.isLocal(id)) {
      const kind = isUni(id) ? 'uni' : 'bidi';
      if (Math.floor(id / 4) >= this.nextLocal[kind]) throw new TransportError(ErrorCode.STREAM_STATE_ERROR, `stream ${id} not opened by us`, frameType);
      return undefined; // closed and forgotten
    }
    const kind = isUni(id) ? 'uni' : 'bidi';
    const n = Math.floor(id / 4);
    if (n < this.peerOpened[kind]) return undefined; // closed and forgotten
    if (n >= this.localMaxStreams[kind]) throw new TransportError(ErrorCode.STREAM_LIMIT_ERROR, `stream ${id} beyond MAX_STREAMS ${this.localMaxStreams[kind]}`, frameType);
    for (let k = this.peerOpened[kind]; k <= n; k++) {
      const sid = k * 4 + (this.isClient ? 1 : 0) + (kind === 'uni' ? 2 : 0);
      this.create(sid);
      this.emit({ type: 'stream_opened', id: sid });
    }
    this.peerOpened[kind] = n + 1;
    const created = this.streams.get(id)!;
    if (!created[needs]) throw new TransportError(ErrorCode.STREAM_STATE_ERROR, `stream ${id} has no ${needs} side`, frameType);
    return created;
  }

  // ---- frames from the peer ----

  handleStream(f: Extract<Frame, { type: 'stream' }>): void {
    const s = this.forPeerFrame(f.id, 'recv', 0x08);
    if (!s) return;
    const r = s.recv!;
    const end = f.offset + f.data.length;
    const wasReadable = r.buf.readable() || this.finReadable(r);
    if (r.finalSize !== undefined && (end > r.finalSize || (f.fin && end !== r.finalSize))) throw new TransportError(ErrorCode.FINAL_SIZE_ERROR, `stream ${f.id} data beyond final size`, 0x08);
    if (f.fin) {
      if (end < r.buf.highest) throw new TransportError(ErrorCode.FINAL_SIZE_ERROR, `stream ${f.id} final size below received data`, 0x08);
      r.finalSize = end;
    }
    if (end > r.maxData) throw new TransportError(ErrorCode.FLOW_CONTROL_ERROR, `stream ${f.id}: offset ${end} beyond MAX_STREAM_DATA ${r.maxData}`, 0x08);
    if (r.reset !== undefined) return;
    const grew = r.buf.insert(f.offset, f.data);
    this.recvData += grew;
    if (this.recvData > this.localMaxData) throw new TransportError(ErrorCode.FLOW_CONTROL_ERROR, `connection data ${this.recvData} beyond MAX_DATA ${this.localMaxData}`, 0x08);
    if (!wasReadable && (r.buf.readable() || this.finReadable(r))) this.emit({ type: 'stream_readable', id: f.id });
  }

  private finReadable(r: RecvSide): boolean { return r.finalSize !== undefined && r.buf.readOffset === r.finalSize && !r.finRead; }

  handleResetStream(f: Extract<Frame, { type: 'reset_stream' }>): void {
    const s = this.forPeerFrame(f.id, 'recv', 0x04);
    if (!s) return;
    const r = s.recv!;
    if (r.finalSize !== undefined && r.finalSize !== f.finalSize) throw new TransportError(ErrorCode.FINAL_SIZE_ERROR, `stream ${f.id} reset with a different final size`, 0x04);
    if (f.finalSize < r.buf.highest || f.finalSize > r.maxData) throw new TransportError(ErrorCode.FINAL_SIZE_ERROR, `stream ${f.id} reset final size ${f.finalSize} inconsistent`, 0x04);
    if (r.reset !== undefined) return;
    this.recvData += f.finalSize - r.buf.highest;
    this.consumedData += f.finalSize - r.buf.readOffset;
    r.finalSize = f.finalSize;
    r.reset = f.code;
    this.emit({ type: 'stream_reset', id: f.id, code: f.code });
    this.maybeForget(s);
  }

  handleStopSending(f: Extract<Frame, { type: 'stop_sending' }>): void {
    const s = this.forPeerFrame(f.id, 'send', 0x05);
    if (!s) return;
    if (!s.send!.reset) {
      this.emit({ type: 'stream_stop_sending', id: f.id, code: f.code });
      this.reset(f.id, f.code);
    }
  }

  handleMaxStreamData(f: Extract<Frame, { type: 'max_stream_data' }>): void {
    const s = this.forPeerFrame(f.id, 'send', 0x11);
    if (!s) return;
    if (f.max > s.send!.maxData) {
      s.send!.maxData = f.max;
      if (s.send!.buf.hasPending(f.max)) this.sendQueue.add(f.id);
    }
  }

  handleMaxData(max: number): void {
    if (max > this.peerMaxData) {
      this.peerMaxData = max;
      for (const [id, s] of this.streams) if (s.send && s.send.buf.hasPending(s.send.maxData)) this.sendQueue.add(id);
    }
  }

  handleMaxStreams(bidi: boolean, max: number): void {
    const kind = bidi ? 'bidi' : 'uni';
    if (max > this.peerMaxStreams[kind]) this.peerMaxStreams[kind] = max;
  }

  // ---- application commands ----

  get(id: number): Stream | undefined { return this.streams.get(id); }

  write(id: number, data: Uint8Array): void {
    const s = this.streams.get(id);
    if (!s?.send) throw new Error(`stream ${id} is not writable`);
    if (s.send.fin || s.send.reset) throw new Error(`stream ${id} already finished or reset`);
    s.send.buf.write(data);
    if (s.send.buf.unacked > this.sendBufferBytes) s.send.blocked = true;
    this.sendQueue.add(id);
  }

  /** Whether the application should wait for `stream_writable` before writing more. */
  writeBlocked(id: number): boolean {
    const s = this.streams.get(id);
    return !!s?.send && s.send.buf.unacked > this.sendBufferBytes;
  }

  finish(id: number): void {
    const s = this.streams.get(id);
    if (!s?.send) throw new Error(`stream ${id} is not writable`);
    if (s.send.fin || s.send.reset) return;
    s.send.fin = true;
    s.send.finPending = true;
    this.sendQueue.add(id);
  }

  reset(id: number, code: number): void {
    const s = this.streams.get(id);
    if (!s?.send || s.send.reset || s.send.finAcked) return;
    s.send.reset = { code, pending: true, acked: false };
    this.controlIds.add(id);
    s.send.buf.clear();
    this.sendQueue.delete(id);
  }

  stopSending(id: number, code: number): void {
    const s = this.streams.get(id);
    if (!s?.recv || s.recv.reset !== undefined || s.recv.stopSending) return;
    s.recv.stopSending = { code, pending: true };
    this.controlIds.add(id);
  }

  /**
   * Recycled reads for a peer's stream (TransportStream.readRecycled): from now on its data is
   * copied into a RecyclingSlab whose memory returns once the reader release()s each view read
   * (data buffered before stays where it is; releasing it is a no-op). False: no such stream.
   */
  setRecycledRead(id: number): boolean {
    const r = this.streams.get(id)?.recv;
    if (!r) return false;
    if (!(r.buf.slab instanceof RecyclingSlab)) r.buf.slab = new RecyclingSlab();
    return true;
  }

  /** The reader of a recycled stream is done with `view` (read from it); other streams: nothing. */
  release(id: number, view: Uint8Array): void {
    const slab = this.streams.get(id)?.recv?.buf.slab;
    if (slab instanceof RecyclingSlab) slab.release(view);
  }

  /** Read contiguous data; `null` = end of stream (FIN), undefined = nothing now. */
  read(id: number, max = Infinity): Uint8Array | null | undefined {
    const s = this.streams.get(id);
    const r = s?.recv;
    if (!r) return undefined;
    if (r.reset !== undefined) return undefined;
    const data = r.buf.read(max);
    if (data) {
      this.consumedData += data.length;
      // window updates when half the window is consumed
      if (r.finalSize === undefined && r.maxData - r.buf.readOffset < this.local.maxStreamData / 2) {
        r.maxData = r.buf.readOffset + this.local.maxStreamData;
        r.maxDataPending = true;
        this.controlIds.add(id);
      }
      if (this.localMaxData - this.consumedData < this.local.maxData / 2) {
        this.localMaxData = this.consumedData + this.local.maxData;
        this.maxDataPending = true;
      }
      return data;
    }
    if (this.finReadable(r)) { r.finRead = true; this.maybeForget(s!); return null; }
    return undefined;
  }

  /**
   * What a connection close leaves of a stream (for the API's close semantics):
   * `recvComplete` = no receive half, FIN already read, or the peer's FIN and every
   * byte before it are here (still readable after the close); `sendUnacked` = bytes
   * written and not acknowledged, plus 1 for an unacknowledged FIN; `finished` = the
   * application ended its send half (or it has none). A forgotten stream is complete.
   */
  closeState(id: number): { recvComplete: boolean; sendUnacked: number; finished: boolean } {
    const s = this.streams.get(id);
    const r = s?.recv, w = s?.send;
    const recvComplete = !r || r.finRead || (r.reset === undefined && r.finalSize !== undefined && r.buf.buffered === r.finalSize - r.buf.readOffset);
    if (!w || w.reset) return { recvComplete, sendUnacked: 0, finished: true };
    return { recvComplete, sendUnacked: w.buf.unacked + (w.fin && !w.finAcked ? 1 : 0), finished: w.fin };
  }

  // ---- sending ----

  /** Flow-control limit for new bytes on this stream right now. */
  sendLimit(s: Stream): number {
    const send = s.send!;
    return Math.min(send.maxData, send.buf.nextNew + Math.max(0, this.peerMaxData - this.sentData));
  }

  /** Account for new bytes sent (connection flow control). */
  onNewBytesSent(n: number): void { this.sentData += n; }

  onStreamFrameAcked(f: SentStreamFrame): void {
    const s = this.streams.get(f.id);
    if (!s?.send) return;
    s.send.buf.onAck(f.offset, f.len);
    if (f.fin) s.send.finAcked = true;
    if (s.send.blocked && s.send.buf.unacked <= this.sendBufferBytes / 2) {
      s.send.blocked = false;
      this.emit({ type: 'stream_writable', id: f.id });
    }
    this.maybeForget(s);
  }

  onStreamFrameLost(f: SentStreamFrame): void {
    const s = this.streams.get(f.id);
    if (!s?.send || s.send.reset) return;
    s.send.buf.onLost(f.offset, f.len);
    if (f.fin && !s.send.finAcked) s.send.finPending = true;
    this.sendQueue.add(f.id);
  }

  /** Control frames owed to the peer (each call drains them; the caller re-flags on loss). */
  pendingControl(): Frame[] {
    const out: Frame[] = [];
    if (this.maxDataPending) { this.maxDataPending = false; out.push({ type: 'max_data', max: this.localMaxData }); }
    for (const kind of ['bidi', 'uni'] as const) {
      if (this.maxStreamsPending[kind]) { this.maxStreamsPending[kind] = false; out.push({ type: 'max_streams', bidi: kind === 'bidi', max: this.localMaxStreams[kind] }); }
    }
    for (const id of this.controlIds) {
      const s = this.streams.get(id);
      if (!s) continue;
      if (s.recv?.maxDataPending) { s.recv.maxDataPending = false; out.push({ type: 'max_stream_data', id: s.id, max: s.recv.maxData }); }
      if (s.send?.reset?.pending) { s.send.reset.pending = false; out.push({ type: 'reset_stream', id: s.id, code: s.send.reset.code, finalSize: s.send.buf.written }); }
      if (s.recv?.stopSending?.pending) { s.recv.stopSending.pending = false; out.push({ type: 'stop_sending', id: s.id, code: s.recv.stopSending.code }); }
    }
    this.controlIds.clear(); // everything drained (losses re-flag through onControlLost)
    return out;
  }

  hasPendingControl(): boolean {
    if (this.maxDataPending || this.maxStreamsPending.bidi || this.maxStreamsPending.uni) return true;
    if (this.controlIds.size === 0) return false;
    for (const id of this.controlIds) {
      const s = this.streams.get(id);
      if (s && (s.recv?.maxDataPending || s.recv?.stopSending?.pending || s.send?.reset?.pending)) return true;
      this.controlIds.delete(id); // nothing pending any more: forget it
    }
    return false;
  }

  onControlLost(f: Frame): void {
    if (f.type === 'max_data') this.maxDataPending = true;
    else if (f.type === 'max_streams') this.maxStreamsPending[f.bidi ? 'bidi' : 'uni'] = true;
    else if (f.type === 'max_stream_data') { const r = this.streams.get(f.id)?.recv; if (r && r.finalSize === undefined) { r.maxDataPending = true; this.controlIds.add(f.id); } }
    else if (f.type === 'stop_sending') { const r = this.streams.get(f.id)?.recv; if (r?.stopSending && r.reset === undefined) { r.stopSending.pending = true; this.controlIds.add(f.id); } }
    else if (f.type === 'reset_stream') { const s = this.streams.get(f.id)?.send; if (s?.reset && !s.reset.acked) { s.reset.pending = true; this.controlIds.add(f.id); } }
  }

  onControlAcked(f: Frame): void {
    if (f.type === 'reset_stream') {
      const s = this.streams.get(f.id);
      if (s?.send?.reset) { s.send.reset.acked = true; this.maybeForget(s); }
    }
  }

  /** Forget a stream whose both halves are finished; peer streams free a MAX_STREAMS slot. */
  private maybeForget(s: Stream): void {
    const sendDone = !s.send || s.send.finAcked || !!s.send.reset?.acked;
    const recvDone = !s.recv || s.recv.finRead || s.recv.reset !== undefined;
    if (!sendDone || !recvDone) return;
    this.streams.delete(s.id);
    this.sendQueue.delete(s.id);
    if (!this.isLocal(s.id)) {
      const kind = isUni(s.id) ? 'uni' : 'bidi';
      this.localMaxStreams[kind]++;
      this.maxStreamsPending[kind] = true;
    }
  }
}
