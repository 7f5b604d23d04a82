// bench:datagram — raw UDP blast between two processes on 127.0.0.1, no transport:
// 1200-byte datagrams as fast as the sender can send them (bursts of --burst per
// event-loop turn, like a transport's transmit pass) for --seconds, through
//   dgram   node:dgram (DgramUdpSocket: one sendto / one JS callback per datagram)
//   native  the native socket without GSO/GRO (sendmmsg / recvmmsg batches)
//   gso     the native socket with UDP GSO (sender) and GRO (receiver)
//   batch   as gso, through the batch API (src/datagram/batch.ts): the sender hands each burst
//           over as one run (sendRun: one copy, one GSO message per 54 datagrams), the receiver
//           walks runs in place (onBatch: one call per recvmmsg, no per-datagram view or call)
// in alternation (--rounds each) in one run, so the ratios compare like with like.
// Reports per mode (median over rounds): datagrams/s received, sent, loss, and CPU
// us per datagram of the sender (per sent) and receiver (per received), plus the
// socket counters (syscalls, GSO messages, GRO segments) of the last round.
// Usage: npm run bench:datagram -- [--json] [--seconds 2] [--rounds 3] [--burst 64] [--modes dgram,native,gso,batch]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bindUdp, type UdpSocket } from '../src/datagram/udp.ts';

type Mode = 'dgram' | 'native' | 'gso' | 'batch';
const SIZE = 1200;
const MiB = 1024 * 1024;

interface Role { role: 'recv' | 'send'; mode: Mode; port?: number; seconds?: number; burst?: number }
interface RunResult {
  mode: Mode; round: number;
  received: number; sent: number; rxPerSec: number; txPerSec: number; loss: number;
  senderUsPerDgram: number; receiverUsPerDgram: number;
  senderCounters: Record<string, number>; receiverCounters: Record<string, number>;
}

const cpuUs = (c0: NodeJS.CpuUsage) => { const c = process.cpuUsage(c0); return c.user + c.system; };
const send = (m: unknown) => process.send!(m);

async function bindFor(mode: Mode, opts: { recvBufferSize?: number; sendBufferSize?: number }): Promise<UdpSocket> {
  return bindUdp({ address: '127.0.0.1', ...opts, impl: mode === 'dgram' ? 'dgram' : 'native', gso: mode === 'gso' || mode === 'batch', gro: mode === 'gso' || mode === 'batch' });
}

async function child(r: Role): Promise<void> {
  if (r.role === 'recv') {
    const socket = await bindFor(r.mode, { recvBufferSize: 8 * MiB });
    let n = 0, first = 0, last = 0;
    const c0 = process.cpuUsage();
    if (r.mode === 'batch') {
      socket.onBatch((b) => {
        last = performance.now();
        if (n === 0) first = last;
        for (let i = 0; i < b.runs; i++) { const len = b.length(i), seg = b.segmentSize(i); n += seg > 0 && len > seg ? Math.ceil(len / seg) : 1; }
      });
    } else {
      socket.onDatagram(() => {
        last = performance.now();
        if (n++ === 0) first = last;
      });
    }
    process.on('message', () => {
      send({ t: 'recv', received: n, ms: last - first, cpuUs: cpuUs(c0), counters: { ...socket.counters } });
      socket.close();
      void socket.whenClosed().then(() => process.exit(0));
    });
    send({ t: 'port', port: socket.local.port });
    return;
  }
  const socket = await bindFor(r.mode, { sendBufferSize: 4 * MiB });
  const to = { address: '127.0.0.1', port: r.port! };
  const payload = new Uint8Array(SIZE).fill(0x5a);
  const burst = r.burst!;
  const run = new Uint8Array(SIZE * burst).fill(0x5a);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + r.seconds! * 1000;
  let attempted = 0;
  const go = () => {
    if (r.mode === 'batch') socket.sendRun(to, run, SIZE);
    else for (let i = 0; i < burst; i++) socket.send(to, payload);
    attempted += burst;
    if (performance.now() < end) { setImmediate(go); return; }
    socket.flush();
    const ms = performance.now() - t0, cpu = cpuUs(c0);
    setTimeout(() => {
      send({ t: 'sent', attempted, sent: socket.counters.sent, ms, cpuUs: cpu, counters: { ...socket.counters } });
      socket.close();
      void socket.whenClosed().then(() => process.exit(0));
    }, 100);
  };
  setImmediate(go);
}

