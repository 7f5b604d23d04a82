// One endpoint of bench/relay.ts's transfer phase in a process of its own (--transfer-procs 2).
// argv[2]: JSON ChildRole. The child binds a socket on 127.0.0.1; relayed, it BINDs at the relay
// with its device id and the phase's ticket and wraps every datagram in the DATA header
// (RelayedSocket). IPC to the parent:
//   recv:  {t:'ready', port} once bound (and bound at the relay); {t:'warm'} at the end of the
//          warm-up stream; {t:'done', bytes, sha256, cpuMs} at the end of the measured stream
//          (sha256 of what arrived; CPU from that stream's start).
//   send:  {t:'connected'} after the handshake, then a warm-up stream of `warmBytes` (JIT; not
//          measured); on {go:true} {t:'started'} and the measured stream; {t:'sent', sha256, cpuMs,
//          packetsSent, packetsLost, ptoCount, srttMs} once everything was handed over (the
//          parent times from 'go' to the receiver's 'done').
// The parent sends {exit:true} to end a child.
import { createHash, randomBytes } from 'node:crypto';
import { bindUdp, realClock } from '../src/datagram/udp.ts';
import { systemRandom } from '../src/datagram/system-random.ts';
import { createTransport, type TransportStream } from '../src/transport/api.ts';
import { decodeRelayMessage, encodeRelayMessage } from '../src/overlay/relay-wire.ts';
import type { DatagramSocket, UdpAddress } from '../src/wire/socket.ts';
import { benchProviders } from './providers.ts';
import { RelayedSocket, type BenchSocket } from './relay-transfer.ts';

export interface ChildRole {
  kind: 'recv' | 'send'; provider: string; bytes: number; warmBytes: number;
  /** Relayed: the relay, our device id (hex) and the phase's ticket (hex). */
  relay?: { address: UdpAddress; deviceId: string; ticketHex: string };
  /** send: where to connect (direct: the receiver; relayed: the relay). */
  to?: UdpAddress;
}

const MiB = 1024 * 1024;
const role = JSON.parse(process.argv[2]) as ChildRole;
const send = (m: object) => process.send!(m);
let go: () => void = () => {};
const gone = new Promise<void>((r) => { go = r; });
process.on('message', (m: { exit?: boolean; go?: boolean }) => { if (m.exit) process.exit(0); if (m.go) go(); });
// CPU from the start of the transfer (receiver: the connection; sender: the handshake's end), not the process's start-up
let cpu0 = process.cpuUsage();
const cpuMs = () => { const u = process.cpuUsage(cpu0); return (u.user + u.system) / 1000; };

const raw = await bindUdp({ address: '127.0.0.1' }) as unknown as BenchSocket;
let socket: DatagramSocket = raw;
if (role.relay) {
  const relay = role.relay;
  const sessionId = await new Promise<bigint>((res, rej) => {
    raw.onDatagram((_f, bytes) => {
      const m = decodeRelayMessage(bytes);
      if (m.type === 'error') rej(new Error(`relay refused: ${m.code} ${m.reason}`));
      if (m.type === 'bind-ok') res(m.sessionId);
    });
    raw.send(relay.address, encodeRelayMessage({ type: 'bind', deviceId: relay.deviceId, ticket: Buffer.from(relay.ticketHex, 'hex') }));
    setTimeout(() => rej(new Error('no BIND-OK within 5 s')), 5000).unref();
  });
  socket = new RelayedSocket(raw, relay.address, sessionId);
}
const p = benchProviders[role.provider]!(42);
const ep = createTransport({
  socket, clock: realClock, random: systemRandom(), crypto: role.kind === 'recv' ? p.server : p.client, server: role.kind === 'recv',
  maxUdpPayload: 1200, ownsReceivedDatagrams: true,
  limits: { maxStreamData: 16 * MiB, maxData: 64 * MiB, maxStreamsBidi: 100, maxStreamsUni: 100 }, sendBufferBytes: 8 * MiB,
});
if (role.kind === 'recv') {
  const hash = createHash('sha256');
  let bytes = 0;
  let streams = 0;
  ep.on('connection', (tc) => tc.on('stream', (s: TransportStream) => {
    if (streams++ === 0) { s.on('data', () => {}); s.on('end', () => send({ t: 'warm' })); return; }
    cpu0 = process.cpuUsage();
    s.on('data', (d: Buffer) => { hash.update(d); bytes += d.length; });
    s.on('end', () => send({ t: 'done', bytes, sha256: hash.digest('hex'), cpuMs: cpuMs() }));
  }));
  send({ t: 'ready', port: raw.local.port });
} else {
  const data = randomBytes(role.bytes);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const tc = await ep.connect(role.to!, { serverStatic: p.serverStatic });
  send({ t: 'connected' });
  const writeAll = (s: TransportStream, bytes: Uint8Array, then: () => void) => {
    let off = 0;
    const write = () => {
      while (off < bytes.length) {
        const piece = bytes.subarray(off, Math.min(bytes.length, off + 256 * 1024));
        off += piece.length;
        if (!s.write(piece)) { s.once('drain', write); return; }
      }
      s.end(then);
    };
    write();
  };
  writeAll(await tc.openStream({ bidi: false }), data.subarray(0, role.warmBytes), () => {});
  await gone;
  cpu0 = process.cpuUsage();
  send({ t: 'started' });
  const s = await tc.openStream({ bidi: false });
  writeAll(s, data, () => {
      const st = tc.conn.stats;
    send({ t: 'sent', sha256, cpuMs: cpuMs(), packetsSent: st.packetsSent, packetsLost: st.packetsLost, ptoCount: st.ptoCount, srttMs: +tc.conn.rtt.smoothedMs.toFixed(3) });
  });
}
