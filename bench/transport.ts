// `npm run bench:transport [-- --json]`: the transport measured side by side in one run.
//   loopback   bulk goodput of one stream over 127.0.0.1 (sender and receiver in separate
//              processes): tincan for every provider in bench/providers.ts, with 1200-byte
//              packets and with PMTUD on, against kernel TCP (node:net) and udx-native.
//   sim        the simulator: 100 Mbit/s bottleneck, 40 ms RTT, BDP queue, random loss
//              0 / 0.1 / 1 / 5 % each way: goodput / (capacity x (1 - loss)), beside the
//              Mathis et al. TCP Reno estimate for the same path, the header ceiling and
//              (0 %) the cold-start bound: handshake + an ideal IW-doubling ramp (slowStartBound).
//   ttfb       time to first application byte, in RTTs (sim, 40 ms RTT): when the client
//              may send (connected), when its first byte reaches the server, when the
//              server's first reply byte reaches the client.
//   handshakes handshakes per second on one core per provider (sans-IO pair, no sockets).
// Flags: --json (JSON only), --size MiB (loopback, default 256), --sim-mb MB (default 100),
// --only loopback,sim,ttfb,handshakes, --providers plaintext,noise (default: all),
// --handshake-seconds N (default 1.5), --cc newreno|cubic|bbr (default: the transport's default),
// --iw N (sim: initial window in packets, for experiments), --sim-trace MS (sim: the 0 % run's cwnd / in flight / in-order
// goodput at the server every MS ms of its first second, on stderr), --baselines tcp,udx,dgram (loopback baselines, default all; 'none' for none; dgram = raw
// node:dgram blasting 1200-byte datagrams with no transport, node's own ceiling), --paths 1200,pmtud,
// --udp dgram,native (loopback: run the tincan paths and the raw baseline over each datagram socket kind
// in the same run — node:dgram and the native batched socket; TINCAN_UDP=<kind> in the children; goals
// then also report byUdp), --repeat N (loopback: the tincan runs N times, in alternating rounds —
// every provider and path once per round — so noisy machines give same-run medians), --recv stream,recycled
// (how the tincan receiver reads, default stream: 'data' events, a fresh Buffer per chunk as a Node
// stream promises; recycled: TransportStream.readRecycled over the lent receive arena, copyReceivedData —
// no memory allocated per packet; results named '... recycled', a path of their own in the goals).
// Every tincan loopback result carries `round` and CPU microseconds per packet on each side
// (sender: its CPU / packets sent; receiver: its CPU / packets received), and in `extra` what
// each side's CPU went to besides its own code: <side>GcMajor / GcMinor (mark-compacts and
// scavenges, PerformanceObserver 'gc'), <side>GcMs (their main-thread ms), <side>SysMs (kernel
// CPU), <side>MinorFaults (fresh pages touched); `goals.encryptedVsPlaintext`
// is noise / plaintext goodput per path (median over rounds; issue 4's goal: >= 0.8), beside the
// CPU per packet of each, and the best ratio those CPU costs allow: `bound` =
// max(ptS, ptR) / max(ptS + seal, ptR + open), where ptS / ptR are plaintext's CPU us per packet of
// sender / receiver in this run and seal / open the session layer's packet AEAD as the transport
// calls it (NoisePacketKeys.sealInto / openInPlaceLength, measured in this process after the
// loopback runs, at 1,200 B and at the PMTUD packet size; min of 5 reps) — i.e. plaintext CPU /
// (plaintext CPU + AEAD) of the busier side. `aeadBound` has the parts (boundSender,
// boundReceiver, busierSide) and `opensslFloor`: `openssl speed -evp chacha20-poly1305 -bytes
// <plaintext bytes> -seconds 1` (OpenSSL's own speed on this machine, the floor for any
// ChaCha20-Poly1305 here) as the AEAD cost of both sides, or {skipped: reason} without an
// openssl binary. Adds ~2.5 s (`aeadBoundSeconds`). A measured value well below `bound` means
// something besides the AEAD's own CPU separates the two runs (idle waits on a loaded machine,
// the real pipeline's cache misses around the cipher, ...).
import { fork, spawnSync } from 'node:child_process';
import { createServer, connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { performance, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { benchProviders, DEFAULT_PROVIDERS } from './providers.ts';
import { PACKET_AEAD_BACKEND } from '../src/session/index.ts';
import { NoisePacketKeys, newPacketStats } from '../src/session/packet-keys.ts';
import { PACKET_AEAD_IMPL } from '../src/session/noise/packet-aead.ts';
import { bindUdp, realClock } from '../src/datagram/udp.ts';
import { systemRandom } from '../src/datagram/system-random.ts';
import { createTransport, type TransportStream } from '../src/transport/api.ts';
import { Endpoint } from '../src/transport/endpoint.ts';
import type { Connection } from '../src/transport/connection.ts';
import { Driver } from '../src/datagram/driver.ts';
import { seededRandom } from '../src/transport/random.ts';
import { congestionControllers } from '../src/transport/config.ts';
import { SHORT_HEADER_LEN } from '../src/transport/wire/header.ts';
import { Network } from '../src/sim/index.ts';
import type { UdpAddress } from '../src/wire/socket.ts';

const SELF = fileURLToPath(import.meta.url);

/** The slice of udx-native's (untyped) API the benchmark uses. */
interface UdxStream extends NodeJS.WritableStream {
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
  on(ev: 'data', f: (d: Buffer) => void): this;
  on(ev: 'end' | 'close' | 'drain', f: () => void): this;
  readonly retransmits: number;
  readonly mtu: number;
}
interface UdxSocket { bind(port: number, host: string): void; address(): { port: number }; close(): void }
type UdxCtor = new () => { createSocket(): UdxSocket; createStream(id: number): UdxStream };
const CC = flag('cc');
/** --sim-trace MS: print the 0 % run's sender state every MS ms of its first second to stderr (cwnd, in flight, in-order goodput at the server) */
const SIM_TRACE = flag('sim-trace') ? num('sim-trace', 10) : undefined;
/** --iw N: initial congestion window in packets for the sim runs (experiments; default: the transport's 10) */
const IW = flag('iw') ? num('iw', 10) : undefined;

/** Providers built from a seed where supported, so two processes agree on static keys. */
type Provider = ReturnType<(typeof benchProviders)[string]>;
const LOOPBACK_SEED = 42;
const provider = (name: string, seed?: number): Provider => (benchProviders[name] as (seed?: number) => Provider)(seed);
/** IK-style providers need both processes to derive the same server identity from the seed. */
function crossProcessOk(name: string): boolean {
  const a = provider(name, LOOPBACK_SEED).serverStatic, b = provider(name, LOOPBACK_SEED).serverStatic;
  return !a || (!!b && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0);
}
const MiB = 1024 * 1024;

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
function num(name: string, def: number): number {
  const v = flag(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}
const JSON_ONLY = process.argv.includes('--json');
const log = (s: string) => { if (!JSON_ONLY) process.stderr.write(s + '\n'); };

// ------------------------------------------------------------------ loopback (child processes)

type Role =
  | { kind: 'tcp-recv' } | { kind: 'tcp-send'; port: number; bytes: number }
  | { kind: 'udx-recv' } | { kind: 'udx-send'; port: number; bytes: number }
  | { kind: 'dgram-recv' } | { kind: 'dgram-send'; port: number; bytes: number }
  | { kind: 'tincan-recv'; provider: string; maxUdpPayload: number; cc?: string; recycled?: boolean }
  | { kind: 'tincan-send'; provider: string; maxUdpPayload: number; port: number; bytes: number; cc?: string };

type ChildMsg =
  | { t: 'port'; port: number }
  | { t: 'done'; bytes: number; ms: number; cpuMs: number; mtu?: number; extra?: Record<string, number> }
  | { t: 'sent'; cpuMs: number; extra?: Record<string, number> };

const cpuMs = (start: NodeJS.CpuUsage) => { const u = process.cpuUsage(start); return (u.user + u.system) / 1000; };
const send = (m: ChildMsg) => process.send!(m);
const CHUNK = Buffer.alloc(256 * 1024, 0x5a);

/** Garbage collections since the child started (PerformanceObserver 'gc' entries; delivered asynchronously, so the last few may be missing). */
const gcSeen = { major: 0, minor: 0, incremental: 0, ms: 0 };
let gcObserver: PerformanceObserver | undefined;
/**
 * What a side's CPU went to besides its own code, from `start()` on: full (mark-compact) and
 * minor (scavenge) GCs and their main-thread ms, kernel CPU ms, minor page faults (fresh
 * memory touched for the first time). Reported as `<side>GcMajor`, `<side>GcMinor`,
 * `<side>GcMs`, `<side>SysMs`, `<side>MinorFaults` in a tincan run's `extra`.
 */
function processMeter(side: 'sender' | 'receiver') {
  if (!gcObserver) {
    gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
        if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gcSeen.major++;
        else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcSeen.minor++;
        else if (kind === perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL) gcSeen.incremental++;
        gcSeen.ms += e.duration;
      }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
  }
  const gc0 = { ...gcSeen }, ru0 = process.resourceUsage();
  return (): Record<string, number> => {
    const ru = process.resourceUsage();
    return {
      [`${side}GcMajor`]: gcSeen.major - gc0.major, [`${side}GcMinor`]: gcSeen.minor - gc0.minor, [`${side}GcMs`]: round(gcSeen.ms - gc0.ms, 1),
      [`${side}SysMs`]: round((ru.systemCPUTime - ru0.systemCPUTime) / 1000, 1), [`${side}MinorFaults`]: ru.minorPageFault - ru0.minorPageFault,
    };
  };
}

/** Receiver: counts bytes from the first to the last one (the handshake is not timed). */
function receiverClock() {
  let first = 0, bytes = 0;
  const cpu0 = process.cpuUsage(), meter = processMeter('receiver');
  return {
    data(n: number) { if (bytes === 0) first = performance.now(); bytes += n; },
    done(extra?: Record<string, number>, mtu?: number) { const c = cpuMs(cpu0); send({ t: 'done', bytes, ms: performance.now() - first, cpuMs: c, extra: extra && { ...extra, ...meter() }, mtu }); },
  };
}

/** The native socket's batching counters (syscalls, GSO/GRO), absent for node:dgram: how many datagrams each kernel call carried. */
function socketCounters(socket: { counters: object }, side: 'send' | 'recv'): Record<string, number> {
  const c = socket.counters as Record<string, number>;
  const keys = side === 'send' ? ['sendSyscalls', 'gsoMessages', 'gsoSegments', 'queued', 'queueDrops'] : ['recvSyscalls', 'recvBatches', 'groSegments', 'rxOverflow'];
  const out: Record<string, number> = {};
  for (const k of keys) if (typeof c[k] === 'number') out[`${side === 'send' ? 'sender' : 'receiver'}${k[0].toUpperCase()}${k.slice(1)}`] = c[k];
  return out;
}

/** Write `bytes` to a Node writable honouring backpressure, then end it. */
function pump(w: NodeJS.WritableStream, bytes: number, onEnd: () => void): void {
  let left = bytes;
  const go = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const ok = w.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!ok) { w.once('drain', go); return; }
    }
    w.end(onEnd);
  };
  go();
}

