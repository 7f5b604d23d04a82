// Relay benchmark (`npm run bench:relay -- --json`): one `tincan supernode` process on
// loopback versus a direct path, in the same run, same sockets, same payloads.
//   latency:    ping-pong of 64-byte payloads, RTT p50/p99; added one-way latency
//               = (relayed RTT - direct RTT) / 2
//   throughput: 1200-byte payloads, a window of 128 datagrams in flight, receiver
//               acknowledges every 16; datagrams/s and MB/s delivered; CPU per delivered
//               datagram of the bench process (sender + receiver) and of the relay process
//               (/proc/<pid>/stat). The payload is wrapped in its DATA header once, not per
//               datagram (the direct path sends it as is).
//   forwarderCore: the sans-IO RelayForwarder alone, ns per forwarded datagram: per datagram
//               (handleDatagram + pollInto) and, as runNsPerDatagram, through its batch path
//               (handleRun on runs of 40 + pollRunInto: what the relay runs over the native socket)
//   windowSweep: the raw throughput phase again per window (--windows, default 128,512,2048):
//               with a fixed window throughput = window / RTT, so the relayed path's longer
//               RTT costs it by construction at a small window. Each entry: direct vs relayed,
//               plus CPU utilisation over the phase (CPU time / wall time) of the bench process
//               (sender + receiver, one event loop) and of the relay process, and which is the
//               bottleneck (>= 0.9 of a core = saturated); benchSockets: the bench sockets'
//               datagrams per sendmmsg / per receive batch (native socket).
//   capacity:   from the sweep (the same windows for both paths): per path the most datagrams/s
//               of any window and the smallest window reaching 0.9 of it (where throughput
//               stopped growing), and relayed/direct of those maxima — the figure to hold
//               against the 0.8 goal. Why not the window-128 figure: the main phases' ratio is
//               latency-bound, not capacity-bound. Direct, sender and receiver share one process
//               and one core, so a flush delivers into the receiver's socket inside the sending
//               syscall and nothing ever sleeps (direct RTT ~0.03 ms); relayed, every hop crosses
//               to the other process and core and wakes a sleeping event loop (relayed RTT
//               ~0.2-0.3 ms, ~10x), so 128 in flight over that RTT caps it while both processes
//               idle part of the time (relay ~0.35 of a core, bench < 1). Measured here
//               (2026-12-02, perf cpu-clock on the bench process, window 2048): per relayed
//               datagram the bench pays ~0.1 us more in wake-ups of the relay (try_to_wake_up
//               IPIs: _raw_spin_unlock_irqrestore, finish_task_switch) and ~0.2 us more in the
//               kernel's copy into skbs whose memory the relay's core touched last; the receive
//               batches (~800 vs ~1000 datagrams per recvmmsg) and GRO runs (the relay forwards
//               each received GRO run as one GSO run) were not the difference.
//               The relay's answer to the wake-ups: adaptive busy polling (src/overlay/relay-busy-poll.ts,
//               on by default in `tincan supernode`): from 50,000 datagrams/s the relay's socket keeps
//               polling for 200 us after its last datagram instead of sleeping (an empty poll yields the
//               core to any other runnable task), so a sender's flush finds it awake (measured: the
//               relay's voluntary context switches per 1,000 relayed datagrams 4.5-6 -> < 0.4 at window
//               2048, 25 -> 0.1 at 128). The receiving side then wakes more often instead (the relay
//               forwards sooner, in smaller flushes). Its CPU (relayCpuUtilisation,
//               relayCpuUsPerDatagram) includes the spinning. A/B in one session:
//               TINCAN_RELAY_ADAPTIVE_BUSY_POLL=0 in the bench's environment (the relay process
//               inherits it) turns it off; TINCAN_RELAY_BUSY_POLL_US=<us> spins always.
//   transfer:   what a user gets: a tincan transport bulk transfer (--transfer-mib, default 64,
//               one stream, 1200-byte transport datagrams, no PMTUD) per provider
//               (--transfer-providers, default plaintext,noise), direct and through the relay
//               alternating (--transfer-phases, default 2 each). Relayed, each transport datagram
//               travels in the relay's DATA header for the session both bench sockets are bound
//               to (bench/relay-transfer.ts RelayedSocket; 1210 bytes on the wire vs 1200
//               direct). Both endpoints live in the bench process, as in the raw phase: the
//               relay process then has a core of its own (as on its own machine) and direct and
//               relayed get the same endpoint CPU (one core), so the ratio shows what the relay
//               hop costs, not CPU contention between three processes on a 2-core machine.
//               Mbit/s of application data (first write to the receiver's end of stream),
//               SHA-256 of what arrived vs what was sent, CPU of both processes.
//               --transfer-procs 1,2 (default both): 2 runs the same transfers again with sender
//               and receiver each in a child process (bench/relay-transfer-child.ts; a fresh device
//               pair and ticket per relayed run, a 16 MiB warm-up stream first, not measured):
//               endpoints as on two machines, but then three busy processes share the 2 cores
//               and the relay competes with the endpoints — reported as transfer.twoProcesses.
//   summary:    one line: which figure meets / misses the 0.8 goal and why.
//   goals:      transferRatioAtLeast0_8 is the measure of "relayed throughput": real
//               tincan transfers (congestion-controlled, encrypted or not, hash-checked) through
//               the relay vs direct, every one >= 0.8 (transferRatios lists them). The raw
//               blaster is a diagnostic of the hop's cost, not of what a user gets: its direct
//               path is one process sending to itself on one core (the kernel's copies stay in
//               that core's cache), while relayed, the relay's core touches every datagram in
//               between (cross-core copies, wake-ups), an artefact of one machine; it is reported
//               as throughputRatioAtLeast0_8 (window 128, latency-bound) and
//               capacityRatioAtLeast0_8 (the sweep's maxima).
// Real UDP on 127.0.0.1, real Ed25519 ticket (src/wire/ticket.ts). Bounded: fixed
// counts and a time cap per phase. Options: --json, --seconds <per path, throughput; default 3>,
// --phases <n: direct and relayed alternate n times, default 3; the ratio is total relayed
// over total direct, so load changing during the run hits both>, --window <datagrams>.
// UDP implementation: whatever bindUdp() returns in this process and in the relay process
// (the native batched socket when its addon is built, else node:dgram; TINCAN_UDP=dgram
// forces node:dgram in both) — reported as `udp`. `--udp native,dgram` runs the whole
// benchmark once per implementation (each in its own process, TINCAN_UDP set for it and
// for its relay, in that order, `--rounds N` times alternating) and reports each run's
// figures under `byUdp` and the ratios side by side.
// `--relay-busy-poll adaptive,off` does the same per busy-poll mode of the relay (env
// TINCAN_RELAY_ADAPTIVE_BUSY_POLL for the run and its relay; `--rounds N` alternating) and
// reports under `byBusyPoll`: the relay's adaptive busy polling vs none, measured alike.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import sodium from 'sodium-native';
import { bindUdp, realClock } from '../src/datagram/udp.ts';
import { signTicket } from '../src/wire/ticket.ts';
import { deviceIdHex } from '../src/overlay/ticket-verifier.ts';
import { decodeRelayMessage, encodeRelayMessage, DATA_HEADER_BYTES } from '../src/overlay/relay-wire.ts';
import { RelayForwarder } from '../src/overlay/relay.ts';
import type { DatagramSocket, UdpAddress } from '../src/wire/socket.ts';
import { benchProviders } from './providers.ts';
import { BorrowedSocket, RelayedSocket, ownsReceived, sha256, transfer, type BenchSocket, type TransferResult } from './relay-transfer.ts';
import { randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import type { ChildRole } from './relay-transfer-child.ts';
import { cpus } from 'node:os';

const json = process.argv.includes('--json');
const busyArg = process.argv.indexOf('--relay-busy-poll');
const udpArg = busyArg > 0 ? busyArg : process.argv.indexOf('--udp');
if (udpArg > 0) {
  // One child run per implementation / busy-poll mode (and round), each measuring direct and relayed in the same run.
  const flag = busyArg > 0 ? '--relay-busy-poll' : '--udp';
  const impls = process.argv[udpArg + 1].split(',').filter(Boolean);
  const envOf = (impl: string): Record<string, string> => (busyArg > 0 ? { TINCAN_RELAY_ADAPTIVE_BUSY_POLL: impl === 'off' ? '0' : '1' } : { TINCAN_UDP: impl });
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 1;
  const pass = process.argv.slice(2).filter((a, i, all) => a !== flag && all[i - 1] !== flag && a !== '--rounds' && all[i - 1] !== '--rounds' && a !== '--json');
  const byUdp: Record<string, Record<string, unknown>[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const impl of impls) {
      const out = await new Promise<string>((res, rej) => {
        const c = spawn(process.execPath, [...process.execArgv, import.meta.filename, '--json', ...pass], { env: { ...process.env, ...envOf(impl) }, stdio: ['ignore', 'pipe', 'inherit'] });
        let buf = '';
        c.stdout!.setEncoding('utf8').on('data', (d: string) => { buf += d; });
        c.once('exit', (code) => (code === 0 ? res(buf) : rej(new Error(`bench run with ${JSON.stringify(envOf(impl))} exited ${code}`))));
      });
      (byUdp[impl] ??= []).push(JSON.parse(out) as Record<string, unknown>);
    }
  }
  const ratios = Object.fromEntries(Object.entries(byUdp).map(([k, runs]) => [k, runs.map((x) => ({
    udp: x.udp, relayBusyPoll: x.relayBusyPoll, relayedOverDirectThroughput: x.relayedOverDirectThroughput, perPhasePair: x.relayedOverDirectPerPhasePair, addedOneWayLatencyP50Ms: x.addedOneWayLatencyP50Ms,
    directDatagramsPerSec: (x.direct as { datagramsPerSec: number }).datagramsPerSec, relayedDatagramsPerSec: (x.relayed as { datagramsPerSec: number }).datagramsPerSec,
    relayCpuUsPerDatagram: (x.relayed as { relayCpuUsPerDatagram?: number }).relayCpuUsPerDatagram,
    capacityRatio: (x.capacity as { relayedOverDirect?: number } | undefined)?.relayedOverDirect,
    windowSweepRatios: Object.fromEntries(((x.windowSweep ?? []) as { window: number; relayedOverDirect: number }[]).map((w) => [w.window, w.relayedOverDirect])),
    transferRatios: Object.fromEntries(Object.entries(((x.transfer as { byProvider?: Record<string, { relayedOverDirect: number }> } | undefined)?.byProvider) ?? {}).map(([k, t]) => [k, t.relayedOverDirect])),
    summary: x.summary,
  }))]));
  const result = busyArg > 0 ? { bench: 'relay', byBusyPollSummary: ratios, byBusyPoll: byUdp } : { bench: 'relay', byUdpSummary: ratios, byUdp };
  if (json) console.log(JSON.stringify(result, null, 2));
  else for (const [k, runs] of Object.entries(ratios)) for (const x of runs) console.log(`${k}: relayed/direct ${x.relayedOverDirectThroughput} (${x.relayedDatagramsPerSec} / ${x.directDatagramsPerSec} dgram/s), added p50 ${x.addedOneWayLatencyP50Ms} ms, relay ${x.relayCpuUsPerDatagram} us CPU/datagram`);
  process.exit(0);
}
const secondsArg = process.argv.indexOf('--seconds');
const PHASE_MS = (secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3) * 1000;
const PINGS = 3000;
const PAYLOAD = 1200;
const phasesArg = process.argv.indexOf('--phases');
/** Throughput phases per path, alternating direct/relayed (PHASE_MS per path in total). */
const PHASES = phasesArg > 0 ? Math.max(1, Number(process.argv[phasesArg + 1])) : 3;
const windowArg = process.argv.indexOf('--window');
const WINDOW = windowArg > 0 ? Number(process.argv[windowArg + 1]) : 128;
const ACK_EVERY = 16;
const argOf = (name: string): string | undefined => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : undefined; };
/** --windows 128,512,2048 (or none): the raw phase's window sweep. */
const WINDOWS = (argOf('windows') ?? '128,512,2048').split(',').filter((w) => w && w !== 'none').map(Number);
/** --transfer-mib N (0: no transfer phase), --transfer-providers plaintext,noise, --transfer-phases N. */
const TRANSFER_MIB = Number(argOf('transfer-mib') ?? 64);
const TRANSFER_PROVIDERS = (argOf('transfer-providers') ?? 'plaintext,noise').split(',').filter(Boolean);
const TRANSFER_PHASES = Math.max(1, Number(argOf('transfer-phases') ?? 2));
/** --transfer-procs 1,2: endpoints in the bench process (1) and/or each in a child process of its own (2). */
const TRANSFER_PROCS = (argOf('transfer-procs') ?? '1,2').split(',').map(Number);
/** A core counts as saturated from this CPU time / wall time on. */
const SATURATED = 0.9;

