// Several directory worker processes sharing one HTTP port (node:cluster), so
// one machine's cores all serve requests. Contract:
// - The primary prepares what must happen once (schema migration, signing
//   key file), forks the workers, relays their messages, restarts a worker
//   that dies, and forwards SIGTERM/SIGINT (graceful stop of every worker).
// - Without Redis, workers still behave as one directory: push messages and
//   token revocations reach every worker (ClusterFanout, relayed by the
//   primary) and failure counters (login, registration) live in the primary
//   (IpcFailureCounter), so limits hold per directory, not per worker.
//   A control message (revocation, view cache invalidation) resolves only
//   once every other live worker has applied it (or after CONTROL_ACK_MS if
//   the primary does not answer), so a write's response is sent after all
//   workers forgot what it changed.
//   With Redis, workers use Redis exactly as separate instances do.
// - Per worker, not shared: /metrics (each scrape sees one worker), the
//   authenticated-token cache (revocations are relayed), push connections.
import cluster, { type Worker } from 'node:cluster';
import type { PushHub } from './push/hub.ts';
import type { ControlMessage, Fanout } from './push/fanout.ts';
import { FailureLimiter, type FailureCounter } from './rate-limit.ts';

/** Messages between workers and the primary (field `tincan` tells the kind). */
type ToPrimary =
  | { tincan: 'fanout'; to: string[]; msg: object }
  | { tincan: 'control'; control: ControlMessage; id?: number }
  | { tincan: 'control-ack'; id: string }
  | { tincan: 'limit'; id: number; counter: string; max: number; windowMs: number; op: 'retry' | 'fail' | 'clear'; key: string; now: number }
  | { tincan: 'listening'; port: number; stunPort: number | null };
type ToWorker =
  | { tincan: 'fanout'; to: string[]; msg: object }
  | { tincan: 'control'; control: ControlMessage; ack?: string }
  | { tincan: 'control-done'; id: number }
  | { tincan: 'limit-reply'; id: number; value: number };

/** A worker waits at most this long for the other workers to acknowledge a control message. */
export const CONTROL_ACK_MS = 2000;

const isMsg = (m: unknown): m is { tincan: string } => typeof m === 'object' && m !== null && typeof (m as { tincan?: unknown }).tincan === 'string';

function sendToPrimary(m: ToPrimary): Promise<void> {
  return new Promise((res) => {
    if (!process.send || !process.connected) return res();
    process.send(m, undefined, undefined, () => res());
  });
}

/** Worker side: push messages and control messages for every worker of this primary. */
export class ClusterFanout implements Fanout {
  private control: (m: ControlMessage) => void = () => {};
  private readonly listener = (m: unknown) => {
    if (!isMsg(m)) return;
    const w = m as ToWorker;
    if (w.tincan === 'fanout') this.hub.deliver(w.to, w.msg);
    else if (w.tincan === 'control') {
      this.control(w.control);
      if (w.ack !== undefined) void sendToPrimary({ tincan: 'control-ack', id: w.ack });
    } else if (w.tincan === 'control-done') { this.acks.get(w.id)?.(); }
  };
  private nextControl = 1;
  private readonly acks = new Map<number, () => void>();

  constructor(private readonly hub: PushHub) { process.on('message', this.listener); }

  async publish(userIds: readonly string[], message: object): Promise<void> {
    if (userIds.length) await sendToPrimary({ tincan: 'fanout', to: [...userIds], msg: message });
  }

  async publishControl(m: ControlMessage): Promise<void> {
    this.control(m); // this worker at once, the others through the primary, acknowledged
    if (!process.send || !process.connected) return;
    const id = this.nextControl++;
    await new Promise<void>((res) => {
      const t = setTimeout(done, CONTROL_ACK_MS);
      function done() { clearTimeout(t); res(); }
      this.acks.set(id, done);
      void sendToPrimary({ tincan: 'control', control: m, id });
    });
    this.acks.delete(id);
  }

  onControl(handler: (m: ControlMessage) => void): void { this.control = handler; }

  async close(): Promise<void> { process.off('message', this.listener); }
}

let nextRequest = 1;
const pending = new Map<number, (v: number) => void>();
let replyListener: ((m: unknown) => void) | undefined;

/** Worker side: a failure counter kept by the primary (one per `counter` name). */
export function ipcFailureCounter(counter: string, max: number, windowMs: number): FailureCounter {
  replyListener ??= (m: unknown) => {
    if (!isMsg(m) || m.tincan !== 'limit-reply') return;
    const r = m as Extract<ToWorker, { tincan: 'limit-reply' }>;
    pending.get(r.id)?.(r.value);
    pending.delete(r.id);
  };
  if (!process.listeners('message').includes(replyListener)) process.on('message', replyListener);
  const ask = (op: 'retry' | 'fail' | 'clear', key: string, now: number) => new Promise<number>((res) => {
    if (!process.send || !process.connected) return res(0);
    const id = nextRequest++;
    pending.set(id, res);
    process.send({ tincan: 'limit', id, counter, max, windowMs, op, key, now } satisfies ToPrimary);
  });
  return {
    retryAfterMs: (key, now) => ask('retry', key, now),
    recordFailure: async (key, now) => { await ask('fail', key, now); },
    clear: async (key) => { await ask('clear', key, 0); },
  };
}