async function runChild(role: Role): Promise<void> {
  const cpu0 = process.cpuUsage(), senderMeter = processMeter('sender');
  process.on('message', (m: { exit?: boolean }) => { if (m.exit) process.exit(0); });
  switch (role.kind) {
    case 'tcp-recv': {
      const rc = receiverClock();
      const srv = createServer((s) => { s.on('data', (d: Buffer) => rc.data(d.length)); s.on('end', () => { rc.done(); s.end(); srv.close(); }); });
      srv.listen(0, '127.0.0.1', () => send({ t: 'port', port: (srv.address() as { port: number }).port }));
      return;
    }
    case 'tcp-send': {
      const s = tcpConnect(role.port, '127.0.0.1', () => pump(s, role.bytes, () => { send({ t: 'sent', cpuMs: cpuMs(cpu0) }); }));
      s.on('data', () => {});
      s.on('close', () => process.exit(0));
      return;
    }
    case 'dgram-recv': {
      // raw node:dgram, no transport: every 1200-byte datagram counted; a 1-byte datagram ends the run
      const socket = await bindUdp({ address: '127.0.0.1', recvBufferSize: 4 * MiB });
      const c0 = process.cpuUsage();
      let first = 0, last = 0, bytes = 0, n = 0, done = false;
      socket.onDatagram((_from, b) => {
        if (b.length > 1) { if (n++ === 0) first = performance.now(); bytes += b.length; last = performance.now(); return; }
        if (done) return;
        done = true;
        send({ t: 'done', bytes, ms: last - first, cpuMs: cpuMs(c0), extra: { datagramsReceived: n } });
      });
      send({ t: 'port', port: socket.local.port });
      return;
    }
    case 'dgram-send': {
      // as fast as node:dgram sends: bursts of 32 (libuv's receive batch), yielding to the event loop between bursts
      const socket = await bindUdp({ address: '127.0.0.1', sendBufferSize: 4 * MiB });
      const to = { address: '127.0.0.1', port: role.port };
      const total = Math.ceil(role.bytes / 1200), payload = new Uint8Array(1200).fill(0x5a);
      let sent = 0;
      const go = () => {
        for (let i = 0; i < 32 && sent < total; i++, sent++) socket.send(to, payload);
        if (sent < total) { setImmediate(go); return; }
        const c = cpuMs(cpu0);
        setTimeout(() => { for (let i = 0; i < 3; i++) socket.send(to, new Uint8Array(1)); send({ t: 'sent', cpuMs: c, extra: { datagramsSent: sent, sendErrors: socket.counters.sendErrors } }); }, 50);
      };
      go();
      return;
    }
    case 'udx-recv': case 'udx-send': {
      const udx = new (createRequire(import.meta.url)('udx-native') as UdxCtor)();
      const sock = udx.createSocket();
      sock.bind(0, '127.0.0.1');
      const isRecv = role.kind === 'udx-recv';
      const stream = udx.createStream(isRecv ? 1 : 2);
      send({ t: 'port', port: sock.address().port });
      process.on('message', (m: { peerPort: number }) => {
        stream.connect(sock, isRecv ? 2 : 1, m.peerPort, '127.0.0.1');
        if (isRecv) {
          const rc = receiverClock();
          stream.on('data', (d: Buffer) => rc.data(d.length));
          stream.on('end', () => { rc.done({ retransmits: stream.retransmits }, stream.mtu); stream.end(); });
          stream.on('close', () => sock.close());
        } else {
          pump(stream, (role as { bytes: number }).bytes, () => send({ t: 'sent', cpuMs: cpuMs(cpu0), extra: { retransmits: stream.retransmits } }));
          stream.on('close', () => { sock.close(); process.exit(0); });
        }
      });
      return;
    }
    case 'tincan-recv': case 'tincan-send': {
      const p = provider(role.provider, LOOPBACK_SEED);
      const isRecv = role.kind === 'tincan-recv';
      const socket = await bindUdp({ address: '127.0.0.1', recvBufferSize: 4 * MiB, sendBufferSize: 4 * MiB });
      const recycled = role.kind === 'tincan-recv' && role.recycled === true;
      const ep = createTransport({
        socket, clock: realClock, random: systemRandom(), crypto: isRecv ? p.server : p.client, server: isRecv,
        // --recv recycled: the receiver lends the socket's arena and reads with readRecycled (no memory per packet)
        ...(recycled ? { copyReceivedData: true } : {}),
        maxUdpPayload: role.maxUdpPayload,
        ...(role.cc ? { congestion: congestionControllers[role.cc] } : {}),
        limits: { maxStreamData: 16 * MiB, maxData: 64 * MiB, maxStreamsBidi: 100, maxStreamsUni: 100 },
        sendBufferBytes: 8 * MiB,
        // TINCAN_BENCH_TRANSPORT_OPTS='{"pacing":false}': extra transport options (experiments only)
        ...(process.env.TINCAN_BENCH_TRANSPORT_OPTS ? JSON.parse(process.env.TINCAN_BENCH_TRANSPORT_OPTS) as object : {}),
      });
      if (isRecv) {
        send({ t: 'port', port: socket.local.port });
        const rc = receiverClock();
        ep.on('connection', (tc) => {
          tc.on('stream', (s: TransportStream) => {
            if (recycled) s.readRecycled((d) => rc.data(d.length));
            else s.on('data', (d: Buffer) => rc.data(d.length));
            s.on('end', () => {
              const st = tc.conn.stats;
              rc.done({ packetsReceived: st.packetsReceived, packetsDropped: st.packetsDropped, socketReceived: socket.counters.received, receiverPacketsSent: st.packetsSent, ...socketCounters(socket, 'recv') }, tc.conn.mtuBytes);
              s.end();
            });
          });
        });
        return;
      }
      const tc = await ep.connect({ address: '127.0.0.1', port: role.port }, { serverStatic: p.serverStatic });
      if (process.env.TINCAN_BENCH_TRACE) {
        // one line per 200 ms: the sender's congestion state (diagnostics only)
        setInterval(() => {
          const c = tc.conn, cc = c.cc as unknown as Record<string, unknown>;
          process.stderr.write(`trace ${JSON.stringify({ sent: c.stats.packetsSent, lost: c.stats.packetsLost, pto: c.stats.ptoCount, inflight: c.bytesInFlight, cwnd: Math.round(c.cc.window()), srtt: round(c.rtt.smoothedMs, 2), state: cc.state, btlBw: typeof cc.btlBw === 'number' ? round(cc.btlBw * 8 / 1000, 1) : undefined, mtu: c.mtuBytes })}\n`);
        }, 200).unref();
      }
      const s = await tc.openStream({ bidi: false });
      pump(s, role.bytes, () => {
        const st = tc.conn.stats;
        send({ t: 'sent', cpuMs: cpuMs(cpu0), extra: { packetsSent: st.packetsSent, packetsLost: st.packetsLost, ptoCount: st.ptoCount, mtu: tc.conn.mtuBytes, sendErrors: socket.counters.sendErrors, ...socketCounters(socket, 'send'), ...senderMeter(), cwnd: Math.round(tc.conn.cc.window()), srttMs: round(tc.conn.rtt.smoothedMs, 3), minRttMs: round(tc.conn.rtt.minMs, 3) } });
      });
      return;
    }
  }
}

