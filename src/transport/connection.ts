// One transport connection, sans-IO (quinn-proto style).
// Inputs:  handleDatagram(now, from, bytes) / handlePacket(...), handleTimeout(now),
//          application commands (openStream, write, finish, read, reset, sendDatagram, close).
// Outputs: pollTransmit(now) -> one datagram to send, pollTimeout() -> next wake-up,
//          pollEvent() -> ConnectionEvent.
// Two packet-number spaces: 'handshake' (long headers, CRYPTO frames carrying
// the session layer's handshake messages) and 'app' (short headers protected
// with the negotiated PacketKeys). Loss detection and PTO follow RFC 9002;
// lost frames (not packets) are re-sent. See docs/protocol/transport.md.
import type { Millis, UdpAddress } from '../wire/socket.ts';
import { sameAddress } from '../wire/socket.ts';
import { MAX_HANDSHAKE_MESSAGE, type CryptoHandshake, type HandshakeResult, type PacketKeys } from './crypto.ts';
import type { TransportConfig } from './config.ts';
import { ErrorCode, TransportError } from './errors.ts';
import { DecodeError } from './wire/errors.ts';
import { decodeFrames, encodeFrame, frameLen, isAckEliciting, streamFrameOverhead, type Frame } from './wire/frames.ts';
import { Writer } from './wire/cursor.ts';
import { decodePacketNumber, encodeLongPacket, longPacketLen, parseDatagram, writeShortHeader, SHORT_HEADER_LEN, type LongPacket, type Packet, type ShortPacket } from './wire/header.ts';
import { AckManager } from './ack-manager.ts';
import { RttEstimator } from './rtt.ts';
import { SentPackets, type SentFrame, type SentPacket } from './sent-packets.ts';
import { Streams, type StreamEvent } from './streams/streams.ts';
import { SendBuffer } from './streams/send-buffer.ts';
import { RecvBuffer } from './streams/recv-buffer.ts';
import type { CongestionController } from './congestion/types.ts';
import { Pacer } from './pacing.ts';
import { TimerTable } from './timers.ts';
import { MtuDiscovery } from './mtu.ts';
import { DeliveryRate } from './delivery-rate.ts';
import { PacketSlab } from './packet-slab.ts';
import { RecvSlab } from './streams/recv-slab.ts';

export interface Transmit { to: UdpAddress; bytes: Uint8Array }

export type ConnectionEvent =
  | StreamEvent
  | { type: 'connected'; peerStatic?: Uint8Array }
  | { type: 'datagram'; data: Uint8Array }
  | { type: 'path_validated'; address: UdpAddress }
  | { type: 'closed'; code: number; reason: string; remote: boolean; app: boolean; cause?: unknown };

export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';
type SpaceName = 'handshake' | 'app';

class Space {
  nextPn = 0;
  readonly sent = new SentPackets();
  largestAcked = -1;
  lossTime: Millis | undefined;
  lastAckElicitingSent: Millis | undefined;
  discarded = false;
  /** ack-eliciting probe packets owed after a PTO */
  probes = 0;
  constructor(readonly name: SpaceName, readonly ack: AckManager) {}
}

export interface ConnectionOptions {
  side: 'client' | 'server';
  config: TransportConfig;
  now: Millis;
  handshake: CryptoHandshake;
  localCid: Uint8Array;
  remoteCid: Uint8Array;
  remote: UdpAddress;
  /** Server: address already validated by a Retry token. */
  addressValidated?: boolean;
}

const CRYPTO_WINDOW = 4 * MAX_HANDSHAKE_MESSAGE;
const EMPTY = new Uint8Array(0);
const MIN_INITIAL_DATAGRAM = 1200;
const HANDSHAKE_FRAMES = new Set<Frame['type']>(['padding', 'ping', 'ack', 'crypto', 'connection_close']);

export class Connection {
  readonly side: 'client' | 'server';
  state: ConnectionState = 'handshake';
  readonly localCid: Uint8Array;
  remoteCid: Uint8Array;
  remote: UdpAddress;
  peerStatic: Uint8Array | undefined;
  readonly streams: Streams;
  readonly rtt: RttEstimator;
  cc: CongestionController;
  bytesInFlight = 0;
  readonly stats = { packetsSent: 0, packetsReceived: 0, packetsLost: 0, bytesSent: 0, bytesReceived: 0, packetsDropped: 0, ptoCount: 0 };
  closeInfo: { code: number; reason: string; remote: boolean; app: boolean } | undefined;

  private readonly config: TransportConfig;
  private readonly handshake: CryptoHandshake;
  private readonly spaces: Record<SpaceName, Space>;
  private readonly spaceList: Space[];
  private readonly cryptoSend = new SendBuffer();
  private readonly cryptoRecv: RecvBuffer;
  private keys: { send: PacketKeys; recv: PacketKeys } | undefined;
  private keyPhase: 0 | 1 = 0;
  private recvPrev: PacketKeys | undefined;
  private firstPnInPhase = 0;
  private confirmed = false;
  private handshakeDonePending = false;
  private gotServerPacket = false; // client: has heard from the server (switches to Handshake packets)
  private retried = false;
  token: Uint8Array = new Uint8Array(0);
  private ptoCount = 0;
  private readonly events: ConnectionEvent[] = [];
  private readonly timers = new TimerTable();
  /** 1-RTT packet buffers (packet-slab.ts: cheaper to allocate and to seal than one ArrayBuffer each). */
  private readonly packetSlab = new PacketSlab();
  private readonly pacer: Pacer;
  private readonly mtu: MtuDiscovery;
  private readonly deliveryRate = new DeliveryRate();
  /** transmitApp held data back for pacing (so an empty poll is not "application-limited") */
  private paced = false;
  // anti-amplification on the current path
  private path = { received: 0, sent: 0, validated: false };
  private pathChallenge: { data: Uint8Array; pending: boolean; previous?: UdpAddress } | undefined;
  private pathResponses: { to: UdpAddress; data: Uint8Array }[] = [];
  private datagrams: Uint8Array[] = [];
  private pingPending = false;
  private closeFrame: Frame | undefined;
  private closePending = false;
  private lastReceived: Millis;
  private lastSent: Millis;
  private ackElicitingSinceReceive = false;