/** Tells the primary this worker listens (call once, after listen). */
export function reportListening(port: number, stunPort: number | undefined): Promise<void> {
  return sendToPrimary({ tincan: 'listening', port, stunPort: stunPort ?? null });
}

export interface PrimaryOptions {
  workers: number;
  /** Called once every worker listens. */
  onListening(port: number, stunPort: number | null): void;
  onWorkerExit(id: number, code: number | null, signal: string | null, restarting: boolean): void;
  /** Called when every worker has exited after stop(). */
  onStopped(): void;
}

/** Primary side: forks `workers` workers (re-running this program) and serves their messages. */
export function runPrimary(o: PrimaryOptions): { stop(signal: NodeJS.Signals): void } {
  const limiters = new Map<string, FailureLimiter>();
  const listening = new Set<number>();
  let stopping = false;
  let reported = false;
  let restarts = 0;
  // a worker that is exiting may close its channel between isConnected() and the write (EPIPE): it needs nothing any more
  const send = (w: Worker, m: ToWorker) => { if (w.isConnected()) w.send(m, undefined, () => {}); };
  const broadcast = (m: ToWorker, except?: Worker) => {
    for (const w of Object.values(cluster.workers ?? {})) if (w && w !== except) send(w, m);
  };
  // acknowledged control messages: key "<origin worker id>:<its id>" -> origin, worker ids still to apply it
  const awaiting = new Map<string, { origin: Worker; id: number; left: Set<number> }>();
  const settle = (key: string) => {
    const a = awaiting.get(key);
    if (!a || a.left.size > 0) return;
    awaiting.delete(key);
    send(a.origin, { tincan: 'control-done', id: a.id });
  };
  const relayControl = (from: Worker, control: ControlMessage, id: number | undefined) => {
    if (id === undefined) return broadcast({ tincan: 'control', control }, from);
    const key = `${from.id}:${id}`;
    const others = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w !== from && w.isConnected());
    awaiting.set(key, { origin: from, id, left: new Set(others.map((w) => w.id)) });
    for (const w of others) send(w, { tincan: 'control', control, ack: key });
    settle(key);
  };
  const onMessage = (w: Worker, m: unknown) => {
    if (!isMsg(m)) return;
    const msg = m as ToPrimary;
    switch (msg.tincan) {
      case 'fanout': broadcast({ tincan: 'fanout', to: msg.to, msg: msg.msg }); break;
      case 'control': relayControl(w, msg.control, msg.id); break;
      case 'control-ack': awaiting.get(msg.id)?.left.delete(w.id); settle(msg.id); break;
      case 'limit': {
        const k = `${msg.counter}/${msg.max}/${msg.windowMs}`;
        let l = limiters.get(k);
        if (!l) { l = new FailureLimiter(msg.max, msg.windowMs); limiters.set(k, l); }
        let value = 0;
        if (msg.op === 'retry') value = l.retryAfterMs(msg.key, msg.now);
        else if (msg.op === 'fail') l.recordFailure(msg.key, msg.now);
        else l.clear(msg.key);
        send(w, { tincan: 'limit-reply', id: msg.id, value });
        break;
      }
      case 'listening':
        listening.add(w.id);
        if (!reported && listening.size >= o.workers) { reported = true; o.onListening(msg.port, msg.stunPort); }
        break;
    }
  };
  const fork = (index: number) => {
    const w = cluster.fork({ TINCAN_DIRECTORY_WORKER_INDEX: String(index) });
    w.on('message', (m: unknown) => onMessage(w, m));
    w.on('error', () => {}); // channel errors of an exiting worker (its 'exit' follows)
    w.on('exit', (code, signal) => {
      listening.delete(w.id);
      for (const [key, a] of awaiting) { a.left.delete(w.id); settle(key); } // a dead worker has nothing cached
      const restart = !stopping && restarts < 10 * o.workers;
      o.onWorkerExit(w.id, code, signal, restart);
      if (restart) { restarts++; fork(index); }
      else if (Object.keys(cluster.workers ?? {}).length === 0) o.onStopped();
    });
  };
  for (let i = 0; i < o.workers; i++) fork(i);
  return {
    stop(signal) {
      if (stopping) return;
      stopping = true;
      const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
      if (live.length === 0) o.onStopped();
      for (const w of live) w.process.kill(signal);
    },
  };
}

/** This process is a cluster worker started by runPrimary: its index (0 = first), else undefined. */
export function workerIndex(): number | undefined {
  return cluster.isWorker ? Number(process.env.TINCAN_DIRECTORY_WORKER_INDEX ?? 0) : undefined;
}