/** `udp`: the socket kind the child's bindUdp() returns (TINCAN_UDP), undefined = bindUdp's default. */
function spawn(role: Role, udp?: UdpKind) {
  // TINCAN_BENCH_CPU_PROF=dir: write a CPU profile of every child process there
  const prof = process.env.TINCAN_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.TINCAN_BENCH_CPU_PROF] : [];
  // TINCAN_BENCH_NODE_ARGS='--trace-gc ...': extra node flags for every child (diagnostics); their stdout goes to our stderr
  const extra = process.env.TINCAN_BENCH_NODE_ARGS ? process.env.TINCAN_BENCH_NODE_ARGS.split(' ').filter(Boolean) : [];
  const env = udp ? { ...process.env, TINCAN_UDP: udp } : process.env;
  const child = fork(SELF, ['--child', JSON.stringify(role)], { execArgv: ['--import', 'tsx', ...prof, ...extra], stdio: ['ignore', extra.length ? 2 : 'ignore', 'inherit', 'ipc'], env });
  const waiters: ((m: ChildMsg) => void)[] = [];
  const queue: ChildMsg[] = [];
  child.on('message', (m: ChildMsg) => { const w = waiters.shift(); if (w) w(m); else queue.push(m); });
  const next = (timeoutMs = 120_000) => new Promise<ChildMsg>((resolve, reject) => {
    const q = queue.shift();
    if (q) { resolve(q); return; }
    const t = setTimeout(() => reject(new Error(`${role.kind}: no answer within ${timeoutMs} ms`)), timeoutMs);
    waiters.push((m) => { clearTimeout(t); resolve(m); });
  });
  return { child, next };
}