function spawnRole(r: Role): { next(): Promise<Record<string, unknown>>; poke(): void } {
  const cp = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(r)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const queue: Record<string, unknown>[] = [];
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  cp.on('message', (m: Record<string, unknown>) => { const w = waiters.shift(); if (w) w(m); else queue.push(m); });
  return {
    next: () => new Promise((resolve) => { const m = queue.shift(); if (m) resolve(m); else waiters.push(resolve); }),
    poke: () => { cp.send({ report: true }); },
  };
}

async function runOnce(mode: Mode, round: number, seconds: number, burst: number): Promise<RunResult> {
  const recv = spawnRole({ role: 'recv', mode });
  const { port } = (await recv.next()) as { port: number };
  const sender = spawnRole({ role: 'send', mode, port, seconds, burst });
  const s = (await sender.next()) as { attempted: number; sent: number; ms: number; cpuUs: number; counters: Record<string, number> };
  await new Promise((r) => setTimeout(r, 200));
  recv.poke();
  const r = (await recv.next()) as { received: number; ms: number; cpuUs: number; counters: Record<string, number> };
  const round2 = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    mode, round,
    received: r.received, sent: s.sent,
    rxPerSec: Math.round(r.received / (r.ms / 1000)), txPerSec: Math.round(s.sent / (s.ms / 1000)),
    loss: round2(1 - r.received / Math.max(1, s.sent), 4),
    senderUsPerDgram: round2(s.cpuUs / Math.max(1, s.sent)), receiverUsPerDgram: round2(r.cpuUs / Math.max(1, r.received)),
    senderCounters: s.counters, receiverCounters: r.counters,
  };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 && args[i + 1] ? args[i + 1]! : def; };
  const json = args.includes('--json');
  const seconds = Number(opt('seconds', '2'));
  const rounds = Number(opt('rounds', '3'));
  const burst = Number(opt('burst', '64'));
  const modes = opt('modes', 'dgram,native,gso,batch').split(',') as Mode[];
  const runs: RunResult[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const r = await runOnce(mode, round, seconds, burst);
      runs.push(r);
      if (!json) console.log(`${mode.padEnd(6)} round ${round}: rx ${r.rxPerSec.toLocaleString()}/s tx ${r.txPerSec.toLocaleString()}/s loss ${(r.loss * 100).toFixed(1)}% sender ${r.senderUsPerDgram} us/dgram receiver ${r.receiverUsPerDgram} us/dgram`);
    }
  }
  const summary: Record<string, Record<string, number>> = {};
  for (const mode of modes) {
    const rs = runs.filter((r) => r.mode === mode);
    summary[mode] = {
      rxPerSec: median(rs.map((r) => r.rxPerSec)), txPerSec: median(rs.map((r) => r.txPerSec)), loss: median(rs.map((r) => r.loss)),
      senderUsPerDgram: median(rs.map((r) => r.senderUsPerDgram)), receiverUsPerDgram: median(rs.map((r) => r.receiverUsPerDgram)),
    };
  }
  const ratios: Record<string, number> = {};
  const base = summary.dgram;
  if (base) {
    for (const mode of modes.filter((m) => m !== 'dgram')) {
      const m = summary[mode]!;
      ratios[`${mode}/dgram rx datagrams/s`] = Math.round((m.rxPerSec! / base.rxPerSec!) * 100) / 100;
      ratios[`${mode}/dgram sender CPU per datagram`] = Math.round((m.senderUsPerDgram! / base.senderUsPerDgram!) * 100) / 100;
      ratios[`${mode}/dgram receiver CPU per datagram`] = Math.round((m.receiverUsPerDgram! / base.receiverUsPerDgram!) * 100) / 100;
    }
  }
  const last = Object.fromEntries(modes.map((mode) => {
    const r = runs.filter((x) => x.mode === mode).at(-1)!;
    const pick = (c: Record<string, number>, keys: string[]) => Object.fromEntries(keys.filter((k) => k in c).map((k) => [k, c[k]]));
    return [mode, {
      sender: pick(r.senderCounters, ['sent', 'sendErrors', 'dropped', 'sendSyscalls', 'gsoMessages', 'gsoSegments', 'sendBlocked', 'queueDrops']),
      receiver: pick(r.receiverCounters, ['received', 'recvSyscalls', 'recvBatches', 'groSegments', 'rxOverflow']),
    }];
  }));
  const out = { bench: 'datagram', payloadBytes: SIZE, seconds, rounds, burst, summary, ratios, countersLastRound: last, runs: runs.map(({ senderCounters: _s, receiverCounters: _r, ...r }) => r) };
  if (json) console.log(JSON.stringify(out, null, 2));
  else { console.log(JSON.stringify({ summary, ratios }, null, 2)); }
}

const ci = process.argv.indexOf('--child');
if (ci >= 0) void child(JSON.parse(process.argv[ci + 1]!) as Role);
else void main();