  constructor(o: ConnectionOptions) {
    this.side = o.side;
    this.config = o.config;
    this.handshake = o.handshake;
    this.localCid = o.localCid;
    this.remoteCid = o.remoteCid;
    this.remote = o.remote;
    this.path.validated = o.side === 'client' || !!o.addressValidated;
    const c = o.config;
    this.spaces = {
      handshake: new Space('handshake', new AckManager(0, 1, true)),
      app: new Space('app', new AckManager(c.maxAckDelayMs, c.ackFrequency, false)),
    };
    this.spaceList = [this.spaces.handshake, this.spaces.app];
    this.streams = new Streams(o.side === 'client', c.limits, c.limits);
    this.streams.sendBufferBytes = c.sendBufferBytes;
    // datagrams only lent (copyReceivedData): what the receive buffers keep is copied into one slab
    const slab = c.copyReceivedData ? new RecvSlab() : undefined;
    this.streams.recvSlab = slab;
    this.cryptoRecv = new RecvBuffer(slab);
    this.streams.emit = (e) => { if (this.events.length < 100_000) this.events.push(e); };
    this.rtt = new RttEstimator(c.initialRttMs);
    this.cc = c.congestion(c.initialMtu);
    this.pacer = new Pacer(10 * c.initialMtu);
    this.mtu = new MtuDiscovery(c.initialMtu, c.maxUdpPayload);
    this.lastReceived = this.lastSent = o.now;
    this.timers.set('idle', o.now + c.idleTimeoutMs);
    if (o.side === 'client') {
      if (!this.handshake.start) throw new Error('client handshake has no start()');
      this.sendHandshakeMessage(this.handshake.start(o.now));
    }
  }