/** The two datagram sockets bindUdp() can return (src/datagram/udp.ts; TINCAN_UDP in a child forces one). */
type UdpKind = 'dgram' | 'native';
/** --udp dgram,native: run the tincan paths (and the raw-socket baseline) over each socket kind in the same run. */
const UDP_KINDS: (UdpKind | undefined)[] = flag('udp') ? flag('udp')!.split(',').map((k) => {
  if (k !== 'dgram' && k !== 'native') throw new Error(`--udp: unknown socket kind ${k} (dgram, native)`);
  return k;
}) : [undefined];

/**
 * --recv stream,recycled: how the tincan receiver reads (default stream): 'stream' = 'data' events
 * (a fresh Buffer per chunk, what a Node stream promises), 'recycled' = TransportStream.readRecycled
 * over the lent receive arena (copyReceivedData): views valid during the callback, no memory per packet.
 */
const RECV_MODES = (flag('recv') ?? 'stream').split(',').map((m) => {
  if (m !== 'stream' && m !== 'recycled') throw new Error(`--recv: unknown mode ${m} (stream, recycled)`);
  return m;
});

interface LoopResult { name: string; packetBytes: number | string; udp?: UdpKind; mbps: number; seconds: number; cpuMsSender: number; cpuMsReceiver: number; round?: number; cpuUsPerPacketSender?: number; cpuUsPerPacketReceiver?: number; extra?: Record<string, unknown> }

async function loopbackOne(name: string, recvRole: Role, sendRole: (port: number) => Role, exchangePorts = false, packetBytes: number | string = '', udp?: UdpKind): Promise<LoopResult> {
  const recv = spawn(recvRole, udp);
  const first = await recv.next(30_000);
  if (first.t !== 'port') throw new Error('expected a port');
  const snd = spawn(sendRole(first.port), udp);
  try {
    if (exchangePorts) {
      const sp = await snd.next(30_000);
      if (sp.t !== 'port') throw new Error('expected a port');
      recv.child.send({ peerPort: sp.port });
      snd.child.send({ peerPort: first.port });
    }
    const results = await Promise.all([recv.next(), snd.next()]);
    const done = results.find((m) => m.t === 'done') as Extract<ChildMsg, { t: 'done' }>;
    const sent = results.find((m) => m.t === 'sent') as Extract<ChildMsg, { t: 'sent' }>;
    const mbps = (done.bytes * 8) / (done.ms / 1000) / 1e6;
    // CPU per packet on each side (tincan runs, which report their packet counts)
    const sentPkts = sent.extra?.packetsSent, recvPkts = done.extra?.packetsReceived;
    const perPacket = sentPkts && recvPkts ? { cpuUsPerPacketSender: round((sent.cpuMs * 1000) / sentPkts, 3), cpuUsPerPacketReceiver: round((done.cpuMs * 1000) / recvPkts, 3) } : {};
    return { name, packetBytes: done.mtu ?? packetBytes, ...(udp ? { udp } : {}), mbps: round(mbps), seconds: round(done.ms / 1000, 3), cpuMsSender: Math.round(sent.cpuMs), cpuMsReceiver: Math.round(done.cpuMs), ...perPacket, extra: { ...sent.extra, ...done.extra } };
  } finally {
    // children exit on request (so CPU profiles get written); stragglers are killed
    for (const c of [recv.child, snd.child]) if (c.connected) c.send({ exit: true });
    setTimeout(() => { recv.child.kill(); snd.child.kill(); }, 3000).unref();
  }
}