const pk = Buffer.alloc(32), sk = Buffer.alloc(64);
sodium.crypto_sign_keypair(pk, sk);
const devA = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const devB = Uint8Array.from({ length: 16 }, (_, i) => 0x80 + i);
const now = Date.now();
const ticket = signTicket({ issuedAt: now, expiresAt: now + 600_000, deviceA: devA, deviceB: devB }, sk);

// ---- the relay process ----
// RELAY_BIN: another tincan build's bin/tincan.js (compare an old relay with the new one in one session).
const bin = process.env.RELAY_BIN ?? resolve(import.meta.dirname, '..', 'bin', 'tincan.js');
// RELAY_NODE_ARGS: extra node flags for the relay process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
const relayNodeArgs = (process.env.RELAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
const relayProc = spawn(process.execPath, [...relayNodeArgs, bin, 'supernode', '--directory-key', pk.toString('hex'), '--bind', '127.0.0.1', '--port', '0',
  '--allow-loopback', '--device-bytes-per-sec', '1e10', '--total-bytes-per-sec', '1e10', '--stats-interval', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
/** The relay's busy polling as its listening line says ('adaptive', 'off', microseconds; undefined: a relay build before --busy-poll). */
let relayBusyPoll: string | undefined;
const relayAddr: UdpAddress = await new Promise((res, rej) => {
  let buf = '';
  relayProc.stdout!.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    const m = /\{"event":"listening"[^\n]*\}/.exec(buf);
    if (m) { const o = JSON.parse(m[0]) as { address: string; port: number; busyPoll?: string }; relayBusyPoll = o.busyPoll; res({ address: o.address, port: o.port }); }
  });
  relayProc.once('exit', (code) => rej(new Error(`relay exited early (${code})`)));
  setTimeout(() => rej(new Error('relay did not start within 20 s')), 20_000).unref();
});

try {
  const a = await bindUdp({ address: '127.0.0.1' });
  const b = await bindUdp({ address: '127.0.0.1' });
  const udpKind = (a as unknown as { kind?: string }).kind ?? 'dgram';

  // Bind both devices at the relay.
  const session = await new Promise<bigint>((res, rej) => {
    let sid: bigint | undefined;
    let bound = 0;
    for (const [sock, dev] of [[a, devA], [b, devB]] as const) {
      sock.onDatagram((_from, bytes) => {
        const m = decodeRelayMessage(bytes);
        if (m.type === 'error') rej(new Error(`relay refused: ${m.code} ${m.reason}`));
        if (m.type === 'bind-ok') { sid = m.sessionId; if (++bound === 2) res(sid); }
      });
      sock.send(relayAddr, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(dev), ticket }));
    }
    setTimeout(() => rej(new Error('no BIND-OK within 5 s')), 5000).unref();
  });

  /** payloadLength: the payload's length without a copy or a view (-1: not ours), the throughput receiver's hot path. */
  interface Path { name: string; aTo: UdpAddress; bTo: UdpAddress; wrap: (p: Uint8Array) => Uint8Array; unwrap: (p: Uint8Array) => Uint8Array; payloadLength: (p: Uint8Array) => number }
  const direct: Path = { name: 'direct', aTo: b.local, bTo: a.local, wrap: (p) => p, unwrap: (p) => p, payloadLength: (p) => p.length };
  // The relayed receiver checks the DATA header's session id byte by byte (no bigint per datagram).
  const sidBytes = encodeRelayMessage({ type: 'data', sessionId: session, payload: new Uint8Array(0) }).subarray(0, DATA_HEADER_BYTES);
  const ourData = (p: Uint8Array): boolean => {
    if (p.length < DATA_HEADER_BYTES) return false;
    for (let i = 0; i < DATA_HEADER_BYTES; i++) if (p[i] !== sidBytes[i]) return false;
    return true;
  };
  const relayed: Path = {
    name: 'relayed', aTo: relayAddr, bTo: relayAddr,
    wrap: (p) => { const out = new Uint8Array(DATA_HEADER_BYTES + p.length); out.set(encodeRelayMessage({ type: 'data', sessionId: session, payload: new Uint8Array(0) })); out.set(p, DATA_HEADER_BYTES); return out; },
    unwrap: (p) => (ourData(p) ? p.subarray(DATA_HEADER_BYTES) : new Uint8Array(0)),
    payloadLength: (p) => (ourData(p) ? p.length - DATA_HEADER_BYTES : -1),
  };

  const percentile = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];

  async function pingPong(path: Path): Promise<{ p50: number; p99: number; lost: number }> {
    const rtts: number[] = [];
    let lost = 0;
    b.onDatagram((_f, bytes) => { const p = path.unwrap(bytes); if (p.length) b.send(path.bTo, path.wrap(p)); });
    for (let i = 0; i < PINGS; i++) {
      const payload = new Uint8Array(64);
      new DataView(payload.buffer).setUint32(0, i);
      const t0 = performance.now();
      const ok = await new Promise<boolean>((res) => {
        const timer = setTimeout(() => res(false), 200);
        a.onDatagram((_f, bytes) => {
          const p = path.unwrap(bytes);
          if (p.length >= 4 && new DataView(p.buffer, p.byteOffset).getUint32(0) === i) { clearTimeout(timer); res(true); }
        });
        a.send(path.aTo, path.wrap(payload));
      });
      if (ok) rtts.push(performance.now() - t0); else lost++;
    }
    rtts.sort((x, y) => x - y);
    return { p50: percentile(rtts, 0.5), p99: percentile(rtts, 0.99), lost };
  }

  /**
   * The bench sockets' batching (native socket only): sendmmsg calls and datagrams per call of the
   * sender (a), receive batches and datagrams per batch of the receiver (b). With `since`: the change.
   */
  type SockStats = { aSendCalls: number; aSent: number; bRecvBatches: number; bReceived: number };
  function socketStats(since?: SockStats): (SockStats & { aPerSendCall?: number; bPerRecvBatch?: number }) | undefined {
    const ca = a.counters as unknown as Record<string, number>, cb = b.counters as unknown as Record<string, number>;
    if (ca.sendSyscalls === undefined || cb.recvBatches === undefined) return undefined;
    const now = { aSendCalls: ca.sendSyscalls, aSent: ca.sent, bRecvBatches: cb.recvBatches, bReceived: cb.received };
    if (!since) return now;
    const d = { aSendCalls: now.aSendCalls - since.aSendCalls, aSent: now.aSent - since.aSent, bRecvBatches: now.bRecvBatches - since.bRecvBatches, bReceived: now.bReceived - since.bReceived };
    return { ...d, aPerSendCall: +(d.aSent / Math.max(1, d.aSendCalls)).toFixed(1), bPerRecvBatch: +(d.bReceived / Math.max(1, d.bRecvBatches)).toFixed(1) };
  }

  /** Busy and total jiffies of the whole machine (all cores, /proc/stat): how loaded the 2 shared cores were, other helpers included. */
  const machineJiffies = (): { busy: number; total: number } | undefined => {
    try {
      const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
      const total = f.reduce((x, y) => x + y, 0);
      return { busy: total - f[3] - f[4], total }; // minus idle, iowait
    } catch { return undefined; }
  };
  /** Cores busy on average since `m0` (e.g. 1.8 of 2). */
  const machineBusyCores = (m0: ReturnType<typeof machineJiffies>): number | undefined => {
    const m1 = machineJiffies();
    if (!m0 || !m1 || m1.total === m0.total) return undefined;
    return +(((m1.busy - m0.busy) / (m1.total - m0.total)) * cpus().length).toFixed(2);
  };

  /** CPU time (user + system, ms) of the relay process so far, from /proc (undefined elsewhere); `sys`: the system (kernel) part only. */
  const relayCpuMs = (sys = false): number | undefined => {
    try {
      const f = readFileSync(`/proc/${relayProc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (((sys ? 0 : Number(f[11])) + Number(f[12])) * 1000) / 100; // utime + stime, in USER_HZ (100) ticks
    } catch { return undefined; }
  };

  interface Phase { received: number; sent: number; elapsedS: number; cpuUs: number; relayCpuMs?: number; relaySysMs?: number; sock?: ReturnType<typeof socketStats>; stalls: number }

  /** One throughput phase of `phaseMs` on `path`: raw sums (combined by throughput()). */
  async function throughputPhase(path: Path, phaseMs: number, window = WINDOW): Promise<Phase> {
    let received = 0;
    let acked = 0;
    let sent = 0;
    let writtenOff = 0; // datagrams given up as lost after a stall
    let stalls = 0;
    let lastProgress = performance.now();
    const payload = new Uint8Array(PAYLOAD);
    // the ACK is wrapped once (relayed: its DATA header encoded once, as the payload is) and its
    // counter rewritten in place; send() copies, so one buffer serves every ACK on either path
    const ackOut = path.wrap(new Uint8Array(8));
    const ackCounter = new DataView(ackOut.buffer, ackOut.byteOffset + ackOut.length - 8, 8);
    b.onDatagram((_f, bytes) => {
      if (path.payloadLength(bytes) !== PAYLOAD) return;
      received++;
      if (received % ACK_EVERY === 0) { ackCounter.setUint32(0, received); b.send(path.bTo, ackOut); }
    });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const sock0 = socketStats();
    const relayCpu0 = relayCpuMs(), relaySys0 = relayCpuMs(true);
    await new Promise<void>((res) => {
      // The payload is the same every time: wrapped once, so neither path encodes per datagram
      // (direct sends it as is; the relay client's per-packet DATA header is not what is measured).
      const wrapped = path.wrap(payload);
      const pump = () => {
        while (sent - acked - writtenOff < window) { a.send(path.aTo, wrapped); sent++; }
      };
      a.onDatagram((_f, bytes) => {
        if (path.payloadLength(bytes) !== 8) return;
        const n = ((bytes[bytes.length - 8] << 24) | (bytes[bytes.length - 7] << 16) | (bytes[bytes.length - 6] << 8) | bytes[bytes.length - 5]) >>> 0;
        if (n > acked) { acked = n; lastProgress = performance.now(); }
        if (performance.now() - t0 < phaseMs) pump();
      });
      const watchdog = setInterval(() => {
        const t = performance.now();
        if (t - t0 >= phaseMs) { clearInterval(watchdog); res(); return; }
        if (t - lastProgress > 50) { writtenOff = sent - acked; lastProgress = t; stalls++; pump(); } // stall: losses, refill the window
      }, 10);
      pump();
    });
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const sock = socketStats(sock0);
    const relayCpu1 = relayCpuMs(), relaySys1 = relayCpuMs(true);
    await new Promise((r) => realClock.setTimer(performance.now() + 100, () => r(undefined)));
    const relayCpu = relayCpu0 !== undefined && relayCpu1 !== undefined && path.name === 'relayed' ? relayCpu1 - relayCpu0 : undefined;
    const relaySys = relaySys0 !== undefined && relaySys1 !== undefined && path.name === 'relayed' ? relaySys1 - relaySys0 : undefined;
    return { received, sent, elapsedS: elapsed, cpuUs: cpu.user + cpu.system, relayCpuMs: relayCpu, relaySysMs: relaySys, sock, stalls };
  }

  /** Combined figures of a path's phases. Per delivered payload datagram (acks, 1 per 16, ride along): the sender+receiver process, and the relay process. */
  function throughput(phases: Phase[]): { datagramsPerSec: number; mbPerSec: number; delivered: number; sent: number; phaseDatagramsPerSec: number[]; benchCpuUsPerDatagram: number; relayCpuUsPerDatagram?: number; relaySysUsPerDatagram?: number; benchSockets?: unknown; benchCpuUtilisation: number; relayCpuUtilisation?: number; stalls: number } {
    const sum = (f: (p: Phase) => number) => phases.reduce((acc, p) => acc + f(p), 0);
    const received = sum((p) => p.received), elapsed = sum((p) => p.elapsedS);
    const relayCpu = phases.every((p) => p.relayCpuMs !== undefined) ? sum((p) => p.relayCpuMs!) : undefined;
    const relaySys = phases.every((p) => p.relaySysMs !== undefined) ? sum((p) => p.relaySysMs!) : undefined;
    const sock = phases[phases.length - 1].sock;
    return {
      datagramsPerSec: Math.round(received / elapsed), mbPerSec: +((received * PAYLOAD) / elapsed / 1e6).toFixed(2), delivered: received, sent: sum((p) => p.sent),
      phaseDatagramsPerSec: phases.map((p) => Math.round(p.received / p.elapsedS)),
      benchCpuUsPerDatagram: +(sum((p) => p.cpuUs) / received).toFixed(2),
      ...(sock ? { benchSockets: sock } : {}),
      ...(relayCpu !== undefined ? { relayCpuUsPerDatagram: +((relayCpu * 1000) / received).toFixed(2) } : {}),
      // the kernel's share of it (system time: recvmmsg/sendmmsg, loopback delivery); 10 ms ticks
      ...(relaySys !== undefined ? { relaySysUsPerDatagram: +((relaySys * 1000) / received).toFixed(2) } : {}),
      // CPU time / wall time over the phases: 1 = one core busy the whole time
      benchCpuUtilisation: +(sum((p) => p.cpuUs) / 1e6 / elapsed).toFixed(3),
      ...(relayCpu !== undefined ? { relayCpuUtilisation: +(relayCpu / 1000 / elapsed).toFixed(3) } : {}),
      stalls: sum((p) => p.stalls),
    };
  }

  /** The sans-IO forwarder alone (no sockets): cost per forwarded datagram, to attribute the relay's cost. */
  function forwarderCore(): { nsPerDatagram: number; datagramsPerSec: number; runNsPerDatagram: number } {
    const r = new RelayForwarder({
      verifier: { verify: () => ({ ok: true, claims: { deviceA: 'a', deviceB: 'b', expiresAt: 1e15 } }) }, newSessionId: () => 1n,
      deviceBytesPerSec: 1e12, totalBytesPerSec: 1e12, deviceBurstBytes: 1e12, totalBurstBytes: 1e12,
    }, 0);
    const A = { address: '198.51.100.2', port: 1 }, B = { address: '198.51.100.3', port: 2 };
    r.handleDatagram(0, A, encodeRelayMessage({ type: 'bind', deviceId: 'a', ticket: new Uint8Array(10) }));
    r.handleDatagram(0, B, encodeRelayMessage({ type: 'bind', deviceId: 'b', ticket: new Uint8Array(10) }));
    while (r.pollTransmit());
    const d = encodeRelayMessage({ type: 'data', sessionId: 1n, payload: new Uint8Array(PAYLOAD) });
    const n = 300_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) { r.handleDatagram(i / 1000, A, d); r.pollTransmit(); }
    const ms = performance.now() - t0;
    // the batch path: runs of 40 (a GRO super-datagram) in, one run out
    const SEG = d.length, RUN = 40, run = new Uint8Array(SEG * RUN);
    for (let i = 0; i < RUN; i++) run.set(d, i * SEG);
    const slot = { to: A, bytes: d, segmentSize: 0 };
    const runs = n / RUN, t1 = performance.now();
    for (let i = 0; i < runs; i++) { r.handleRun(300 + i / 1000, A, run, 0, run.length, SEG); while (r.pollRunInto(slot)); }
    const runMs = performance.now() - t1;
    return { nsPerDatagram: Math.round((ms * 1e6) / n), datagramsPerSec: Math.round((n / ms) * 1000), runNsPerDatagram: Math.round((runMs * 1e6) / (runs * RUN)) };
  }

  // the machine's load from others (helpers share the 2 cores) while this bench idles for 0.5 s
  const bg0 = machineJiffies();
  await new Promise((r) => setTimeout(r, 500));
  const backgroundBusyCores = machineBusyCores(bg0);
  const results: Record<string, unknown> = { machineCores: cpus().length, backgroundBusyCores, forwarderCore: forwarderCore() };
  const lat = { direct: await pingPong(direct), relayed: await pingPong(relayed) };
  // Direct and relayed alternate in PHASES phases each (PHASE_MS per path in total), so that a
  // change in the machine's load during the run hits both paths alike.
  const phases: { direct: Phase[]; relayed: Phase[] } = { direct: [], relayed: [] };
  for (let i = 0; i < PHASES; i++) {
    phases.direct.push(await throughputPhase(direct, PHASE_MS / PHASES));
    phases.relayed.push(await throughputPhase(relayed, PHASE_MS / PHASES));
  }
  const thr = { direct: throughput(phases.direct), relayed: throughput(phases.relayed) };
  const ratio = +(thr.relayed.datagramsPerSec / thr.direct.datagramsPerSec).toFixed(3);
  const pairRatios = phases.direct.map((d, i) => (phases.relayed[i].received / phases.relayed[i].elapsedS) / (d.received / d.elapsedS)).sort((x, y) => x - y);
  const addedP50 = +((lat.relayed.p50 - lat.direct.p50) / 2).toFixed(4);
  const addedP99 = +((lat.relayed.p99 - lat.direct.p99) / 2).toFixed(4);

  // ---- the raw phase per window (same alternation as above) ----
  const bottleneck = (t: ReturnType<typeof throughput>, machineBusy: number): string => verdict(t.benchCpuUtilisation, t.relayCpuUtilisation, machineBusy, 'no process or machine saturated');
  const windowSweep = [];
  for (const w of WINDOWS) {
    const ph: { direct: Phase[]; relayed: Phase[] } = { direct: [], relayed: [] };
    const busy = { direct: 0, relayed: 0 };
    for (let i = 0; i < PHASES; i++) {
      let m0 = machineJiffies();
      ph.direct.push(await throughputPhase(direct, PHASE_MS / PHASES, w));
      busy.direct += (machineBusyCores(m0) ?? NaN) / PHASES;
      m0 = machineJiffies();
      ph.relayed.push(await throughputPhase(relayed, PHASE_MS / PHASES, w));
      busy.relayed += (machineBusyCores(m0) ?? NaN) / PHASES;
    }
    const t = { direct: throughput(ph.direct), relayed: throughput(ph.relayed) };
    const pick = (x: ReturnType<typeof throughput>, machineBusy: number) => ({
      datagramsPerSec: x.datagramsPerSec, mbPerSec: x.mbPerSec, phaseDatagramsPerSec: x.phaseDatagramsPerSec, sent: x.sent, delivered: x.delivered, stalls: x.stalls,
      benchCpuUtilisation: x.benchCpuUtilisation, benchCpuUsPerDatagram: x.benchCpuUsPerDatagram,
      ...(x.relayCpuUtilisation !== undefined ? { relayCpuUtilisation: x.relayCpuUtilisation, relayCpuUsPerDatagram: x.relayCpuUsPerDatagram, relaySysUsPerDatagram: x.relaySysUsPerDatagram } : {}),
      machineBusyCores: +machineBusy.toFixed(2), bottleneck: bottleneck(x, machineBusy),
      ...(x.benchSockets ? { benchSockets: x.benchSockets } : {}),
    });
    windowSweep.push({
      window: w, direct: pick(t.direct, busy.direct), relayed: pick(t.relayed, busy.relayed),
      relayedOverDirect: +(t.relayed.datagramsPerSec / t.direct.datagramsPerSec).toFixed(3),
    });
    if (!json) console.log(`raw window ${w}: direct ${t.direct.datagramsPerSec} dgram/s (bench CPU ${t.direct.benchCpuUtilisation}), relayed ${t.relayed.datagramsPerSec} dgram/s (bench CPU ${t.relayed.benchCpuUtilisation}, relay CPU ${t.relayed.relayCpuUtilisation}), ratio ${windowSweep.at(-1)!.relayedOverDirect}`);
  }

  const capacity = capacityOf(windowSweep);

  // ---- the transport transfer, direct vs relayed, alternating ----
  const transferOut: Record<string, unknown> = {};
  let transferTwoProcs: Record<string, unknown> | undefined;
  if (TRANSFER_MIB > 0) {
    const data = randomBytes(Math.round(TRANSFER_MIB * 1024 * 1024));
    const dataSha256 = sha256(data);
    const sa = a as unknown as BenchSocket, sb = b as unknown as BenchSocket;
    const owns = ownsReceived(a);
    type Run = TransferResult & { relayCpuMs?: number; machineBusyCores?: number; spanMs: number };
    const runs: Record<string, { direct: Run[]; relayed: Run[] }> = {};
    const once = (kind: 'direct' | 'relayed', provider: ReturnType<(typeof benchProviders)[string]>, bytes: Uint8Array, bytesSha256: string) => (kind === 'direct'
      ? transfer({ clientSock: new BorrowedSocket(sa), serverSock: new BorrowedSocket(sb), serverAddr: b.local, ownsReceivedDatagrams: owns, provider, data: bytes, dataSha256: bytesSha256, timeoutMs: 60_000 })
      : transfer({ clientSock: new RelayedSocket(sa, relayAddr, session), serverSock: new RelayedSocket(sb, relayAddr, session), serverAddr: relayAddr, ownsReceivedDatagrams: owns, provider, data: bytes, dataSha256: bytesSha256, timeoutMs: 60_000 }));
    // warm-up, not measured: each provider over both paths with up to 16 MiB (JIT, first connections)
    const warm = data.subarray(0, Math.min(data.length, 16 * 1024 * 1024)), warmSha = sha256(warm);
    if (TRANSFER_PROCS.includes(1)) for (const name of TRANSFER_PROVIDERS) for (const kind of ['direct', 'relayed'] as const) await once(kind, benchProviders[name]!(), warm, warmSha);
    for (const name of TRANSFER_PROCS.includes(1) ? TRANSFER_PROVIDERS : []) {
      const provider = benchProviders[name]?.();
      if (!provider) throw new Error(`--transfer-providers: unknown provider ${name}`);
      runs[name] = { direct: [], relayed: [] };
      for (let i = 0; i < TRANSFER_PHASES; i++) {
        for (const kind of ['direct', 'relayed'] as const) {
          const rc0 = relayCpuMs(), m0 = machineJiffies(), s0 = performance.now();
          const r = await once(kind, provider, data, dataSha256);
          const rc1 = relayCpuMs(), busy = machineBusyCores(m0), spanMs = performance.now() - s0;
          // the relay's CPU and the machine's over the same span (they include the 50 ms close tail: idle; the bench's CPU does not)
          runs[name][kind].push({ ...r, spanMs, ...(rc0 !== undefined && rc1 !== undefined ? { relayCpuMs: rc1 - rc0 } : {}), ...(busy !== undefined ? { machineBusyCores: busy } : {}) });
          await new Promise((res) => setTimeout(res, 100));
        }
      }
    }
    const combine = (rs: Run[]) => {
      const sum = (f: (r: Run) => number) => rs.reduce((acc, r) => acc + f(r), 0);
      const bytes = sum((r) => r.bytes), dataS = sum((r) => r.dataMs) / 1000, wallS = sum((r) => r.wallMs) / 1000;
      const relayCpu = rs.every((r) => r.relayCpuMs !== undefined) ? sum((r) => r.relayCpuMs!) : undefined;
      return {
        mbitPerSec: +((bytes * 8) / dataS / 1e6).toFixed(1), phaseMbitPerSec: rs.map((r) => +((r.bytes * 8) / (r.dataMs / 1000) / 1e6).toFixed(1)),
        hashOk: rs.every((r) => r.hashOk), handshakeMsP50: +rs.map((r) => r.handshakeMs).sort((x, y) => x - y)[Math.floor(rs.length / 2)].toFixed(2),
        benchCpuUtilisation: +(sum((r) => r.benchCpuMs) / 1000 / wallS).toFixed(3), benchCpuUsPerPacket: +((sum((r) => r.benchCpuMs) * 1000) / sum((r) => r.packetsSent)).toFixed(2),
        // relay CPU per transport packet the sender sent (the relay also forwards the receiver's ACKs: counted in, not per packet)
        ...(relayCpu !== undefined ? { relayCpuUtilisation: +(relayCpu / sum((r) => r.spanMs)).toFixed(3), relayCpuMs: Math.round(relayCpu), relayCpuUsPerPacket: +((relayCpu * 1000) / sum((r) => r.packetsSent)).toFixed(2) } : {}),
        packetsSent: sum((r) => r.packetsSent), packetsLost: sum((r) => r.packetsLost), ptoCount: sum((r) => r.ptoCount),
        srttMs: rs.map((r) => r.srttMs), cwnd: rs.map((r) => r.cwnd), machineBusyCores: rs.map((r) => r.machineBusyCores),
      };
    };
    const withVerdict = (x: ReturnType<typeof combine>) => {
      const busy = x.machineBusyCores.every((m) => m !== undefined) ? x.machineBusyCores.reduce((acc, m) => acc + m!, 0) / x.machineBusyCores.length : NaN;
      return { ...x, bottleneck: verdict(x.benchCpuUtilisation, x.relayCpuUtilisation, busy, 'no process or machine saturated') };
    };
    for (const [name, r] of Object.entries(runs)) {
      const d = withVerdict(combine(r.direct)), rl = withVerdict(combine(r.relayed));
      transferOut[name] = { direct: d, relayed: rl, relayedOverDirect: +(rl.mbitPerSec / d.mbitPerSec).toFixed(3) };
      if (!json) console.log(`transfer ${name}: direct ${d.mbitPerSec} Mbit/s, relayed ${rl.mbitPerSec} Mbit/s, ratio ${(rl.mbitPerSec / d.mbitPerSec).toFixed(3)}, hash ${d.hashOk && rl.hashOk ? 'ok' : 'MISMATCH'}, relay CPU ${rl.relayCpuUtilisation}`);
    }

    // ---- the same transfer with each endpoint in a child process of its own (3 processes on the machine's cores) ----
    if (TRANSFER_PROCS.includes(2)) {
      type Child = { kill(): void; next(timeoutMs?: number): Promise<Record<string, unknown>>; exit(): void; go(): void };
      const forkChild = (role: ChildRole): Child => {
        const c = fork(resolve(import.meta.dirname, 'relay-transfer-child.ts'), [JSON.stringify(role)], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        const queue: Record<string, unknown>[] = [], waiters: ((m: Record<string, unknown>) => void)[] = [];
        c.on('message', (m: Record<string, unknown>) => { const w = waiters.shift(); if (w) w(m); else queue.push(m); });
        return {
          kill: () => c.kill(), go: () => c.send({ go: true }), exit: () => { if (c.connected) c.send({ exit: true }); setTimeout(() => c.kill(), 2000).unref(); },
          next: (timeoutMs = 60_000) => new Promise((res, rej) => {
            const q = queue.shift();
            if (q) { res(q); return; }
            const t = setTimeout(() => rej(new Error(`transfer child (${role.kind}): no answer within ${timeoutMs} ms`)), timeoutMs);
            waiters.push((m) => { clearTimeout(t); res(m); });
          }),
        };
      };
      let pair = 0;
      const childRun = async (kind: 'direct' | 'relayed', name: string, bytes: number): Promise<Run & { senderCpuMs: number; receiverCpuMs: number }> => {
        // relayed: a fresh device pair and ticket per run (a side may move to a new socket only after 1 s idle)
        const relay = (dev: Uint8Array, t: Uint8Array) => ({ address: relayAddr, deviceId: deviceIdHex(dev), ticketHex: Buffer.from(t).toString('hex') });
        pair++;
        const dc = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x40 : i === 1 ? pair : i)), dd = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0xc0 : i === 1 ? pair : i));
        const t = kind === 'relayed' ? signTicket({ issuedAt: Date.now(), expiresAt: Date.now() + 600_000, deviceA: dc, deviceB: dd }, sk) : undefined;
        const warmBytes = Math.min(bytes, 16 * 1024 * 1024);
        const recv = forkChild({ kind: 'recv', provider: name, bytes, warmBytes, ...(t ? { relay: relay(dd, t) } : {}) });
        let snd: Child | undefined;
        try {
          const ready = await recv.next(30_000);
          snd = forkChild({ kind: 'send', provider: name, bytes, warmBytes, to: t ? relayAddr : { address: '127.0.0.1', port: ready.port as number }, ...(t ? { relay: relay(dc, t) } : {}) });
          await snd.next(30_000); // connected
          await recv.next(); // the warm-up stream arrived
          const rc0 = relayCpuMs(), m0 = machineJiffies(), t0 = performance.now();
          snd.go();
          await snd.next(); // started
          const done = await recv.next();
          const tEnd = performance.now(), rc1 = relayCpuMs(), busy = machineBusyCores(m0);
          const sent = await snd.next();
          const dataMs = tEnd - t0;
          return {
            bytes: done.bytes as number, dataMs, handshakeMs: NaN, wallMs: dataMs, spanMs: dataMs,
            benchCpuMs: (sent.cpuMs as number) + (done.cpuMs as number), senderCpuMs: sent.cpuMs as number, receiverCpuMs: done.cpuMs as number,
            hashOk: done.bytes === bytes && done.sha256 === sent.sha256,
            packetsSent: sent.packetsSent as number, packetsLost: sent.packetsLost as number, ptoCount: sent.ptoCount as number, srttMs: sent.srttMs as number, cwnd: NaN,
            ...(rc0 !== undefined && rc1 !== undefined ? { relayCpuMs: rc1 - rc0 } : {}), ...(busy !== undefined ? { machineBusyCores: busy } : {}),
          };
        } finally { recv.exit(); snd?.exit(); }
      };
      const bytes = Math.round(TRANSFER_MIB * 1024 * 1024);
      const two: Record<string, unknown> = {};
      for (const name of TRANSFER_PROVIDERS) {
        const r: { direct: (Run & { senderCpuMs: number; receiverCpuMs: number })[]; relayed: (Run & { senderCpuMs: number; receiverCpuMs: number })[] } = { direct: [], relayed: [] };
        for (let i = 0; i < TRANSFER_PHASES; i++) for (const kind of ['direct', 'relayed'] as const) { r[kind].push(await childRun(kind, name, bytes)); await new Promise((res) => setTimeout(res, 100)); }
        const side = (rs: (Run & { senderCpuMs: number; receiverCpuMs: number })[]) => {
          const c = combine(rs), wallS = rs.reduce((acc, x) => acc + x.dataMs, 0) / 1000;
          const senderCpuUtilisation = +(rs.reduce((acc, x) => acc + x.senderCpuMs, 0) / 1000 / wallS).toFixed(3), receiverCpuUtilisation = +(rs.reduce((acc, x) => acc + x.receiverCpuMs, 0) / 1000 / wallS).toFixed(3);
          const busy = c.machineBusyCores.every((m) => m !== undefined) ? c.machineBusyCores.reduce((acc, m) => acc + m!, 0) / c.machineBusyCores.length : NaN;
          const { benchCpuUtilisation: endpointsCpuUtilisation, benchCpuUsPerPacket: endpointsCpuUsPerPacket, handshakeMsP50: _h, cwnd: _c, ...rest } = c;
          // a process is saturated at >= SATURATED of a core: the busier endpoint stands for "bench process" in the verdict
          const v = verdict(Math.max(senderCpuUtilisation, receiverCpuUtilisation), c.relayCpuUtilisation, busy, 'no process or machine saturated').replace('bench process', senderCpuUtilisation >= receiverCpuUtilisation ? 'sender process' : 'receiver process');
          return { ...rest, endpointsCpuUtilisation, endpointsCpuUsPerPacket, senderCpuUtilisation, receiverCpuUtilisation, bottleneck: v };
        };
        const d = side(r.direct), rl = side(r.relayed);
        two[name] = { direct: d, relayed: rl, relayedOverDirect: +(rl.mbitPerSec / d.mbitPerSec).toFixed(3) };
        if (!json) console.log(`transfer ${name} (2 processes): direct ${d.mbitPerSec} Mbit/s, relayed ${rl.mbitPerSec} Mbit/s, ratio ${(rl.mbitPerSec / d.mbitPerSec).toFixed(3)}, hash ${d.hashOk && rl.hashOk ? 'ok' : 'MISMATCH'}, relay CPU ${rl.relayCpuUtilisation}`);
      }
      transferTwoProcs = two;
    }
  }
  Object.assign(results, {
    bench: 'relay', udp: udpKind, relayBusyPoll: relayBusyPoll ?? 'unknown', payloadBytes: PAYLOAD, window: WINDOW, phaseMs: PHASE_MS, phases: PHASES, pings: PINGS,
    direct: { ...thr.direct, rttP50Ms: +lat.direct.p50.toFixed(4), rttP99Ms: +lat.direct.p99.toFixed(4), pingLost: lat.direct.lost },
    relayed: { ...thr.relayed, rttP50Ms: +lat.relayed.p50.toFixed(4), rttP99Ms: +lat.relayed.p99.toFixed(4), pingLost: lat.relayed.lost },
    relayedOverDirectThroughput: ratio, relayedOverDirectPerPhasePair: pairRatios.map((r) => +r.toFixed(3)),
    addedOneWayLatencyP50Ms: addedP50, addedOneWayLatencyP99Ms: addedP99,
    // transferRatioAtLeast0_8 (the measure, see the header): every real transport transfer
    // (each provider; endpoints in one process and, when run, in two) relayed/direct >= 0.8, with
    // the ratios; the raw blaster's figures are diagnostics: throughputRatioAtLeast0_8 = the main
    // phases (window WINDOW, latency-bound at 128), capacityRatioAtLeast0_8 = the sweep's maxima
    goals: {
      ...(() => {
        const all: Record<string, number> = {};
        for (const [k, t] of Object.entries(transferOut as Record<string, { relayedOverDirect: number }>)) all[k] = t.relayedOverDirect;
        for (const [k, t] of Object.entries((transferTwoProcs ?? {}) as Record<string, { relayedOverDirect: number }>)) all[`${k} (2 processes)`] = t.relayedOverDirect;
        const v = Object.values(all);
        return v.length > 0 ? { transferRatioAtLeast0_8: v.every((x) => x >= 0.8), transferRatios: all } : {};
      })(),
      throughputRatioAtLeast0_8: ratio >= 0.8, ...(capacity ? { capacityRatioAtLeast0_8: capacity.relayedOverDirect >= 0.8 } : {}), addedP50Below0_3ms: addedP50 < 0.3,
    },
    windowSweep, ...(capacity ? { capacity } : {}),
    transfer: { mib: TRANSFER_MIB, transportDatagramBytes: 1200, relayedWireDatagramBytes: 1200 + DATA_HEADER_BYTES, endpoints: 'both in the bench process (relay on its own core)', phases: TRANSFER_PHASES, byProvider: transferOut,
      ...(transferTwoProcs ? { twoProcesses: { endpoints: 'sender and receiver each in a child process (3 busy processes on the machine)', byProvider: transferTwoProcs } } : {}) },
  });
  results.summary = summaryLine(ratio, windowSweep, capacity, transferOut, transferTwoProcs ?? {}, thr.relayed);
  if (json) console.log(JSON.stringify(results, null, 2));
  else {
    console.log(`direct : ${thr.direct.datagramsPerSec} dgram/s, ${thr.direct.mbPerSec} MB/s, RTT p50 ${lat.direct.p50.toFixed(3)} ms p99 ${lat.direct.p99.toFixed(3)} ms`);
    console.log(`relayed: ${thr.relayed.datagramsPerSec} dgram/s, ${thr.relayed.mbPerSec} MB/s, RTT p50 ${lat.relayed.p50.toFixed(3)} ms p99 ${lat.relayed.p99.toFixed(3)} ms`);
    console.log(`relayed/direct throughput ${ratio}; added one-way latency p50 ${addedP50} ms, p99 ${addedP99} ms`);
    console.log(results.summary);
  }
  for (const s of [a, b] as DatagramSocket[]) s.close();
} finally {
  relayProc.kill('SIGTERM');
}

interface Capacity { direct: { datagramsPerSec: number; window: number }; relayed: { datagramsPerSec: number; window: number }; relayedOverDirect: number }

/**
 * Capacity from the window sweep (same windows for both paths): per path the most datagrams/s of
 * any window, and the smallest window that reached 0.9 of it (throughput stopped growing there).
 * Undefined with fewer than two windows (nothing shows that throughput stopped growing).
 */
function capacityOf(sweep: { window: number; direct: { datagramsPerSec: number }; relayed: { datagramsPerSec: number } }[]): Capacity | undefined {
  if (sweep.length < 2) return undefined;
  const of = (k: 'direct' | 'relayed') => {
    const best = Math.max(...sweep.map((w) => w[k].datagramsPerSec));
    const from = [...sweep].sort((x, y) => x.window - y.window).find((w) => w[k].datagramsPerSec >= 0.9 * best)!;
    return { datagramsPerSec: best, window: from.window };
  };
  const direct = of('direct'), relayed = of('relayed');
  return { direct, relayed, relayedOverDirect: +(relayed.datagramsPerSec / direct.datagramsPerSec).toFixed(3) };
}

/** The verdict against the 0.8 goal for every figure, with the reason (bottleneck) beside each. */
function summaryLine(rawRatio: number, sweep: { window: number; relayedOverDirect: number; direct: { bottleneck: string; datagramsPerSec: number; benchCpuUsPerDatagram: number }; relayed: { bottleneck: string; relayCpuUtilisation?: number; datagramsPerSec: number; benchCpuUsPerDatagram: number; relayCpuUsPerDatagram?: number } }[], capacity: Capacity | undefined, transfers: Record<string, unknown>, twoProcs: Record<string, unknown>, mainRelayed?: { relayCpuUsPerDatagram?: number; relaySysUsPerDatagram?: number; relayCpuUtilisation?: number }): string {
  const v = (r: number) => (r >= 0.8 ? 'meets' : 'misses');
  const relayCost = mainRelayed?.relayCpuUsPerDatagram !== undefined ? ` (relay CPU ${mainRelayed.relayCpuUsPerDatagram} us/datagram, ${mainRelayed.relaySysUsPerDatagram} of it kernel; relay busy ${mainRelayed.relayCpuUtilisation} of a core)` : '';
  const parts = [`raw window ${WINDOW} (main phases, latency-bound): ${rawRatio} ${v(rawRatio)} 0.8${relayCost}`];
  if (capacity) parts.push(`raw capacity (most datagrams/s over windows ${sweep.map((w) => w.window).join(',')}): relayed ${capacity.relayed.datagramsPerSec} (from window ${capacity.relayed.window}) / direct ${capacity.direct.datagramsPerSec} (from window ${capacity.direct.window}) = ${capacity.relayedOverDirect} ${v(capacity.relayedOverDirect)}`);
  if (sweep.length > 1) {
    // window-limited scales with the window; anything else does not
    const first = sweep[0], last = sweep[sweep.length - 1];
    const grow = (k: 'direct' | 'relayed') => (last[k].datagramsPerSec / first[k].datagramsPerSec).toFixed(2);
    parts.push(`raw window ${first.window} -> ${last.window} (x${last.window / first.window}): direct x${grow('direct')}, relayed x${grow('relayed')}`);
    // what the raw ratio comes down to once the window is large: CPU per datagram of each path, summed over its processes
    const relayedUs = last.relayed.benchCpuUsPerDatagram + (last.relayed.relayCpuUsPerDatagram ?? 0);
    parts.push(`raw window ${last.window} CPU per datagram: direct ${last.direct.benchCpuUsPerDatagram} us (bench), relayed ${relayedUs.toFixed(2)} us (bench ${last.relayed.benchCpuUsPerDatagram} + relay ${last.relayed.relayCpuUsPerDatagram})`);
  }
  for (const w of sweep) parts.push(`raw window ${w.window}: ${w.relayedOverDirect} ${v(w.relayedOverDirect)} (direct bound by ${w.direct.bottleneck}, relayed by ${w.relayed.bottleneck}, relay CPU ${w.relayed.relayCpuUtilisation})`);
  for (const [name, t] of Object.entries(transfers) as [string, { relayedOverDirect: number; direct: { mbitPerSec: number; benchCpuUtilisation: number; bottleneck: string }; relayed: { mbitPerSec: number; benchCpuUtilisation: number; relayCpuUtilisation?: number; hashOk: boolean; bottleneck: string } }][]) {
    parts.push(`transfer ${name}: ${t.relayed.mbitPerSec}/${t.direct.mbitPerSec} Mbit/s = ${t.relayedOverDirect} ${v(t.relayedOverDirect)} (direct bound by ${t.direct.bottleneck}, relayed by ${t.relayed.bottleneck}; bench CPU ${t.direct.benchCpuUtilisation} direct / ${t.relayed.benchCpuUtilisation} relayed, relay CPU ${t.relayed.relayCpuUtilisation}; hash ${t.relayed.hashOk ? 'ok' : 'MISMATCH'})`);
  }
  for (const [name, t] of Object.entries(twoProcs) as [string, { relayedOverDirect: number; direct: { mbitPerSec: number; bottleneck: string; senderCpuUtilisation: number; receiverCpuUtilisation: number }; relayed: { mbitPerSec: number; relayCpuUtilisation?: number; hashOk: boolean; bottleneck: string; senderCpuUtilisation: number; receiverCpuUtilisation: number } }][]) {
    parts.push(`transfer ${name} (2 processes): ${t.relayed.mbitPerSec}/${t.direct.mbitPerSec} Mbit/s = ${t.relayedOverDirect} ${v(t.relayedOverDirect)} (direct bound by ${t.direct.bottleneck}, relayed by ${t.relayed.bottleneck}; sender/receiver CPU ${t.direct.senderCpuUtilisation}/${t.direct.receiverCpuUtilisation} direct, ${t.relayed.senderCpuUtilisation}/${t.relayed.receiverCpuUtilisation} relayed, relay CPU ${t.relayed.relayCpuUtilisation}; hash ${t.relayed.hashOk ? 'ok' : 'MISMATCH'})`);
  }
  return `goal relayed >= 0.8x direct: ${parts.join('; ')}`;
}

/**
 * What limited a phase: a process at >= SATURATED of a core, else the whole machine when its cores
 * were (nearly) all busy (our processes, the kernel's loopback work and other helpers' load), else `otherwise`.
 */
function verdict(benchUtil: number, relayUtil: number | undefined, machineBusyCores: number, otherwise: string): string {
  const bench = benchUtil >= SATURATED, relay = (relayUtil ?? 0) >= SATURATED;
  if (bench && relay) return 'bench and relay processes';
  if (bench) return 'bench process';
  if (relay) return 'relay process';
  if (machineBusyCores >= SATURATED * cpus().length) return `machine CPU (${machineBusyCores.toFixed(2)} of ${cpus().length} cores busy, ${(benchUtil + (relayUtil ?? 0)).toFixed(2)} ours)`;
  return otherwise;
}
