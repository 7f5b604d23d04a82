// The transfer phase of bench/relay.ts: one tincan transport bulk transfer (one
// unidirectional stream, 1200-byte transport datagrams, no PMTUD) between two endpoints on
// the bench's two sockets, either directly or through the supernode.
//   BorrowedSocket  the bench socket lent to one endpoint: send/sendOwned/flush pass through,
//                   close() only detaches the handler (the bench socket stays bound at the relay).
//   RelayedSocket   the same, but every datagram is sent to the relay wrapped in the relay's
//                   DATA header (DATA_HEADER_BYTES, our session id, exactly what
//                   RelayClient.wrap produces) and only DATA for our session coming from the
//                   relay is delivered, header stripped (a view, no copy), `from` = the relay.
//                   The transport keeps its 1200-byte datagrams (its Initial must be >= 1200,
//                   src/transport/endpoint.ts), so a relayed datagram is 1210 bytes on the wire.
//   transfer()      connect, write `data` on one stream, the receiver collects it; returns the
//                   data-phase time (first write to the receiver's end of stream), the handshake
//                   time, the bench process's CPU over the whole phase and whether the SHA-256 of
//                   what arrived (hashed as it arrives) equals the SHA-256 of what was sent.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createTransport, type TransportStream, type TransportEndpoint } from '../src/transport/api.ts';
import { NodeUdpSocket, realClock } from '../src/datagram/udp.ts';
import { systemRandom } from '../src/datagram/system-random.ts';
import { DATA_HEADER_BYTES, encodeRelayMessage } from '../src/overlay/relay-wire.ts';
import type { CryptoProvider } from '../src/transport/crypto.ts';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../src/wire/socket.ts';

/** The bench socket as bindUdp() returns it: the optional batching/ownership extras the Driver looks for. */
export interface BenchSocket extends DatagramSocket {
  readonly copiesOnSend?: boolean;
  sendOwned?(to: UdpAddress, bytes: Uint8Array): void;
  flush?(): void;
  readonly counters: object;
}

/** Direct path: the bench socket, lent (close() leaves it open for the next phase). */
export class BorrowedSocket implements DatagramSocket {
  constructor(protected readonly inner: BenchSocket) {}
  get local(): UdpAddress { return this.inner.local; }
  get copiesOnSend(): boolean { return this.inner.copiesOnSend === true; }
  send(to: UdpAddress, bytes: Uint8Array): void { this.inner.send(to, bytes); }
  sendOwned(to: UdpAddress, bytes: Uint8Array): void { if (this.inner.sendOwned) this.inner.sendOwned(to, bytes); else this.inner.send(to, bytes); }
  flush(): void { this.inner.flush?.(); }
  onDatagram(handler: DatagramHandler): void { this.inner.onDatagram(handler); }
  close(): void { this.inner.onDatagram(() => {}); }
}

/** Relayed path: every datagram to the relay in a DATA header for `sessionId`; DATA from the relay unwrapped. */
export class RelayedSocket implements DatagramSocket {
  /** Every send copies (header + datagram into one buffer), so the transport may reuse its buffers. */
  readonly copiesOnSend = true;
  private readonly header: Uint8Array;
  /** One reusable wrap buffer when the inner socket copies at send (native), else a fresh one per datagram. */
  private readonly scratch: Uint8Array | undefined;
  /** Datagrams from the relay that were not DATA for our session (BIND-OK refreshes, errors). */
  other = 0;

  constructor(private readonly inner: BenchSocket, private readonly relay: UdpAddress, sessionId: bigint) {
    this.header = encodeRelayMessage({ type: 'data', sessionId, payload: new Uint8Array(0) });
    if (inner.copiesOnSend === true) { this.scratch = new Uint8Array(65_536); this.scratch.set(this.header); }
  }
  get local(): UdpAddress { return this.inner.local; }
  send(_to: UdpAddress, bytes: Uint8Array): void {
    // the session has one peer: whatever the transport addresses (the relay's address) goes to the relay
    const n = DATA_HEADER_BYTES + bytes.length;
    let out: Uint8Array;
    if (this.scratch && n <= this.scratch.length) out = this.scratch.subarray(0, n);
    else { out = new Uint8Array(n); out.set(this.header); }
    out.set(bytes, DATA_HEADER_BYTES);
    this.inner.send(this.relay, out);
  }
  sendOwned(to: UdpAddress, bytes: Uint8Array): void { this.send(to, bytes); }
  flush(): void { this.inner.flush?.(); }
  onDatagram(handler: DatagramHandler): void {
    const h = this.header, relay = this.relay;
    this.inner.onDatagram((from, bytes) => {
      if (from.port !== relay.port || from.address !== relay.address || bytes.length < DATA_HEADER_BYTES) { this.other++; return; }
      for (let i = 0; i < DATA_HEADER_BYTES; i++) if (bytes[i] !== h[i]) { this.other++; return; }
      handler(from, bytes.subarray(DATA_HEADER_BYTES));
    });
  }
  close(): void { this.inner.onDatagram(() => {}); }
}