async function loopback(sizeMiB: number, providers: string[]) {
  const bytes = sizeMiB * MiB;
  const out: LoopResult[] = [];
  const run = async (f: () => Promise<LoopResult>) => {
    try { const r = await f(); out.push(r); log(`  ${r.name.padEnd(26)} ${String(r.mbps).padStart(8)} Mbit/s  (${r.seconds} s, cpu send ${r.cpuMsSender} ms / recv ${r.cpuMsReceiver} ms)`); }
    catch (e) { log(`  failed: ${(e as Error).message}`); }
  };
  log(`loopback: ${sizeMiB} MiB, one stream`);
  const baselines = (flag('baselines') ?? 'tcp,udx,dgram').split(',');
  if (baselines.includes('tcp')) await run(() => loopbackOne('tcp (node:net)', { kind: 'tcp-recv' }, (port) => ({ kind: 'tcp-send', port, bytes }), false, 'kernel'));
  if (baselines.includes('udx')) await run(() => loopbackOne('udx-native', { kind: 'udx-recv' }, (port) => ({ kind: 'udx-send', port, bytes }), true));
  // the ceiling of the datagram socket itself: unreliable 1200-byte datagrams, no transport (what arrives counts);
  // without --udp it is node:dgram (node's own ceiling), with --udp one per socket kind
  for (const udp of UDP_KINDS) {
    if (baselines.includes('dgram')) await run(() => loopbackOne(`raw ${udp ?? 'node:dgram'} 1200 (unreliable)`, { kind: 'dgram-recv' }, (port) => ({ kind: 'dgram-send', port, bytes }), false, 1200, udp ?? 'dgram'));
  }
  const paths = (flag('paths') ?? '1200,pmtud').split(',');
  const skipped: Record<string, string> = {};
  const rounds = Math.floor(num('repeat', 1));
  const usable = providers.filter((name) => {
    if (crossProcessOk(name)) return true;
    skipped[name] = 'server identity not derivable from a seed in bench/providers.ts (two processes disagree)';
    log(`  tincan ${name}: skipped (${skipped[name]})`);
    return false;
  });
  for (let r = 1; r <= rounds; r++) {
    for (const name of usable) {
      for (const [label, max] of ([['1200', 1200], ['pmtud', 65_000]] as const).filter(([l]) => paths.includes(l))) {
        for (const udp of UDP_KINDS) for (const recv of RECV_MODES) {
          const recycled = recv === 'recycled';
          await run(async () => {
            const res = await loopbackOne(`tincan ${name} ${label}${recycled ? ' recycled' : ''}${udp ? ` ${udp}` : ''}`, { kind: 'tincan-recv', provider: name, maxUdpPayload: max, cc: CC, recycled },
              (port) => ({ kind: 'tincan-send', provider: name, maxUdpPayload: max, port, bytes, cc: CC }), false, '', udp);
            return rounds > 1 ? { ...res, round: r } : res;
          });
        }
      }
    }
  }
  const udx = out.find((r) => r.name === 'udx-native')?.mbps;
  const tcp = out.find((r) => r.name.startsWith('tcp'))?.mbps;
  return {
    sizeMiB,
    skipped,
    results: out.map((r) => ({ ...r, vsUdx: udx ? round(r.mbps / udx, 3) : null, vsTcp: tcp ? round(r.mbps / tcp, 3) : null })),
  };
}

// ------------------------------------------------------------------ simulator goodput

const SIM_RTT_MS = 40, SIM_BPS = 100e6;
/** "steady" goodput leaves out the first second (handshake, startup) */
const STEADY_AFTER_MS = 1000;

function simTransfer(opts: { bytes: number; lossRate: number; seed: number; provider: string; replyBytes?: number; traceMs?: number; traceUntilMs?: number }) {
  const p = benchProviders[opts.provider]();
  const net = new Network({ seed: opts.seed, log: false });
  const client = net.addHost('client', '198.51.100.10');
  const server = net.addHost('server', '203.0.113.10');
  const router = net.addRouter('router');
  net.connect(client, router, { latencyMs: 0, bandwidthBps: 10e9 });
  const bdp = (SIM_BPS / 8) * (SIM_RTT_MS / 1000);
  net.connect(router, server, { latencyMs: SIM_RTT_MS / 2, bandwidthBps: SIM_BPS, queueBytes: bdp, lossRate: opts.lossRate });
  net.autoRoute();
  const limits = { maxStreamData: 16 * MiB, maxData: 64 * MiB, maxStreamsBidi: 100, maxStreamsUni: 100 };
  const cc = { ...(CC ? { congestion: congestionControllers[CC] } : {}), ...(IW ? { initialWindowPackets: IW } : {}) };
  const sep = new Endpoint({ crypto: p.server, random: seededRandom(opts.seed + 1), server: true, limits, sendBufferBytes: 8 * MiB, ...cc });
  const cep = new Endpoint({ crypto: p.client, random: seededRandom(opts.seed + 2), limits, sendBufferBytes: 8 * MiB, ...cc });
  const sd = new Driver(sep, server.bindUdp(4433), net.clock);
  const cd = new Driver(cep, client.bindUdp(), net.clock);
  const t0 = net.clock.now();
  const res = { connectedMs: NaN, serverFirstByteMs: NaN, clientFirstReplyMs: NaN, doneMs: NaN, received: 0, receivedBeforeSteady: 0 };
  const conn: Connection = cep.connect(t0, { address: '203.0.113.10', port: 4433 } as UdpAddress, { serverStatic: p.serverStatic });
  const id = conn.openStream()!;
  const chunk = new Uint8Array(64 * 1024).fill(0x5a);
  let written = 0, finished = false, sconn: Connection | undefined, replied = false;
  cd.afterInput = () => {
    for (let e = conn.pollEvent(); e; e = conn.pollEvent()) if (e.type === 'connected' && Number.isNaN(res.connectedMs)) res.connectedMs = net.clock.now() - t0;
    while (written < opts.bytes && !conn.writeBlocked(id)) { const n = Math.min(chunk.length, opts.bytes - written); conn.write(id, chunk.subarray(0, n)); written += n; }
    if (written >= opts.bytes && !finished) { conn.finish(id); finished = true; }
    for (let d = conn.read(id); d; d = conn.read(id)) if (Number.isNaN(res.clientFirstReplyMs)) res.clientFirstReplyMs = net.clock.now() - t0;
  };
  sd.afterInput = () => {
    for (let e = sep.pollEvent(); e; e = sep.pollEvent()) sconn = e.connection;
    if (!sconn) return;
    for (let e = sconn.pollEvent(); e; e = sconn.pollEvent()) { /* drain */ }
    for (let d = sconn.read(id); d !== undefined; d = sconn.read(id)) {
      if (d === null) { res.doneMs = net.clock.now() - t0; break; }
      if (res.received === 0) res.serverFirstByteMs = net.clock.now() - t0;
      res.received += d.length;
      if (net.clock.now() - t0 < STEADY_AFTER_MS) res.receivedBeforeSteady = res.received;
      if (!replied && opts.replyBytes) { replied = true; sconn.write(id, new Uint8Array(opts.replyBytes)); sconn.finish(id); }
    }
  };
  cd.wake();
  const limit = 600_000;
  const traceMs = opts.traceMs;
  let lastReceived = 0;
  while (Number.isNaN(res.doneMs) && net.clock.now() < limit) {
    net.run(net.clock.now() + (traceMs ?? 100));
    if (traceMs !== undefined && net.clock.now() - t0 <= (opts.traceUntilMs ?? 1000)) {
      // the sender's state every traceMs (stderr): where a cold start spends its time
      const c = conn, b = c.cc as unknown as Record<string, unknown>, pkt = c.mtuBytes;
      process.stderr.write(`sim-trace t=${Math.round(net.clock.now() - t0)}ms received=${(res.received / 1e6).toFixed(3)}MB rate=${((res.received - lastReceived) * 8 / traceMs / 1e3).toFixed(1)}Mbit/s cwnd=${Math.round(c.cc.window() / pkt)}pkt inflight=${Math.round(c.bytesInFlight / pkt)}pkt lost=${c.stats.packetsLost} sent=${c.stats.packetsSent} state=${String(b.state ?? '')} srtt=${c.rtt.smoothedMs.toFixed(1)}ms mtu=${pkt}\n`);
    }
    lastReceived = res.received;
  }
  if (opts.replyBytes) while (Number.isNaN(res.clientFirstReplyMs) && net.clock.now() < limit) net.run(net.clock.now() + 10);
  return { ...res, mtu: conn.mtuBytes, lost: conn.stats.packetsLost, sent: conn.stats.packetsSent, cc: conn.cc.name };
}