  // ------------------------------------------------------------------ input

  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): void {
    let packets: Packet[];
    try { packets = parseDatagram(bytes); } catch (e) {
      if (e instanceof DecodeError) { this.stats.packetsDropped++; return; }
      throw e;
    }
    this.onDatagramBytes(from, bytes.length);
    for (const p of packets) this.handlePacket(now, from, p);
  }

  /** Called by the endpoint once per datagram routed to this connection (anti-amplification accounting). */
  onDatagramBytes(from: UdpAddress, n: number): void {
    this.stats.bytesReceived += n;
    this.lastDatagramLen = n;
    if (sameAddress(from, this.remote)) this.path.received += n;
  }

  handlePacket(now: Millis, from: UdpAddress, p: Packet): void {
    if (this.state === 'closed' || this.state === 'draining') return;
    if (this.state === 'closing') { this.closePending = true; return; }
    try {
      if (p.form === 'long') this.handleLong(now, from, p);
      else this.handleShort(now, from, p);
    } catch (e) {
      if (e instanceof TransportError) { this.closeWith(now, e.code, e.message, false, e.frameType, e.cause); return; }
      if (e instanceof DecodeError) { this.closeWith(now, ErrorCode.FRAME_ENCODING_ERROR, e.message, false); return; }
      throw e;
    }
  }

  private handleLong(now: Millis, from: UdpAddress, p: LongPacket): void {
    if (p.type === 'retry') {
      if (this.side !== 'client' || this.retried || this.gotServerPacket || p.token.length === 0) return;
      if (!eq(p.dcid, this.localCid)) return;
      this.retried = true;
      this.remoteCid = p.scid.slice();
      this.token = p.token.slice();
      // resend the first flight to the new connection ID: all handshake data counts as lost (no congestion signal)
      const hs = this.spaces.handshake;
      for (const sp of hs.sent.clear()) { if (sp.inFlight) this.bytesInFlight -= sp.size; this.onFramesLost(sp); }
      this.setLossTimer(now);
      return;
    }
    const space = this.spaces.handshake;
    if (space.discarded) return;
    if (this.side === 'server' && p.type === 'initial' && this.gotClientHandshakePacket) return;
    if (!eq(p.dcid, this.localCid) && !(this.side === 'server' && p.type === 'initial')) return;
    const pn = decodePacketNumber(space.ack.largest, p.pnTruncated);
    if (space.ack.isDuplicate(pn)) return;
    const frames = decodeFrames(p.payload);
    for (const f of frames) if (!HANDSHAKE_FRAMES.has(f.type)) throw new TransportError(ErrorCode.PROTOCOL_VIOLATION, `${f.type} frame in a handshake packet`);
    if (this.side === 'client' && !this.gotServerPacket) { this.gotServerPacket = true; this.remoteCid = p.scid.slice(); }
    if (this.side === 'server' && p.type === 'handshake' && sameAddress(from, this.remote)) { this.path.validated = true; this.gotClientHandshakePacket = true; }
    this.onPacketReceived(now, space, pn, frames);
    for (const f of frames) this.handleFrame(now, from, space, f);
    if (this.side === 'server') this.maybeConfirm(now);
  }
  private gotClientHandshakePacket = false;
  /** A CONNECTION_CLOSE received in a handshake packet (unauthenticated), held until its timer. */
  private unauthClose: { code: number; reason: string; app: boolean } | undefined;
  /** Authenticated progress (keys from the peer's handshake message, an opened 1-RTT packet): a held close was forged or stale. */
  private onAuthenticatedProgress(): void {
    if (!this.unauthClose) return;
    this.unauthClose = undefined;
    this.timers.set('unauthClose', undefined);
  }
  /** Server: an authenticated 1-RTT packet from the client arrived. */
  private clientHasKeys = false;
  private lastDatagramLen = 0;

  private handleShort(now: Millis, from: UdpAddress, p: ShortPacket): void {
    if (!this.keys || !eq(p.dcid, this.localCid)) { this.stats.packetsDropped++; return; }
    const space = this.spaces.app;
    const pn = decodePacketNumber(space.ack.largest, p.pnTruncated);
    let opened = false;
    let rotate = false;
    // exactly one open attempt per packet (openInPlace overwrites the bytes)
    if (p.keyPhase === this.recvPhase) opened = this.open(this.keys.recv, pn, p);
    else if (pn < this.firstPnInPhase && this.recvPrev) opened = this.open(this.recvPrev, pn, p);
    else if (this.keys.recv.next) {
      opened = this.open(this.keys.recv.next(), pn, p);
      rotate = opened;
    }
    const plain = this.rxPlain, plainLen = this.rxPlainLen;
    this.rxPlain = EMPTY; // no reference to the datagram kept
    if (!opened) { this.stats.packetsDropped++; return; }
    this.onAuthenticatedProgress();
    if (space.ack.isDuplicate(pn)) return;
    if (rotate) this.rotateKeys(pn);
    const frames = decodeFrames(plain, plainLen);
    if (this.side === 'server' && sameAddress(from, this.remote)) this.path.validated = true;
    // connection migration: a non-probing packet with the highest pn from a new address
    const probing = frames.every((f) => f.type === 'path_challenge' || f.type === 'path_response' || f.type === 'padding');
    if (!sameAddress(from, this.remote) && !probing && pn > space.ack.largest && this.confirmed) this.migrate(now, from);
    this.onPacketReceived(now, space, pn, frames);
    for (const f of frames) this.handleFrame(now, from, space, f);
    if (this.side === 'server') { this.gotClientHandshakePacket = true; this.clientHasKeys = true; this.maybeConfirm(now); }
  }

  /** Open `p` with `keys`: true with the plaintext in rxPlain[0, rxPlainLen) (in place when the endpoint owns the datagram), false when refused. */
  private open(keys: PacketKeys, pn: number, p: ShortPacket): boolean {
    if (this.config.ownsReceivedDatagrams) {
      if (keys.openInPlaceLength) {
        const n = keys.openInPlaceLength(pn, p.header, p.sealed);
        if (n < 0) return false;
        this.rxPlain = p.sealed; this.rxPlainLen = n;
        return true;
      }
      if (keys.openInPlace) return this.opened(keys.openInPlace(pn, p.header, p.sealed));
    }
    return this.opened(keys.open(pn, p.header, p.sealed));
  }
  private opened(plain: Uint8Array | undefined): boolean {
    if (!plain) return false;
    this.rxPlain = plain; this.rxPlainLen = plain.length;
    return true;
  }
  /** The last packet's plaintext (set by open, cleared by handleShort once decoded). */
  private rxPlain: Uint8Array = EMPTY;
  private rxPlainLen = 0;

  private onPacketReceived(now: Millis, space: Space, pn: number, frames: Frame[]): void {
    this.stats.packetsReceived++;
    const eliciting = frames.some(isAckEliciting);
    space.ack.onPacket(now, pn, eliciting);
    this.lastReceived = now;
    this.ackElicitingSinceReceive = false;
    this.timers.set('idle', now + this.idleTimeoutMs());
    if (this.state === 'closing') this.closePending = true;
  }

  private idleTimeoutMs(): number {
    return Math.max(this.config.idleTimeoutMs, 3 * this.ptoMs('app'));
  }

  private handleFrame(now: Millis, from: UdpAddress, space: Space, f: Frame): void {
    switch (f.type) {
      case 'padding': case 'ping': return;
      case 'ack': this.handleAck(now, space, f); return;
      case 'crypto': this.handleCrypto(now, f); return;
      case 'stream': this.streams.handleStream(f); return;
      case 'reset_stream': this.streams.handleResetStream(f); return;
      case 'stop_sending': this.streams.handleStopSending(f); return;
      case 'max_data': this.streams.handleMaxData(f.max); return;
      case 'max_stream_data': this.streams.handleMaxStreamData(f); return;
      case 'max_streams': this.streams.handleMaxStreams(f.bidi, f.max); return;
      case 'new_token': return;
      case 'datagram':
        if (this.events.length < 10_000) this.events.push({ type: 'datagram', data: f.data.slice() });
        return;
      case 'path_challenge':
        if (this.pathResponses.length < 4) this.pathResponses.push({ to: from, data: f.data.slice() });
        return;
      case 'path_response':
        if (this.pathChallenge && eq(this.pathChallenge.data, f.data) && sameAddress(from, this.remote)) {
          this.pathChallenge = undefined;
          this.path.validated = true;
          this.timers.set('pathValidation', undefined);
          this.events.push({ type: 'path_validated', address: this.remote });
        }
        return;
      case 'handshake_done':
        if (this.side === 'server') throw new TransportError(ErrorCode.PROTOCOL_VIOLATION, 'HANDSHAKE_DONE from a client', 0x1e);
        this.confirm(now);
        return;
      case 'connection_close':
        if (space.name === 'handshake') {
          // handshake packets carry only a CRC: an on-path attacker can forge this close.
          // Believe it only if the handshake makes no authenticated progress within a PTO.
          if (!this.unauthClose) {
            this.unauthClose = { code: f.code, reason: f.reason, app: f.app };
            this.timers.set('unauthClose', now + this.ptoMs('handshake'));
          }
          return;
        }
        this.state = 'draining';
        this.timers.set('close', now + 3 * this.ptoMs('app'));
        this.emitClosed(f.code, f.reason, true, f.app);
        return;
    }
  }

  private handleCrypto(now: Millis, f: Extract<Frame, { type: 'crypto' }>): void {
    if (f.offset + f.data.length > this.cryptoRecv.readOffset + CRYPTO_WINDOW) throw new TransportError(ErrorCode.CRYPTO_BUFFER_EXCEEDED, 'handshake data beyond the crypto buffer', 0x06);
    // RFC 9002 §6.2.3: the peer re-sent handshake data we already have, so it is
    // probably missing ours: re-send what it has not acknowledged (no wait for our PTO)
    if (f.offset + f.data.length <= this.cryptoRecv.readOffset && !this.cryptoSend.hasRetransmit()) this.cryptoSend.requeueUnacked();
    this.cryptoRecv.insert(f.offset, f.data);
    for (;;) {
      if (!this.cryptoRecv.readable()) return;
      const avail = this.peekCrypto();
      if (avail.length < 2) return;
      const len = (avail[0] << 8) | avail[1];
      if (len > MAX_HANDSHAKE_MESSAGE) throw new TransportError(ErrorCode.CRYPTO_BUFFER_EXCEEDED, `handshake message of ${len} bytes`, 0x06);
      if (avail.length < 2 + len) return;
      this.takeCrypto(2 + len);
      const msg = avail.slice(2, 2 + len);
      let res: HandshakeResult;
      try { res = this.handshake.handlePayload(now, msg, this.side === 'client' ? { serverCid: this.remoteCid.slice() } : undefined); } catch (e) {
        throw new TransportError(ErrorCode.CRYPTO_ERROR, `handshake failed: ${(e as Error).message}`, 0x06, e);
      }
      this.applyHandshake(now, res);
    }
  }

  private cryptoPending: Uint8Array[] = [];
  /** Contiguous crypto bytes available (without consuming). */
  private peekCrypto(): Uint8Array {
    for (let d = this.cryptoRecv.read(); d; d = this.cryptoRecv.read()) this.cryptoPending.push(d);
    if (this.cryptoPending.length > 1) this.cryptoPending = [concat(this.cryptoPending)];
    return this.cryptoPending[0] ?? new Uint8Array(0);
  }
  private takeCrypto(n: number): void {
    const c = this.cryptoPending[0];
    this.cryptoPending = c.length > n ? [c.subarray(n)] : [];
  }

  private applyHandshake(now: Millis, res: HandshakeResult): void {
    if (res.peerStatic) this.peerStatic = res.peerStatic.slice();
    if (res.send) this.sendHandshakeMessage(res.send);
    if (res.keys && !this.keys) {
      this.onAuthenticatedProgress();
      this.keys = res.keys;
      if (this.side === 'client') {
        this.state = 'established';
        this.events.push({ type: 'connected', peerStatic: this.peerStatic });
      }
    }
    if (this.side === 'server') this.maybeConfirm(now);
  }

  private sendHandshakeMessage(msg: Uint8Array): void {
    if (msg.length > MAX_HANDSHAKE_MESSAGE) throw new Error(`handshake message too large: ${msg.length}`);
    const framed = new Uint8Array(2 + msg.length);
    framed[0] = msg.length >> 8; framed[1] = msg.length & 0xff;
    framed.set(msg, 2);
    this.cryptoSend.write(framed);
  }

  /**
   * Server: the handshake is complete once we have keys and the client has
   * shown it has them too: an authenticated 1-RTT packet from it, or its ACK of
   * every handshake byte we sent (our last message gives the client its keys).
   * A client Handshake packet alone proves nothing: the client switches to
   * Handshake packets on the first server packet, keys or not.
   */
  private maybeConfirm(now: Millis): void {
    if (this.confirmed || !this.keys || this.state !== 'handshake') return;
    const allAcked = this.gotClientHandshakePacket && this.cryptoSend.written > 0 && this.cryptoSend.unacked === 0;
    if (!this.clientHasKeys && !allAcked) return;
    this.handshakeDonePending = true;
    this.state = 'established';
    this.events.push({ type: 'connected', peerStatic: this.peerStatic });
    this.confirm(now);
  }

  private confirm(now: Millis): void {
    if (this.confirmed) return;
    this.confirmed = true;
    this.path.validated = true;
    const hs = this.spaces.handshake;
    for (const p of hs.sent.clear()) if (p.inFlight) this.bytesInFlight -= p.size;
    hs.discarded = true;
    hs.probes = 0;
    this.ptoCount = 0;
    if (this.config.keepAliveMs > 0) this.timers.set('keepAlive', now + this.config.keepAliveMs);
    this.setLossTimer(now);
  }

  private handleAck(now: Millis, space: Space, f: Extract<Frame, { type: 'ack' }>): void {
    const largest = f.ranges[0].hi;
    if (largest >= space.nextPn) {
      // in a handshake packet (CRC only) it may be forged, or the peer acknowledging a packet number
      // an attacker injected in our name: ignore it rather than die of it
      if (space.name === 'handshake') return;
      throw new TransportError(ErrorCode.PROTOCOL_VIOLATION, `ACK of unsent packet ${largest}`, 0x02);
    }
    const acked: SentPacket[] = [];
    for (const r of f.ranges) space.sent.takeRange(r.lo, r.hi, acked);
    if (acked.length === 0) return;
    space.largestAcked = Math.max(space.largestAcked, largest);
    const largestPkt = acked.find((p) => p.pn === largest);
    let rttSample = 0;
    if (largestPkt && acked.some((p) => p.ackEliciting)) {
      const ackDelayMs = space.name === 'app' ? Math.min(f.ackDelayUs / 1000, this.confirmed ? this.config.maxAckDelayMs : Infinity) : 0;
      rttSample = Math.max(now - largestPkt.timeSent, 0.001);
      this.rtt.update(rttSample, ackDelayMs);
    }
    for (const p of acked) {
      if (p.inFlight) {
        this.bytesInFlight -= p.size;
        if (p.rate) this.deliveryRate.onPacketAcked(now, p.timeSent, p.size, p.rate);
        if (p.mtuProbe === undefined) this.cc.onAck(now, p.timeSent, p.size, this.rtt.smoothedMs);
      }
      if (p.mtuProbe !== undefined) this.onMtuProbeAcked(p.mtuProbe);
      for (const sf of p.frames) this.onFrameAcked(space, sf);
    }
    const sample = this.deliveryRate.takeSample();
    if (sample && this.cc.onRateSample) this.cc.onRateSample(now, sample, rttSample, this.bytesInFlight);
    this.detectLost(now, space);
    this.ptoCount = 0;
    space.probes = 0;
    this.setLossTimer(now);
  }

  private onMtuProbeAcked(size: number): void {
    if (this.mtu.onProbeAcked(size)) {
      this.cc.onMtuUpdate?.(this.mtu.current);
      this.pacer.setBurst(10 * this.mtu.current);
    }
  }

  private onFrameAcked(space: Space, sf: SentFrame): void {
    switch (sf.kind) {
      case 'stream': this.streams.onStreamFrameAcked(sf); return;
      case 'crypto': this.cryptoSend.onAck(sf.offset, sf.len); return;
      case 'control': this.streams.onControlAcked(sf.frame); return;
      case 'ack': space.ack.onAckAcked(sf.largest); return;
      default: return;
    }
  }

  private onFramesLost(p: SentPacket): void {
    for (const sf of p.frames) {
      switch (sf.kind) {
        case 'stream': this.streams.onStreamFrameLost(sf); break;
        case 'crypto': this.cryptoSend.onLost(sf.offset, sf.len); break;
        case 'control': this.streams.onControlLost(sf.frame); break;
        case 'handshake_done': this.handshakeDonePending = true; break;
        case 'path_challenge': if (this.pathChallenge) this.pathChallenge.pending = true; break;
        default: break;
      }
    }
  }

  /** RFC 9002 §6.1: packet threshold 3, time threshold 9/8 RTT. */
  private detectLost(now: Millis, space: Space): void {
    space.lossTime = undefined;
    if (space.largestAcked < 0) return;
    const lossDelay = this.rtt.lossDelayMs();
    const lost: SentPacket[] = [];
    for (const p of space.sent.upTo(space.largestAcked)) {
      // the same expression decides "lost now" and the loss timer, so a timer
      // that fires at exactly lossTime always declares the packet lost (no
      // floating-point wake-up loop)
      const lossAt = p.timeSent + lossDelay;
      if (lossAt <= now || space.largestAcked >= p.pn + 3) lost.push(p);
      else space.lossTime = Math.min(space.lossTime ?? Infinity, lossAt);
    }
    if (lost.length === 0) return;
    let congestion: SentPacket | undefined, first: SentPacket | undefined;
    for (const p of lost) {
      space.sent.markDone(p);
      if (p.inFlight) this.bytesInFlight -= p.size;
      if (p.mtuProbe !== undefined) { this.mtu.onProbeLost(p.mtuProbe); continue; }
      if (p.inFlight) this.stats.packetsLost++;
      this.onFramesLost(p);
      if (p.inFlight) { congestion = p; first ??= p; }
    }
    if (congestion && first && this.cc.onPacketsLost) {
      let bytes = 0;
      for (const p of lost) if (p.inFlight && p.mtuProbe === undefined) bytes += p.size;
      this.cc.onPacketsLost(now, bytes);
    }
    if (congestion && first) {
      const persistent = this.rtt.hasSample && congestion.timeSent - first.timeSent > 3 * this.ptoMs(space.name) && lost.length >= 2;
      this.cc.onCongestionEvent(now, congestion.timeSent, persistent);
    }
  }

  private ptoMs(space: SpaceName): number {
    return this.rtt.ptoBaseMs() + (space === 'app' ? this.config.maxAckDelayMs : 0);
  }

  private setLossTimer(now: Millis): void {
    let lossTime: Millis | undefined;
    for (const s of this.spaceList) if (s.lossTime !== undefined && (lossTime === undefined || s.lossTime < lossTime)) lossTime = s.lossTime;
    if (lossTime !== undefined) { this.timers.set('loss', lossTime); return; }
    let pto: Millis | undefined;
    const backoff = 2 ** Math.min(this.ptoCount, 16);
    for (const s of this.spaceList) {
      if (s.discarded || s.sent.ackElicitingInFlight === 0 || s.lastAckElicitingSent === undefined) continue;
      if (s.name === 'app' && !this.keys) continue;
      const t = s.lastAckElicitingSent + this.ptoMs(s.name) * backoff;
      if (pto === undefined || t < pto) pto = t;
    }
    // client anti-deadlock: keep probing until the handshake is confirmed
    if (pto === undefined && this.side === 'client' && !this.confirmed && this.state !== 'closing') pto = now + this.ptoMs('handshake') * backoff;
    this.timers.set('loss', pto);
  }

  private onLossTimer(now: Millis): void {
    for (const s of this.spaceList) {
      if (s.lossTime !== undefined && s.lossTime <= now) { this.detectLost(now, s); this.setLossTimer(now); return; }
    }
    // probe timeout
    this.ptoCount++;
    this.stats.ptoCount++;
    let target: Space | undefined;
    const hs = this.spaces.handshake, app = this.spaces.app;
    if (!hs.discarded && (hs.sent.ackElicitingInFlight > 0 || this.side === 'client')) target = hs;
    if (!target || (this.keys && app.sent.ackElicitingInFlight > 0 && (hs.lastAckElicitingSent ?? -Infinity) > (app.lastAckElicitingSent ?? -Infinity))) {
      if (this.keys && app.sent.ackElicitingInFlight > 0) target = app;
    }
    target ??= hs;
    target.probes = 2;
    if (target === hs) {
      // re-send all unacknowledged handshake data in the probes
      for (const p of hs.sent.all()) for (const sf of p.frames) if (sf.kind === 'crypto') this.cryptoSend.onLost(sf.offset, sf.len);
    } else {
      // re-send the oldest unacknowledged stream data, so the probe carries something useful
      const oldest = app.sent.all().next();
      if (!oldest.done) this.onFramesLost(oldest.value);
    }
    this.setLossTimer(now);
  }

  handleTimeout(now: Millis): void {
    const pacingAt = this.timers.get('pacing');
    if (pacingAt !== undefined && pacingAt < now) this.pacer.onLateTimer(now - pacingAt, this.rtt.smoothedMs);
    for (const kind of this.timers.expired(now)) {
      switch (kind) {
        case 'idle':
          if (this.state === 'closing' || this.state === 'draining') { this.setClosed(); break; }
          this.setClosed();
          this.emitClosed(ErrorCode.IDLE_TIMEOUT, 'idle timeout', false, false);
          break;
        case 'close': this.setClosed(); break;
        case 'loss': if (this.state === 'handshake' || this.state === 'established') this.onLossTimer(now); break;
        case 'keepAlive': this.pingPending = true; break;
        case 'pathValidation':
          if (this.pathChallenge) {
            const prev = this.pathChallenge.previous;
            this.pathChallenge = undefined;
            if (prev) { this.remote = prev; this.path = { received: 0, sent: 0, validated: true }; }
            else this.closeWith(now, ErrorCode.NO_ERROR, 'path validation failed', false);
          }
          break;
        case 'pacing': break;
        case 'unauthClose':
          if (this.unauthClose && !this.confirmed && (this.state === 'handshake' || this.state === 'established')) {
            const c = this.unauthClose;
            this.unauthClose = undefined;
            this.state = 'draining';
            this.timers.set('loss', undefined);
            this.timers.set('close', now + 3 * this.ptoMs('app'));
            this.emitClosed(c.code, c.reason, true, c.app);
          }
          break;
      }
    }
  }

  private migrate(now: Millis, from: UdpAddress): void {
    const previous = this.path.validated ? this.remote : this.pathChallenge?.previous;
    const addrChanged = from.address !== this.remote.address;
    this.remote = from;
    this.path = { received: this.lastDatagramLen, sent: 0, validated: false };
    this.pathChallenge = { data: this.config.random.fill(new Uint8Array(8)), pending: true, previous };
    this.timers.set('pathValidation', now + 3 * Math.max(this.ptoMs('app'), 2 * this.config.initialRttMs + this.config.maxAckDelayMs));
    if (addrChanged) {
      // a new network path: fresh congestion state (RFC 9000 §9.4)
      this.cc = this.config.congestion(this.mtu.current);
    }
  }

  // ------------------------------------------------------------------ application commands

  /** Open a stream; undefined while the peer's stream limit does not allow it. */
  /** Set by the endpoint: an application command may have given this connection something to send. */
  onActivity: (() => void) | undefined;

  openStream(bidi = true): number | undefined {
    this.onActivity?.();
    return this.streams.open(bidi);
  }
  write(id: number, data: Uint8Array): void { this.onActivity?.(); this.streams.write(id, data); }
  finish(id: number): void { this.onActivity?.(); this.streams.finish(id); }
  read(id: number, max?: number): Uint8Array | null | undefined { this.onActivity?.(); return this.streams.read(id, max); }
  /** Recycled reads of a peer stream (Streams.setRecycledRead): each view read must be release()d, and not used after. */
  setRecycledRead(id: number): boolean { return this.streams.setRecycledRead(id); }
  release(id: number, view: Uint8Array): void { this.streams.release(id, view); }
  resetStream(id: number, code: number): void { this.onActivity?.(); this.streams.reset(id, code); }
  stopSending(id: number, code: number): void { this.onActivity?.(); this.streams.stopSending(id, code); }
  writeBlocked(id: number): boolean { return this.streams.writeBlocked(id); }
  /** After close: is the stream's received data complete, what did we leave unacknowledged (Streams.closeState). */
  streamCloseState(id: number): { recvComplete: boolean; sendUnacked: number; finished: boolean } { return this.streams.closeState(id); }

  /** Largest unreliable datagram payload that fits in one packet now. */
  maxDatagramSize(): number {
    return this.mtu.current - SHORT_HEADER_LEN - (this.keys?.send.overhead ?? 16) - 1 - 2 - 64;
  }
  /** Queue an unreliable datagram; false if it is too large. Oldest dropped when the queue is full. */
  sendDatagram(data: Uint8Array): boolean {
    this.onActivity?.();
    if (data.length > this.maxDatagramSize()) return false;
    this.datagrams.push(data);
    if (this.datagrams.length > this.config.maxDatagramQueue) this.datagrams.shift();
    return true;
  }

  /** Close with an application error code and reason (sent to the peer). */
  close(now: Millis, code = 0, reason = ''): void {
    this.onActivity?.();
    this.closeWith(now, code, reason, true);
  }

  /** Key update: switch our sending keys to the next generation (needs PacketKeys.next); the peer follows. */
  updateKeys(): boolean {
    this.onActivity?.();
    if (!this.keys?.send.next || !this.keys.recv.next || !this.confirmed || this.keyPhase !== this.recvPhase) return false;
    this.keys = { send: this.keys.send.next(), recv: this.keys.recv };
    this.keyPhase = this.keyPhase === 0 ? 1 : 0;
    return true;
  }
  private recvPhase: 0 | 1 = 0;

  /** The peer's packet `pn` opened with the next receive keys: rotate (and follow with our send keys). */
  private rotateKeys(pn: number): void {
    const k = this.keys!;
    this.recvPrev = k.recv;
    this.recvPhase = this.recvPhase === 0 ? 1 : 0;
    this.firstPnInPhase = pn;
    let send = k.send;
    if (this.keyPhase !== this.recvPhase) { send = k.send.next!(); this.keyPhase = this.recvPhase; }
    this.keys = { send, recv: k.recv.next!() };
  }

  /** `cause`: the local error behind a transport close (reported on the 'closed' event, never sent). */
  private closeWith(now: Millis, code: number, reason: string, app: boolean, frameType = 0, cause?: unknown): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return;
    this.closeFrame = { type: 'connection_close', app, code, frameType, reason };
    this.closePending = true;
    this.state = 'closing';
    this.timers.set('close', now + 3 * this.ptoMs('app'));
    this.timers.set('loss', undefined);
    this.timers.set('keepAlive', undefined);
    this.timers.set('pathValidation', undefined);
    this.emitClosed(code, reason, false, app, cause);
  }

  /** Final state: nothing is sent or opened any more, so the packet keys are wiped (PacketKeys.destroy). */
  private setClosed(): void {
    this.state = 'closed';
    const k = this.keys;
    if (!k) return;
    k.send.destroy?.();
    if (k.recv !== k.send) k.recv.destroy?.();
    if (this.recvPrev && this.recvPrev !== k.recv && this.recvPrev !== k.send) this.recvPrev.destroy?.();
    this.recvPrev = undefined;
  }

  private emitClosed(code: number, reason: string, remote: boolean, app: boolean, cause?: unknown): void {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason, remote, app };
    this.events.push(cause === undefined ? { type: 'closed', code, reason, remote, app } : { type: 'closed', code, reason, remote, app, cause });
  }

  /** Sizes of every queue and buffer a peer can make grow (for tests and monitoring: all must stay bounded). */
  stateSizes(): Record<string, number> {
    let recvBuffered = 0, sendBuffered = 0;
    for (const st of this.streams.streams.values()) {
      if (st.recv) recvBuffered += st.recv.buf.buffered;
      if (st.send) sendBuffered += st.send.buf.unacked;
    }
    return {
      events: this.events.length,
      sentPackets: this.spaces.handshake.sent.count + this.spaces.app.sent.count,
      ackRanges: this.spaces.handshake.ack.received.ranges.length + this.spaces.app.ack.received.ranges.length,
      pathResponses: this.pathResponses.length,
      datagrams: this.datagrams.length,
      streams: this.streams.streams.size,
      recvBuffered,
      sendBuffered,
      cryptoBuffered: this.cryptoRecv.buffered + this.cryptoPending.reduce((n, c) => n + c.length, 0),
    };
  }

  get isClosed(): boolean { return this.state === 'closed'; }
  get isEstablished(): boolean { return this.state === 'established'; }
  get handshakeConfirmed(): boolean { return this.confirmed; }
  get mtuBytes(): number { return this.mtu.current; }

  // ------------------------------------------------------------------ output

  pollEvent(): ConnectionEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): Millis | undefined {
    if (this.state === 'closed') return undefined;
    let t = this.timers.next();
    if (this.state !== 'handshake' && this.state !== 'established') return t;
    if (this.sendBudget() < 64) return t;
    for (const s of this.spaceList) {
      const d = s.discarded ? undefined : s.ack.deadline;
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  /** Amplification budget (bytes) on the current path. */
  private sendBudget(): number {
    return this.path.validated ? Infinity : 3 * this.path.received - this.path.sent;
  }

  pollTransmit(now: Millis): Transmit | undefined {
    if (this.state === 'closed' || this.state === 'draining') return undefined;
    this.paced = false;
    const out = this.buildTransmit(now);
    if (!out && this.keys && !this.paced && this.state === 'established' && this.bytesInFlight + this.mtu.current <= this.cc.window()) {
      this.deliveryRate.onAppLimited(this.bytesInFlight); // nothing to send although the window has room
    }
    if (out) {
      this.stats.packetsSent++;
      this.stats.bytesSent += out.bytes.length;
      if (sameAddress(out.to, this.remote)) this.path.sent += out.bytes.length;
      this.lastSent = now;
    }
    return out;
  }

  private buildTransmit(now: Millis): Transmit | undefined {
    if (this.state === 'closing') {
      if (!this.closePending) return undefined;
      this.closePending = false;
      const f = this.closeFrame!;
      if (this.keys) return this.buildShort(now, [f], [], false, undefined, this.remote);
      return this.buildLong(now, this.spaces.handshake, [f], []);
    }
    // path responses to other addresses (probing from a new path)
    if (this.keys && this.pathResponses.length && !sameAddress(this.pathResponses[0].to, this.remote)) {
      const r = this.pathResponses.shift()!;
      return this.buildShort(now, [{ type: 'path_response', data: r.data }, { type: 'padding', length: 40 }], [], false, undefined, r.to);
    }
    const budget = this.sendBudget();
    if (budget < 64) return undefined;
    const hs = this.spaces.handshake;
    if (!hs.discarded) {
      const t = this.transmitHandshake(now, budget);
      if (t) return t;
    }
    if (this.keys) return this.transmitApp(now, budget);
    return undefined;
  }

  private canSendEliciting(space: Space): boolean {
    return space.probes > 0 || this.bytesInFlight + this.mtu.current <= this.cc.window();
  }

  private transmitHandshake(now: Millis, budget: number): Transmit | undefined {
    const space = this.spaces.handshake;
    const frames: Frame[] = [];
    const sent: SentFrame[] = [];
    const ackDue = space.ack.pending && space.ack.due(now);
    const wantCrypto = this.cryptoSend.hasPending() && this.canSendEliciting(space);
    if (!ackDue && !wantCrypto && space.probes === 0) return undefined;
    const isInitial = this.side === 'client' && !this.gotServerPacket;
    const maxSize = Math.min(this.mtu.current, budget);
    const base = longPacketLen({ type: isInitial ? 'initial' : 'handshake', dcid: this.remoteCid, scid: this.localCid, token: this.token, payload: new Uint8Array(0) }) + 2;
    let room = maxSize - base;
    if (space.ack.pending) {
      const ack = space.ack.frame(now);
      if (ack) { frames.push(ack); sent.push({ kind: 'ack', largest: ack.ranges[0].hi }); room -= frameLen(ack); }
    }
    if (this.canSendEliciting(space)) {
      // every probe carries all unacknowledged handshake data (not just the first of the two)
      if (space.probes > 0 && !this.cryptoSend.hasRetransmit()) this.cryptoSend.requeueUnacked();
      while (room > 16) {
        const c = this.cryptoSend.next(room - 16);
        if (!c) break;
        const f: Frame = { type: 'crypto', offset: c.offset, data: c.data };
        frames.push(f); sent.push({ kind: 'crypto', offset: c.offset, len: c.data.length });
        room -= frameLen(f);
      }
      if (space.probes > 0 && !frames.some(isAckEliciting)) frames.push({ type: 'ping' });
    }
    if (frames.length === 0) return undefined;
    return this.buildLong(now, space, frames, sent);
  }

  private buildLong(now: Millis, space: Space, frames: Frame[], sent: SentFrame[]): Transmit {
    const payload = encodeAll(frames);
    const isInitial = this.side === 'client' && !this.gotServerPacket;
    const pn = space.nextPn++;
    let bytes = encodeLongPacket({ type: isInitial ? 'initial' : 'handshake', dcid: this.remoteCid, scid: this.localCid, token: this.token, pn, payload });
    if (isInitial && bytes.length < MIN_INITIAL_DATAGRAM) {
      // clients pad Initials to 1200 bytes (anti-amplification); the length varint may grow, so fit exactly
      let pad = MIN_INITIAL_DATAGRAM - bytes.length;
      for (let i = 0; i < 3; i++) {
        bytes = encodeLongPacket({ type: 'initial', dcid: this.remoteCid, scid: this.localCid, token: this.token, pn, payload: encodeAll([...frames, { type: 'padding', length: pad }]) });
        if (bytes.length <= MIN_INITIAL_DATAGRAM) break;
        pad -= bytes.length - MIN_INITIAL_DATAGRAM;
      }
      frames = [...frames, { type: 'padding', length: pad }];
    }
    this.onPacketSent(now, space, pn, bytes.length, frames, sent);
    return { to: this.remote, bytes };
  }

  private transmitApp(now: Millis, budget: number): Transmit | undefined {
    const space = this.spaces.app;
    const maxSize = Math.min(this.mtu.current, budget);
    const overhead = SHORT_HEADER_LEN + this.keys!.send.overhead;
    let room = maxSize - overhead;
    const frames: Frame[] = [];
    const sent: SentFrame[] = [];
    const ackDue = space.ack.pending && space.ack.due(now);
    const eliciting = this.canSendEliciting(space);
    let paced = false;
    if (eliciting && this.config.pacing && space.probes === 0 && this.hasElicitingWork()) {
      const wait = this.pacer.delayUntil(now, maxSize, this.cc.window(), this.rtt.smoothedMs, this.cc.pacingRate?.(this.rtt.smoothedMs));
      if (wait !== undefined) { paced = true; this.timers.set('pacing', wait); }
      else this.timers.set('pacing', undefined); // sending: no pacing wake-up pending (its lateness would be meaningless)
    }
    this.paced = paced;
    const mayElicit = eliciting && !paced;
    // DPLPMTUD probe: its own packet
    if (mayElicit && this.confirmed && this.path.validated && space.probes === 0) {
      // probes are rare (one in flight, a handful per search) and their loss is no congestion
      // signal, so they need only room for one ordinary packet, not for their own size
      const probe = this.mtu.nextProbe(now, this.rtt.smoothedMs);
      if (probe !== undefined) {
        const f: Frame[] = [{ type: 'ping' }];
        const size = probe - overhead - 1;
        f.push({ type: 'padding', length: size });
        return this.buildShort(now, f, [], true, probe, this.remote);
      }
    }
    // an ACK of ACK-only packets is not worth 7+ bytes in every data packet: once per RTT
    let hasAck = false, elicits = false;
    if (ackDue || (mayElicit && space.ack.worthPiggybacking(now, this.rtt.smoothedMs))) {
      const ack = space.ack.frame(now);
      const n = ack ? frameLen(ack) : 0;
      if (ack && n <= room) { frames.push(ack); sent.push({ kind: 'ack', largest: ack.ranges[0].hi }); room -= n; hasAck = true; }
    }
    if (mayElicit) {
      if (this.handshakeDonePending) { this.handshakeDonePending = false; frames.push({ type: 'handshake_done' }); sent.push({ kind: 'handshake_done' }); room -= 1; }
      while (this.pathResponses.length && sameAddress(this.pathResponses[0].to, this.remote) && room > 9) {
        frames.push({ type: 'path_response', data: this.pathResponses.shift()!.data }); room -= 9;
      }
      if (this.pathChallenge?.pending && room > 9) {
        this.pathChallenge.pending = false;
        frames.push({ type: 'path_challenge', data: this.pathChallenge.data }); sent.push({ kind: 'path_challenge' }); room -= 9;
      }
      if (this.streams.hasPendingControl()) {
        for (const f of this.streams.pendingControl()) {
          const n = frameLen(f);
          if (n <= room) { frames.push(f); sent.push({ kind: 'control', frame: f }); room -= n; } else this.streams.onControlLost(f);
        }
      }
      while (this.datagrams.length && frameLen({ type: 'datagram', data: this.datagrams[0] }) <= room) {
        const f: Frame = { type: 'datagram', data: this.datagrams.shift()! };
        frames.push(f); room -= frameLen(f);
      }
      room = this.fillStreams(frames, sent, room);
      // every frame added in this block is ack-eliciting; before it there is at most an ACK
      elicits = frames.length > (hasAck ? 1 : 0);
      if ((this.pingPending || space.probes > 0) && !elicits) { frames.push({ type: 'ping' }); room -= 1; elicits = true; }
      this.pingPending = false;
    }
    if (frames.length === 0) return undefined;
    if (!elicits && !ackDue) return undefined; // an ACK alone waits for its deadline
    return this.buildShort(now, frames, sent, elicits, undefined, this.remote);
  }

  private hasElicitingWork(): boolean {
    return this.streams.sendQueue.size > 0 || this.datagrams.length > 0 || this.streams.hasPendingControl() || this.handshakeDonePending || this.pingPending || !!this.pathChallenge?.pending || this.pathResponses.length > 0 || this.mtu.wantsProbe();
  }

  /** Round-robin stream data into the packet; returns the room left. */
  private fillStreams(frames: Frame[], sent: SentFrame[], room: number): number {
    const q = this.streams.sendQueue;
    let budget = q.size;
    for (const id of q) {
      if (budget-- <= 0 || room < 24) break;
      const s = this.streams.get(id);
      const send = s?.send;
      if (!s || !send || send.reset) { q.delete(id); continue; }
      let c = send.buf.next(room - streamFrameOverhead(id, send.buf.nextNew + 1e6, room), this.streams.sendLimit(s));
      let fin = false;
      if (c) {
        // a range stops at the end of an application write (no copy): the rest of the packet takes the next one
        for (;;) {
          const end = c.offset + c.data.length;
          fin = send.fin && end === send.buf.written;
          if (c.isNew) this.streams.onNewBytesSent(c.data.length);
          const f: Frame = { type: 'stream', id, offset: c.offset, data: c.data, fin };
          frames.push(f); room -= frameLen(f);
          sent.push({ kind: 'stream', id, offset: c.offset, len: c.data.length, fin });
          if (fin || room < 24) break;
          c = send.buf.next(room - streamFrameOverhead(id, send.buf.nextNew + 1e6, room), this.streams.sendLimit(s));
          if (!c) break;
        }
      } else if (send.finPending && send.buf.nextNew === send.buf.written && !send.buf.hasRetransmit()) {
        fin = true;
        const f: Frame = { type: 'stream', id, offset: send.buf.written, data: new Uint8Array(0), fin: true };
        frames.push(f); room -= frameLen(f);
        sent.push({ kind: 'stream', id, offset: send.buf.written, len: 0, fin: true });
      }
      if (fin) send.finPending = false;
      // rotate: move to the back if still pending, else drop from the queue
      // (a lone stream stays where it is: a Set delete + add per packet is not free)
      const pending = send.buf.hasPending(this.streams.sendLimit(s)) || send.finPending;
      if (!pending) q.delete(id);
      else if (q.size > 1) { q.delete(id); q.add(id); }
    }
    return room;
  }

  private buildShort(now: Millis, frames: Frame[], sent: SentFrame[], ackEliciting: boolean, mtuProbe: number | undefined, to: UdpAddress): Transmit {
    const space = this.spaces.app;
    const pn = space.nextPn++;
    if (this.keys!.send.shouldUpdate?.(now)) this.updateKeys();
    const keys = this.keys!;
    // one buffer: header, then frames, then room for the AEAD overhead; sealed in place
    // with sealInto, or in place anyway when seal returns its input (no protection)
    let n = 0;
    for (const f of frames) n += frameLen(f);
    const sealInto = keys.send.sealInto;
    let bytes = this.packetBuffer(SHORT_HEADER_LEN + n + (sealInto ? keys.send.overhead : 0));
    writeShortHeader(bytes, this.remoteCid, pn, this.keyPhase);
    const w = this.writer;
    w.reset(bytes, SHORT_HEADER_LEN);
    for (const f of frames) encodeFrame(w, f);
    w.reset(EMPTY, 0); // no reference to the packet kept
    let header: Uint8Array, plain: Uint8Array;
    if (bytes === this.txView && this.txParts !== undefined && this.txParts.n === n) ({ header, plain } = this.txParts);
    else {
      header = bytes.subarray(0, SHORT_HEADER_LEN);
      plain = bytes.subarray(SHORT_HEADER_LEN, SHORT_HEADER_LEN + n);
      // a reused packet buffer keeps its header/plaintext views too (the same for every full packet)
      this.txParts = bytes === this.txView ? { n, header, plain } : undefined;
    }
    if (sealInto) {
      const len = sealInto.call(keys.send, pn, header, plain, bytes, SHORT_HEADER_LEN);
      if (len !== n + keys.send.overhead) bytes = bytes.subarray(0, SHORT_HEADER_LEN + len);
    } else {
      const sealed = keys.send.seal(pn, header, plain);
      if (sealed !== plain) {
        const out = new Uint8Array(SHORT_HEADER_LEN + sealed.length);
        out.set(header); out.set(sealed, SHORT_HEADER_LEN);
        bytes = out;
      }
    }
    this.onPacketSent(now, space, pn, bytes.length, frames, sent, mtuProbe);
    return { to, bytes };
  }

  /**
   * The buffer a 1-RTT packet of `len` bytes is written into: with reuseTransmitBuffers one
   * buffer per connection (its view kept while the length repeats, as it does for full
   * packets), else a fresh slab view (packet-slab.ts). Every byte of it is written by buildShort.
   */
  private packetBuffer(len: number): Uint8Array {
    if (!this.config.reuseTransmitBuffers) return this.packetSlab.alloc(len);
    const v = this.txView;
    if (v !== undefined && v.length === len) return v;
    if (this.txBuf === undefined || this.txBuf.length < len) this.txBuf = new Uint8Array(Math.max(len, 2048));
    this.txParts = undefined;
    return (this.txView = this.txBuf.subarray(0, len));
  }
  private txBuf: Uint8Array | undefined;
  private txView: Uint8Array | undefined;
  private txParts: { n: number; header: Uint8Array; plain: Uint8Array } | undefined;
  /** one Writer for every 1-RTT packet (reset per packet) */
  private readonly writer = new Writer(EMPTY, 0);

  private onPacketSent(now: Millis, space: Space, pn: number, size: number, frames: Frame[], sent: SentFrame[], mtuProbe?: number): void {
    let ackEliciting = false, padding = false, ack = false;
    for (const f of frames) {
      if (f.type === 'ack') ack = true;
      else if (f.type === 'padding') padding = true;
      else if (f.type !== 'connection_close') ackEliciting = true;
    }
    const inFlight = ackEliciting || padding;
    if (ack) space.ack.onAckSent(now);
    const rate = inFlight ? this.deliveryRate.onSent(now, this.bytesInFlight) : undefined;
    space.sent.push({ pn, timeSent: now, size, ackEliciting, inFlight, frames: sent, mtuProbe, rate });
    if (inFlight) {
      this.bytesInFlight += size;
      this.cc.onSent(now, size);
      this.pacer.onSent(size);
    }
    if (ackEliciting) {
      space.lastAckElicitingSent = now;
      if (space.probes > 0) space.probes--;
      if (!this.ackElicitingSinceReceive) { this.ackElicitingSinceReceive = true; this.timers.set('idle', now + this.idleTimeoutMs()); }
      if (this.config.keepAliveMs > 0) this.timers.set('keepAlive', now + this.config.keepAliveMs);
      this.setLossTimer(now);
    }
  }
}

function encodeAll(frames: Frame[]): Uint8Array {
  let n = 0;
  for (const f of frames) n += frameLen(f);
  const out = new Uint8Array(n);
  const w = new Writer(out);
  for (const f of frames) encodeFrame(w, f);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