export interface TransferResult {
  bytes: number; dataMs: number; handshakeMs: number; benchCpuMs: number; wallMs: number;
  hashOk: boolean; packetsSent: number; packetsLost: number; ptoCount: number; srttMs: number; cwnd: number;
}

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;

/**
 * One transfer of `data` from an endpoint on `clientSock` to one on `serverSock`; the client
 * connects to `serverAddr` (direct: the server socket's address; relayed: the relay's).
 * `ownsReceivedDatagrams`: as createTransport would decide for the underlying bench socket.
 */
export async function transfer(o: {
  clientSock: DatagramSocket; serverSock: DatagramSocket; serverAddr: UdpAddress; ownsReceivedDatagrams: boolean;
  provider: { client: CryptoProvider; server: CryptoProvider; serverStatic?: Uint8Array };
  data: Uint8Array; dataSha256: string; timeoutMs: number;
}): Promise<TransferResult> {
  const common = {
    clock: realClock, random: systemRandom(), maxUdpPayload: 1200, ownsReceivedDatagrams: o.ownsReceivedDatagrams,
    limits: { maxStreamData: 16 * MiB, maxData: 64 * MiB, maxStreamsBidi: 100, maxStreamsUni: 100 }, sendBufferBytes: 8 * MiB,
  };
  const server: TransportEndpoint = createTransport({ ...common, socket: o.serverSock, crypto: o.provider.server, server: true });
  const client: TransportEndpoint = createTransport({ ...common, socket: o.clientSock, crypto: o.provider.client, server: false });
  // hashed as it arrives (the application consuming the data; the same cost on both paths)
  const hash = createHash('sha256');
  let received = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let tData = t0;
  try {
    const ended = new Promise<number>((resolve, reject) => {
      server.on('connection', (tc) => {
        tc.on('stream', (s: TransportStream) => {
          s.on('data', (d: Buffer) => { hash.update(d); received += d.length; });
          s.on('end', () => resolve(performance.now()));
          s.on('error', reject);
        });
      });
      setTimeout(() => reject(new Error(`transfer: not done within ${o.timeoutMs} ms (${received} of ${o.data.length} bytes)`)), o.timeoutMs).unref();
    });
    const tc = await client.connect(o.serverAddr, { serverStatic: o.provider.serverStatic });
    tData = performance.now();
    const s = await tc.openStream({ bidi: false });
    let off = 0;
    const write = () => {
      while (off < o.data.length) {
        const piece = o.data.subarray(off, Math.min(o.data.length, off + CHUNK));
        off += piece.length;
        if (!s.write(piece)) { s.once('drain', write); return; }
      }
      s.end();
    };
    write();
    const tEnd = await ended;
    const cpu = process.cpuUsage(cpu0);
    const st = tc.conn.stats;
    const res: TransferResult = {
      bytes: received, dataMs: tEnd - tData, handshakeMs: tData - t0, benchCpuMs: (cpu.user + cpu.system) / 1000, wallMs: tEnd - t0,
      hashOk: received === o.data.length && hash.digest('hex') === o.dataSha256,
      packetsSent: st.packetsSent, packetsLost: st.packetsLost, ptoCount: st.ptoCount, srttMs: +tc.conn.rtt.smoothedMs.toFixed(3), cwnd: Math.round(tc.conn.cc.window()),
    };
    tc.close(0, 'done');
    return res;
  } finally {
    // let the close go out, then release the sockets (close() only detaches the handlers)
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    server.close();
  }
}

/** What createTransport would decide for the bench socket itself (BorrowedSocket/RelayedSocket are not UdpSockets). */
export const ownsReceived = (s: DatagramSocket): boolean => s instanceof NodeUdpSocket;

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