/**
 * The best whole-transfer fraction a cold start can reach on the loss-free path: 1 RTT of
 * handshake, half an RTT until the first byte arrives, then an ideal slow start — the
 * initial window (iwPackets datagrams of `initialMtu`, counted on the link with IP+UDP
 * headers) doubling every RTT with no overshoot, until it fills the bottleneck's BDP —
 * and the header ceiling from then on. Any window-doubling startup (Reno/CUBIC slow
 * start, BBR startup, HyStart++) is at or below it; only a larger initial window or
 * knowledge from an earlier connection (0-RTT, careful resume) does better.
 */
function slowStartBound(bytes: number, ceiling: number, iwPackets: number, initialMtu: number): number {
  const rtt = SIM_RTT_MS / 1000, linkBytesPerS = SIM_BPS / 8, bdp = linkBytesPerS * rtt;
  let deficit = 0; // link bytes the ramp leaves unsent
  for (let w = iwPackets * (initialMtu + 28); w < bdp; w *= 2) deficit += bdp - w;
  const ideal = bytes / ceiling / linkBytesPerS;
  return (bytes * 8) / (1.5 * rtt + ideal + deficit / linkBytesPerS) / SIM_BPS;
}

function mathisBps(mssBytes: number, rttMs: number, p: number): number {
  return p > 0 ? ((mssBytes * 8) / (rttMs / 1000)) * Math.sqrt(1.5) / Math.sqrt(p) : Infinity;
}

function sim(simMB: number) {
  const goals: Record<string, number> = { '0': 0.95, '0.001': 0.93, '0.01': 0.9, '0.05': 0.75 };
  const out = [];
  log(`sim: ${simMB} MB, ${SIM_BPS / 1e6} Mbit/s, ${SIM_RTT_MS} ms RTT, BDP queue (plaintext)`);
  for (const loss of [0, 0.001, 0.01, 0.05]) {
    const w0 = performance.now();
    const r = simTransfer({ bytes: simMB * 1e6, lossRate: loss, seed: 7, provider: 'plaintext', ...(SIM_TRACE !== undefined && loss === 0 ? { traceMs: SIM_TRACE, traceUntilMs: 1000 } : {}) });
    const goodput = (r.received * 8) / (r.doneMs / 1000);
    const fraction = goodput / (SIM_BPS * (1 - loss));
    const steady = ((r.received - r.receivedBeforeSteady) * 8) / ((r.doneMs - STEADY_AFTER_MS) / 1000) / (SIM_BPS * (1 - loss));
    const mss = r.mtu - 28; // rough app bytes per packet for the Reno estimate (IP+UDP excluded, our headers ignored)
    const mathis = Math.min(1, mathisBps(mss, SIM_RTT_MS, loss) / (SIM_BPS * (1 - loss)));
    // the header ceiling: stream bytes in a full packet / bytes on the link (IP + UDP 28, short header,
    // STREAM frame with a 4-byte offset and 2-byte length; plaintext keys add nothing)
    const ceiling = (r.mtu - SHORT_HEADER_LEN - 8) / (r.mtu + 28);
    const bound = loss === 0 ? round(slowStartBound(simMB * 1e6, ceiling, IW ?? 10, 1200), 4) : undefined;
    const row = { lossRate: loss, goodputMbps: round(goodput / 1e6), fraction: round(fraction, 3), steadyFraction: round(steady, 3), headerCeilingFraction: round(ceiling, 4), slowStartBoundFraction: bound, goal: goals[String(loss)], mathisRenoFraction: round(mathis, 3), seconds: round(r.doneMs / 1000, 2), packetsLost: r.lost, mtu: r.mtu, cc: r.cc, wallMs: Math.round(performance.now() - w0) };
    out.push(row);
    log(`  loss ${(loss * 100).toFixed(1).padStart(4)}%  goodput ${row.goodputMbps} Mbit/s = ${row.fraction} of capacity, ${row.steadyFraction} after 1 s, header ceiling ${row.headerCeilingFraction}${bound ? `, cold-start bound ${bound}` : ''} (goal ${row.goal}; Reno/Mathis ${row.mathisRenoFraction})  [${row.wallMs} ms wall]`);
  }
  return { megabytes: simMB, bottleneckMbps: SIM_BPS / 1e6, rttMs: SIM_RTT_MS, results: out };
}

function ttfb(providers: string[]) {
  const out = [];
  log(`ttfb (sim, ${SIM_RTT_MS} ms RTT), in RTTs`);
  for (const provider of providers) {
    const r = simTransfer({ bytes: 100, lossRate: 0, seed: 3, provider, replyBytes: 100 });
    const row = { provider, clientCanSendRtt: round(r.connectedMs / SIM_RTT_MS, 3), serverFirstByteRtt: round(r.serverFirstByteMs / SIM_RTT_MS, 3), clientFirstReplyByteRtt: round(r.clientFirstReplyMs / SIM_RTT_MS, 3) };
    out.push(row);
    log(`  ${provider.padEnd(10)} client may send after ${row.clientCanSendRtt} RTT; first byte at server ${row.serverFirstByteRtt} RTT; first reply byte at client ${row.clientFirstReplyByteRtt} RTT`);
  }
  return out;
}

// ------------------------------------------------------------------ handshakes per second

