// RelayBatchDriver: a burst delivered in one receive callback is forwarded in one drain
// and ONE flush (after the callback returns, as a microtask), with the batch's time read
// once; the core's timer is armed and fires; close() sends what is pending, then closes.
// Over a batched socket with a run-capable core: runs in, each sent as a run before the next
// is read, one flush per batch.
import { describe, it, expect } from 'vitest';
import { RelayBatchDriver, type BatchCore } from '../../src/overlay/relay-driver.ts';
import type { Clock, DatagramHandler, DatagramSocket, UdpAddress } from '../../src/wire/socket.ts';
import type { DatagramBatch } from '../../src/datagram/batch.ts';

class FakeSocket implements DatagramSocket {
  readonly local = { address: '127.0.0.1', port: 1 };
  handler: DatagramHandler = () => {};
  readonly log: string[] = [];
  closed = false;
  send(to: UdpAddress, bytes: Uint8Array): void { this.log.push(`send ${to.port} ${bytes[0]}`); }
  flush(): void { this.log.push('flush'); }
  onDatagram(h: DatagramHandler): void { this.handler = h; }
  close(): void { this.closed = true; }
}

/** Echo core: every datagram goes back to port+1000; timeouts at `nextAt`. */
class EchoCore implements BatchCore {
  readonly q: { to: UdpAddress; bytes: Uint8Array }[] = [];
  readonly seenNow: number[] = [];
  nextAt: number | undefined = 1000;
  timeouts: number[] = [];
  handleDatagram(now: number, from: UdpAddress, bytes: Uint8Array): void { this.seenNow.push(now); this.q.push({ to: { address: from.address, port: from.port + 1000 }, bytes }); }
  handleTimeout(now: number): void { this.timeouts.push(now); this.nextAt = undefined; }
  pollInto(slot: { to: UdpAddress; bytes: Uint8Array }): boolean { const t = this.q.shift(); if (!t) return false; slot.to = t.to; slot.bytes = t.bytes; return true; }
  pollTimeout(): number | undefined { return this.nextAt; }
}

function fakeClock(): Clock & { t: number; timers: { at: number; cb: () => void; cancelled: boolean }[]; fire(): void } {
  const c = {
    t: 0,
    timers: [] as { at: number; cb: () => void; cancelled: boolean }[],
    now() { c.t += 1; return c.t; }, // every read is visible
    setTimer(at: number, cb: () => void) { const h = { at, cb, cancelled: false }; c.timers.push(h); return { cancel: () => { h.cancelled = true; } }; },
    fire() { for (const h of c.timers.splice(0)) if (!h.cancelled) h.cb(); },
  };
  return c;
}

describe('RelayBatchDriver', () => {
  it('one drain and one flush per received batch, the batch time read once, no allocation of transmit objects', async () => {
    const sock = new FakeSocket(), core = new EchoCore(), clock = fakeClock();
    const d = new RelayBatchDriver(core, sock, clock);
    for (let i = 0; i < 5; i++) sock.handler({ address: '198.51.100.2', port: 10 + i }, Uint8Array.of(i)); // one recvmmsg batch
    expect(sock.log).toEqual([]); // nothing before the callback returned
    await Promise.resolve();
    expect(sock.log).toEqual(['send 1010 0', 'send 1011 1', 'send 1012 2', 'send 1013 3', 'send 1014 4', 'flush']);
    expect(new Set(core.seenNow).size).toBe(1);
    expect(d.drains).toBe(1);
    // the next batch is another drain and flush
    sock.handler({ address: '198.51.100.2', port: 20 }, Uint8Array.of(9));
    await Promise.resolve();
    expect(sock.log.slice(-2)).toEqual(['send 1020 9', 'flush']);
    expect(d.drains).toBe(2);
    // the timer armed at the core's pollTimeout fires handleTimeout
    expect(clock.timers.filter((t) => !t.cancelled).map((t) => t.at)).toEqual([1000]);
    clock.fire();
    expect(core.timeouts.length).toBe(1);
    // close: pending output goes out first
    core.q.push({ to: { address: '198.51.100.2', port: 7 }, bytes: Uint8Array.of(7) });
    d.close();
    expect(sock.log.slice(-2)).toEqual(['send 7 7', 'flush']);
    expect(sock.closed).toBe(true);
    sock.handler({ address: '198.51.100.2', port: 30 }, Uint8Array.of(1));
    await Promise.resolve();
    expect(sock.log.slice(-1)).toEqual(['flush']); // nothing after close
  });
});

describe('RelayBatchDriver over a batched socket', () => {
  /** A batch socket: records runs sent and flushes; `deliver` hands it a batch of runs. */
  class FakeBatchSocket extends FakeSocket {
    batchHandler: ((b: DatagramBatch) => void) | undefined;
    onBatch(h: (b: DatagramBatch) => void): void { this.batchHandler = h; }
    sendRun(to: UdpAddress, bytes: Uint8Array, seg: number): void { this.log.push(`run ${to.port} ${Array.from(bytes).join(',')} /${seg}`); }
  }
  /** Run core: each run goes back to port+1000 as one item; counts items left queued when the driver sends. */
  class RunCore extends EchoCore {
    readonly runs: string[] = [];
    readonly rq: { to: UdpAddress; bytes: Uint8Array; segmentSize: number }[] = [];
    handleRun(now: number, from: UdpAddress, buf: Uint8Array, off: number, len: number, seg: number): void {
      this.seenNow.push(now);
      this.runs.push(`${from.port}:${off}+${len}/${seg}`);
      this.rq.push({ to: { address: from.address, port: from.port + 1000 }, bytes: buf.subarray(off, off + len), segmentSize: seg });
    }
    pollRunInto(slot: { to: UdpAddress; bytes: Uint8Array; segmentSize: number }): boolean {
      const t = this.rq.shift();
      if (!t) return false;
      Object.assign(slot, t);
      return true;
    }
  }

  it('runs in, runs out: each run to handleRun and sent (sendRun) before the next run is read, one flush per batch, time read once', () => {
    const sock = new FakeBatchSocket(), core = new RunCore(), clock = fakeClock();
    const d = new RelayBatchDriver(core, sock, clock);
    expect(d.batched).toBe(true);
    const bytes = Uint8Array.from({ length: 12 }, (_, i) => i);
    const meta = [[0, 6, 2, 10], [6, 5, 5, 11], [11, 1, 1, 10]];
    const batch: DatagramBatch = {
      bytes, runs: 3, offset: (r) => meta[r]![0]!, length: (r) => meta[r]![1]!, segmentSize: (r) => meta[r]![2]!,
      from: (r) => ({ address: '198.51.100.2', port: meta[r]![3]! }),
    };
    sock.batchHandler!(batch);
    expect(core.runs).toEqual(['10:0+6/2', '11:6+5/5', '10:11+1/1']);
    expect(sock.log).toEqual(['run 1010 0,1,2,3,4,5 /2', 'run 1011 6,7,8,9,10 /5', 'run 1010 11 /1', 'flush']);
    expect(new Set(core.seenNow).size).toBe(1);
    expect(d.drains).toBe(1);
    d.close();
    sock.batchHandler!(batch);
    expect(core.runs.length).toBe(3); // nothing after close
  });

  it('a socket without the batch API, or a core without runs: the per-datagram path', () => {
    const clock = fakeClock();
    expect(new RelayBatchDriver(new RunCore(), new FakeSocket(), clock).batched).toBe(false);
    expect(new RelayBatchDriver(new EchoCore(), new FakeBatchSocket(), clock).batched).toBe(false);
  });
});
