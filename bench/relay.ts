// Relay benchmark (`npm run bench:relay -- --json`): one `tincan supernode` process on
// loopback versus a direct path, in the same run, same sockets, same payloads.
//   latency:    ping-pong of 64-byte payloads, RTT p50/p99; added one-way latency
//               = (relayed RTT - direct RTT) / 2
//   throughput: 1200-byte payloads, a window of 128 datagrams in flight, receiver
//               acknowledges every 16; datagrams/s and MB/s delivered; CPU per delivered
//               datagram of the bench process (sender + receiver) and of the relay process
//               (/proc/<pid>/stat). The payload is wrapped in its DATA header once, not per
//               datagram (the direct path sends it as is).
//   forwarderCore: the sans-IO RelayForwarder alone, ns per forwarded datagram
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

const json = process.argv.includes('--json');
const udpArg = process.argv.indexOf('--udp');
if (udpArg > 0) {
  // One child run per implementation (and round), each measuring direct and relayed in the same run.
  const impls = process.argv[udpArg + 1].split(',').filter(Boolean);
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 1;
  const pass = process.argv.slice(2).filter((a, i, all) => a !== '--udp' && all[i - 1] !== '--udp' && a !== '--rounds' && all[i - 1] !== '--rounds' && a !== '--json');
  const byUdp: Record<string, Record<string, unknown>[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const impl of impls) {
      const out = await new Promise<string>((res, rej) => {
        const c = spawn(process.execPath, [...process.execArgv, import.meta.filename, '--json', ...pass], { env: { ...process.env, TINCAN_UDP: impl }, stdio: ['ignore', 'pipe', 'inherit'] });
        let buf = '';
        c.stdout!.setEncoding('utf8').on('data', (d: string) => { buf += d; });
        c.once('exit', (code) => (code === 0 ? res(buf) : rej(new Error(`bench run with TINCAN_UDP=${impl} exited ${code}`))));
      });
      (byUdp[impl] ??= []).push(JSON.parse(out) as Record<string, unknown>);
    }
  }
  const ratios = Object.fromEntries(Object.entries(byUdp).map(([k, runs]) => [k, runs.map((x) => ({
    udp: x.udp, relayedOverDirectThroughput: x.relayedOverDirectThroughput, perPhasePair: x.relayedOverDirectPerPhasePair, addedOneWayLatencyP50Ms: x.addedOneWayLatencyP50Ms,
    directDatagramsPerSec: (x.direct as { datagramsPerSec: number }).datagramsPerSec, relayedDatagramsPerSec: (x.relayed as { datagramsPerSec: number }).datagramsPerSec,
    relayCpuUsPerDatagram: (x.relayed as { relayCpuUsPerDatagram?: number }).relayCpuUsPerDatagram,
  }))]));
  const result = { bench: 'relay', byUdpSummary: ratios, byUdp };
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
const relayAddr: UdpAddress = await new Promise((res, rej) => {
  let buf = '';
  relayProc.stdout!.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    const m = /\{"event":"listening"[^\n]*\}/.exec(buf);
    if (m) { const o = JSON.parse(m[0]) as { address: string; port: number }; res({ address: o.address, port: o.port }); }
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

  /** CPU time (user + system, ms) of the relay process so far, from /proc (undefined elsewhere). */
  const relayCpuMs = (): number | undefined => {
    try {
      const f = readFileSync(`/proc/${relayProc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in USER_HZ (100) ticks
    } catch { return undefined; }
  };

  interface Phase { received: number; sent: number; elapsedS: number; cpuUs: number; relayCpuMs?: number; sock?: ReturnType<typeof socketStats> }

  /** One throughput phase of `phaseMs` on `path`: raw sums (combined by throughput()). */
  async function throughputPhase(path: Path, phaseMs: number): Promise<Phase> {
    let received = 0;
    let acked = 0;
    let sent = 0;
    let writtenOff = 0; // datagrams given up as lost after a stall
    let lastProgress = performance.now();
    const payload = new Uint8Array(PAYLOAD);
    const ack = new Uint8Array(8);
    b.onDatagram((_f, bytes) => {
      if (path.payloadLength(bytes) !== PAYLOAD) return;
      received++;
      if (received % ACK_EVERY === 0) { new DataView(ack.buffer).setUint32(0, received); b.send(path.bTo, path.wrap(ack)); }
    });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const sock0 = socketStats();
    const relayCpu0 = relayCpuMs();
    await new Promise<void>((res) => {
      // The payload is the same every time: wrapped once, so neither path encodes per datagram
      // (direct sends it as is; the relay client's per-packet DATA header is not what is measured).
      const wrapped = path.wrap(payload);
      const pump = () => {
        while (sent - acked - writtenOff < WINDOW) { a.send(path.aTo, wrapped); sent++; }
      };
      a.onDatagram((_f, bytes) => {
        const p = path.unwrap(bytes);
        if (p.length !== 8) return;
        const n = new DataView(p.buffer, p.byteOffset).getUint32(0);
        if (n > acked) { acked = n; lastProgress = performance.now(); }
        if (performance.now() - t0 < phaseMs) pump();
      });
      const watchdog = setInterval(() => {
        const t = performance.now();
        if (t - t0 >= phaseMs) { clearInterval(watchdog); res(); return; }
        if (t - lastProgress > 50) { writtenOff = sent - acked; lastProgress = t; pump(); } // stall: losses, refill the window
      }, 10);
      pump();
    });
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const sock = socketStats(sock0);
    const relayCpu1 = relayCpuMs();
    await new Promise((r) => realClock.setTimer(performance.now() + 100, () => r(undefined)));
    const relayCpu = relayCpu0 !== undefined && relayCpu1 !== undefined && path.name === 'relayed' ? relayCpu1 - relayCpu0 : undefined;
    return { received, sent, elapsedS: elapsed, cpuUs: cpu.user + cpu.system, relayCpuMs: relayCpu, sock };
  }

  /** Combined figures of a path's phases. Per delivered payload datagram (acks, 1 per 16, ride along): the sender+receiver process, and the relay process. */
  function throughput(phases: Phase[]): { datagramsPerSec: number; mbPerSec: number; delivered: number; sent: number; phaseDatagramsPerSec: number[]; benchCpuUsPerDatagram: number; relayCpuUsPerDatagram?: number; benchSockets?: unknown } {
    const sum = (f: (p: Phase) => number) => phases.reduce((acc, p) => acc + f(p), 0);
    const received = sum((p) => p.received), elapsed = sum((p) => p.elapsedS);
    const relayCpu = phases.every((p) => p.relayCpuMs !== undefined) ? sum((p) => p.relayCpuMs!) : undefined;
    const sock = phases[phases.length - 1].sock;
    return {
      datagramsPerSec: Math.round(received / elapsed), mbPerSec: +((received * PAYLOAD) / elapsed / 1e6).toFixed(2), delivered: received, sent: sum((p) => p.sent),
      phaseDatagramsPerSec: phases.map((p) => Math.round(p.received / p.elapsedS)),
      benchCpuUsPerDatagram: +(sum((p) => p.cpuUs) / received).toFixed(2),
      ...(sock ? { benchSockets: sock } : {}),
      ...(relayCpu !== undefined ? { relayCpuUsPerDatagram: +((relayCpu * 1000) / received).toFixed(2) } : {}),
    };
  }

  /** The sans-IO forwarder alone (no sockets): cost per forwarded datagram, to attribute the relay's cost. */
  function forwarderCore(): { nsPerDatagram: number; datagramsPerSec: number } {
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
    return { nsPerDatagram: Math.round((ms * 1e6) / n), datagramsPerSec: Math.round((n / ms) * 1000) };
  }

  const results: Record<string, unknown> = { forwarderCore: forwarderCore() };
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
  Object.assign(results, {
    bench: 'relay', udp: udpKind, payloadBytes: PAYLOAD, window: WINDOW, phaseMs: PHASE_MS, phases: PHASES, pings: PINGS,
    direct: { ...thr.direct, rttP50Ms: +lat.direct.p50.toFixed(4), rttP99Ms: +lat.direct.p99.toFixed(4), pingLost: lat.direct.lost },
    relayed: { ...thr.relayed, rttP50Ms: +lat.relayed.p50.toFixed(4), rttP99Ms: +lat.relayed.p99.toFixed(4), pingLost: lat.relayed.lost },
    relayedOverDirectThroughput: ratio, relayedOverDirectPerPhasePair: pairRatios.map((r) => +r.toFixed(3)),
    addedOneWayLatencyP50Ms: addedP50, addedOneWayLatencyP99Ms: addedP99,
    goals: { throughputRatioAtLeast0_8: ratio >= 0.8, addedP50Below0_3ms: addedP50 < 0.3 },
  });
  if (json) console.log(JSON.stringify(results, null, 2));
  else {
    console.log(`direct : ${thr.direct.datagramsPerSec} dgram/s, ${thr.direct.mbPerSec} MB/s, RTT p50 ${lat.direct.p50.toFixed(3)} ms p99 ${lat.direct.p99.toFixed(3)} ms`);
    console.log(`relayed: ${thr.relayed.datagramsPerSec} dgram/s, ${thr.relayed.mbPerSec} MB/s, RTT p50 ${lat.relayed.p50.toFixed(3)} ms p99 ${lat.relayed.p99.toFixed(3)} ms`);
    console.log(`relayed/direct throughput ${ratio}; added one-way latency p50 ${addedP50} ms, p99 ${addedP99} ms`);
  }
  for (const s of [a, b] as DatagramSocket[]) s.close();
} finally {
  relayProc.kill('SIGTERM');
}