function handshakes(providers: string[], seconds: number) {
  const out = [];
  log(`handshakes/s (one core, in-process sans-IO pair)`);
  const ca: UdpAddress = { address: '198.51.100.1', port: 5000 }, sa: UdpAddress = { address: '203.0.113.1', port: 4433 };
  for (const provider of providers) {
    const p = benchProviders[provider]();
    let n = 0, now = 0;
    const rnd = seededRandom(1);
    // warm-up (JIT, lazy module compilation): the first 0.5 s are not counted
    const warm = performance.now() + 500;
    let w0 = performance.now();
    while (performance.now() - w0 < seconds * 1000 || w0 < warm) {
      if (w0 < warm && performance.now() >= warm) { w0 = performance.now(); n = 0; }
      const client = new Endpoint({ crypto: p.client, random: rnd });
      const server = new Endpoint({ crypto: p.server, random: rnd, server: true });
      const c = client.connect(now, sa, { serverStatic: p.serverStatic });
      let s: Connection | undefined;
      for (let round = 0; round < 20 && !(c.handshakeConfirmed && s?.handshakeConfirmed); round++) {
        now += 1;
        for (let t = client.pollTransmit(now); t; t = client.pollTransmit(now)) server.handleDatagram(now, ca, t.bytes);
        for (let e = server.pollEvent(); e; e = server.pollEvent()) s = e.connection;
        for (let t = server.pollTransmit(now); t; t = server.pollTransmit(now)) client.handleDatagram(now, sa, t.bytes);
      }
      if (!c.handshakeConfirmed || !s?.handshakeConfirmed) throw new Error(`${provider}: handshake did not complete`);
      n++;
    }
    const perSec = n / ((performance.now() - w0) / 1000);
    out.push({ provider, handshakesPerSecond: Math.round(perSec) });
    log(`  ${provider.padEnd(10)} ${Math.round(perSec)} handshakes/s`);
  }
  return out;
}

// ------------------------------------------------------------------ main

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

/**
 * Issue 4's goal (encrypted >= 0.8 x plaintext goodput), per path and socket kind: noise /
 * plaintext of the median goodput over rounds, with the median CPU us per packet of each side.
 */
function encryptedVsPlaintext(results: LoopResult[]): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  const of = (name: string) => results.filter((r) => r.name === name);
  for (const r of results) {
    const m = /^tincan plaintext (.+)$/.exec(r.name);
    if (!m || out[m[1]]) continue;
    const pt = of(r.name), nz = of(`tincan noise ${m[1]}`);
    if (nz.length === 0) continue;
    const side = (rs: LoopResult[]) => ({
      mbps: round(median(rs.map((x) => x.mbps))),
      cpuUsPerPacketSender: round(median(rs.map((x) => x.cpuUsPerPacketSender ?? NaN)), 3),
      cpuUsPerPacketReceiver: round(median(rs.map((x) => x.cpuUsPerPacketReceiver ?? NaN)), 3),
      runs: rs.length,
    });
    const a = side(pt), b = side(nz);
    out[m[1]] = { value: round(b.mbps / a.mbps, 3), goal: 0.8, plaintext: a, noise: b };
  }
  return Object.keys(out).length ? out : null;
}

// ------------------------------------------------------------------ the AEAD bound of issue 4's goal

const TAG = 16;

/**
 * CPU us per packet of the session layer's packet AEAD as the transport calls it, in this
 * process: NoisePacketKeys.sealInto in place (sender) and openInPlaceLength (receiver) of
 * `packetBytes`-byte short-header packets (header = AD, plaintext = the rest minus the tag).
 * Opens go through `count` distinct sealed copies (restored between passes, not timed) with
 * fresh keys per pass (the replay window). Min over 5 alternated reps of ~10 ms each.
 */
function aeadCostUs(packetBytes: number): { seal: number; open: number } {
  const key = new Uint8Array(32).fill(7), hdr = new Uint8Array(SHORT_HEADER_LEN).fill(0x40);
  const len = packetBytes - SHORT_HEADER_LEN - TAG;
  const send = NoisePacketKeys.create(key, 'send', [newPacketStats()]);
  const buf = new Uint8Array(packetBytes), plain = buf.subarray(SHORT_HEADER_LEN, SHORT_HEADER_LEN + len);
  const count = Math.max(8, Math.min(256, Math.floor(524_288 / packetBytes)));
  const sealed = Array.from({ length: count }, (_, i) => { const b = new Uint8Array(len + TAG); b.set(plain.subarray(0, len)); send.sealInto(i, hdr, b.subarray(0, len), b, 0); return b; });
  const copies = sealed.map((b) => b.slice());
  const passes = Math.max(1, Math.round(10_000 / ((packetBytes / 1000 + 0.3) * count))); // ~10 ms per rep
  let pn = count;
  const us = (f: () => number) => { const c0 = process.cpuUsage(); const n = f(); const u = process.cpuUsage(c0); return (u.user + u.system) / n; };
  const sealRep = () => us(() => { for (let i = 0; i < passes * count; i++) send.sealInto(pn++, hdr, plain, buf, SHORT_HEADER_LEN); return passes * count; });
  const openRep = () => {
    let cpu = 0;
    for (let p = 0; p < passes; p++) {
      for (let i = 0; i < count; i++) copies[i].set(sealed[i]);
      const recv = NoisePacketKeys.create(key, 'recv', [newPacketStats()]);
      cpu += us(() => { for (let i = 0; i < count; i++) if (recv.openInPlaceLength(i, hdr, copies[i]) !== len) throw new Error('aead bound: open failed'); return count; }) * count;
      recv.destroy();
    }
    return cpu / (passes * count);
  };
  sealRep(); openRep(); // warm-up
  let seal = Infinity, open = Infinity;
  for (let r = 0; r < 5; r++) { seal = Math.min(seal, sealRep()); open = Math.min(open, openRep()); }
  send.destroy();
  return { seal: round(seal, 3), open: round(open, 3) };
}

/**
 * OpenSSL's own figure on this machine, the floor any ChaCha20-Poly1305 reaches here:
 * `openssl speed -evp chacha20-poly1305 -bytes <plaintext bytes> -seconds 1` (its CPU time),
 * as us per packet. Skipped with a reason when there is no `openssl` binary or no figure.
 */
function opensslFloorUs(plaintextBytes: number): { command: string; usPerPacket: number; bytesPerSecond: number } | { skipped: string } {
  const args = ['speed', '-evp', 'chacha20-poly1305', '-bytes', String(plaintextBytes), '-seconds', '1'];
  const command = `openssl ${args.join(' ')}`;
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 15_000 });
  if (r.error) return { skipped: `${command}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no openssl binary' : r.error.message}` };
  // the last line: "ChaCha20-Poly1305  1756844.71k" (1000s of bytes per second)
  const m = /^\S*chacha20[-\s]?poly1305\S*\s+([\d.]+)k\s*$/im.exec(r.stdout ?? '');
  if (!m) return { skipped: `${command}: no figure in its output (exit ${r.status})` };
  const bytesPerSecond = Number(m[1]) * 1000;
  return { command, usPerPacket: round((plaintextBytes / bytesPerSecond) * 1e6, 3), bytesPerSecond: Math.round(bytesPerSecond) };
}

/**
 * The best encrypted / plaintext goodput ratio the measured costs allow, per path of
 * goals.encryptedVsPlaintext: each side's plaintext CPU per packet (median over rounds, this
 * run) plus what the AEAD adds to it (seal: sender, open: receiver), measured in this process
 * (aeadCostUs). A CPU-bound transfer runs at the pace of its busier process, so
 * bound = max(ptS, ptR) / max(ptS + seal, ptR + open) — with the same side busier in both, the
 * lead's plaintext / (plaintext + AEAD) of that side. `opensslFloor`: the same bound with
 * OpenSSL's own ChaCha20-Poly1305 speed on this machine as the AEAD cost of both sides.
 */
function aeadBounds(evp: Record<string, unknown> | null, results: LoopResult[]): void {
  if (!evp) return;
  const cache = new Map<number, { seal: number; open: number }>(), floors = new Map<number, ReturnType<typeof opensslFloorUs>>();
  for (const [path, entry] of Object.entries(evp)) {
    const e = entry as { plaintext: { cpuUsPerPacketSender: number; cpuUsPerPacketReceiver: number } };
    const noiseSizes = results.filter((r) => r.name === `tincan noise ${path}` && typeof r.packetBytes === 'number').map((r) => r.packetBytes as number);
    const packetBytes = path.startsWith('1200') ? 1200 : noiseSizes.length ? median(noiseSizes) : 65_000;
    const ptS = e.plaintext.cpuUsPerPacketSender, ptR = e.plaintext.cpuUsPerPacketReceiver;
    if (!Number.isFinite(ptS) || !Number.isFinite(ptR)) continue;
    if (!cache.has(packetBytes)) cache.set(packetBytes, aeadCostUs(packetBytes));
    const aead = cache.get(packetBytes)!;
    const plaintextBytes = packetBytes - SHORT_HEADER_LEN - TAG;
    if (!floors.has(plaintextBytes)) floors.set(plaintextBytes, opensslFloorUs(plaintextBytes));
    const floor = floors.get(plaintextBytes)!;
    const bound = (seal: number, open: number) => round(Math.max(ptS, ptR) / Math.max(ptS + seal, ptR + open), 3);
    Object.assign(entry as object, {
      bound: bound(aead.seal, aead.open),
      aeadBound: {
        packetBytes, aeadImpl: PACKET_AEAD_IMPL, aeadUsPerPacket: aead,
        plaintextCpuUsPerPacket: { sender: ptS, receiver: ptR },
        busierSide: ptS + aead.seal >= ptR + aead.open ? 'sender' : 'receiver',
        boundSender: round(ptS / (ptS + aead.seal), 3), boundReceiver: round(ptR / (ptR + aead.open), 3),
        opensslFloor: 'skipped' in floor ? floor : { ...floor, plaintextBytes, bound: bound(floor.usPerPacket, floor.usPerPacket) },
      },
    });
    log(`  bound ${path}: plaintext ${ptS}/${ptR} us per packet (send/recv) + AEAD ${aead.seal}/${aead.open} us -> ${bound(aead.seal, aead.open)}`
      + ('skipped' in floor ? ` (openssl: ${floor.skipped})` : `; with openssl speed's ${floor.usPerPacket} us -> ${bound(floor.usPerPacket, floor.usPerPacket)}`));
  }
}

function round(x: number, digits = 1): number { const f = 10 ** digits; return Math.round(x * f) / f; }

async function main(): Promise<void> {
  const only = (flag('only') ?? 'loopback,sim,ttfb,handshakes').split(',');
  const providers = (flag('providers') ?? DEFAULT_PROVIDERS.join(',')).split(',').filter((p) => benchProviders[p]);
  const t0 = performance.now();
  // packetAead: which implementation sealed noise packets ('openssl' addon when built, else 'libsodium')
  const result: Record<string, unknown> = { node: process.version, providers, packetAead: PACKET_AEAD_BACKEND };
  if (only.includes('handshakes')) result.handshakes = handshakes(providers, num('handshake-seconds', 1.5));
  if (only.includes('ttfb')) result.ttfb = ttfb(providers);
  if (only.includes('sim')) result.sim = sim(num('sim-mb', 100));
  if (only.includes('loopback')) {
    const lb = await loopback(num('size', 256), providers);
    const udx = lb.results.find((r) => r.name === 'udx-native');
    const best = (label: string, udp?: UdpKind) => Math.max(0, ...lb.results.filter((r) => r.name.startsWith(`tincan plaintext ${label}`) && (udp === undefined || r.udp === udp)).map((r) => r.mbps));
    const goal = (label: string, target: number) => {
      if (!udx) return null;
      const byUdp = UDP_KINDS[0] === undefined ? undefined : Object.fromEntries(UDP_KINDS.map((k) => [k, round(best(label, k) / udx.mbps, 3)]));
      return { value: round(best(label) / udx.mbps, 3), goal: target, ...(byUdp ? { byUdp } : {}) };
    };
    result.loopback = lb;
    const evp = encryptedVsPlaintext(lb.results);
    const b0 = performance.now();
    aeadBounds(evp, lb.results);
    result.goals = { loopback1200VsUdx: goal('1200', 1.0), loopbackPmtudVsUdx: goal('pmtud', 2.5), encryptedVsPlaintext: evp };
    if (evp) result.aeadBoundSeconds = round((performance.now() - b0) / 1000, 2);
  }
  result.wallSeconds = round((performance.now() - t0) / 1000, 1);
  process.stdout.write(JSON.stringify(result, null, JSON_ONLY ? 0 : 2) + '\n');
}

if (process.argv.includes('--child')) {
  runChild(JSON.parse(process.argv[process.argv.indexOf('--child') + 1]) as Role).catch((e) => { process.stderr.write(`child: ${(e as Error).stack}\n`); process.exit(1); });
} else {
  main().then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
}
