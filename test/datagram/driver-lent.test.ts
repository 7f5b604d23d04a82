// The Driver over a socket that lends its receive memory (receivesInPlace: the native
// arena) to an endpoint that copies what it keeps (copiesReceivedDatagrams): datagrams
// arrive through onBatch as views of the batch — every segment of every run in order, an
// empty datagram as an empty view — a handler error costs no other datagram of the batch
// (the first is rethrown after it), close() inside stops the batch; an endpoint that keeps
// views gets onDatagram instead. Over the real native socket (also under the ASan child):
// a transfer through createTransport({ copyReceivedData: true }) reads through the arena (no
// ArrayBuffer per batch) and stays byte-exact, also read with readRecycled (views valid during the
// callback, scribbled on after it); createTransport's default does not lend.
import { describe, it, expect, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { Driver, type SansIoEndpoint } from '../../src/datagram/driver.ts';
import { SingleDatagramBatch, type BatchHandler, type DatagramBatch } from '../../src/datagram/batch.ts';
import { bindUdp, nativeUdp, realClock } from '../../src/datagram/udp.ts';
import { systemRandom } from '../../src/datagram/system-random.ts';
import { createTransport, type TransportEndpoint, type TransportStream } from '../../src/transport/api.ts';
import { plaintextCrypto } from '../../src/transport/crypto.ts';
import type { DatagramHandler, UdpAddress } from '../../src/wire/socket.ts';

const A: UdpAddress = { address: '192.0.2.1', port: 9 }, B: UdpAddress = { address: '192.0.2.3', port: 7 };

/** Runs (from, segment size, datagrams) laid out back to back in one buffer. */
function batchOf(runs: { from: UdpAddress; seg: number; data: number[][] }[]): DatagramBatch {
  const meta: { off: number; len: number; seg: number; from: UdpAddress }[] = [];
  const bytes: number[] = [];
  for (const r of runs) {
    const off = bytes.length;
    for (const d of r.data) bytes.push(...d);
    meta.push({ off, len: bytes.length - off, seg: r.seg, from: r.from });
  }
  const buf = new Uint8Array(bytes);
  return { bytes: buf, runs: meta.length, offset: (i) => meta[i].off, length: (i) => meta[i].len, segmentSize: (i) => meta[i].seg, from: (i) => meta[i].from };
}

function setup(copies: boolean, onHandle?: (n: number) => void) {
  let batchHandler: BatchHandler | undefined, datagramHandler: DatagramHandler | undefined;
  const socket = {
    local: { address: '192.0.2.2', port: 1 }, receivesInPlace: true,
    send() {}, sendRun() {}, flush() {}, close() {},
    onDatagram(h: DatagramHandler) { datagramHandler = h; batchHandler = undefined; },
    onBatch(h: BatchHandler) { batchHandler = h; datagramHandler = undefined; },
  };
  const got: { from: UdpAddress; bytes: number[] }[] = [];
  const endpoint: SansIoEndpoint = {
    copiesReceivedDatagrams: copies,
    handleDatagram: (_now, from, b) => { got.push({ from, bytes: [...b] }); onHandle?.(got.length); },
    handleTimeout() {}, pollTransmit: () => undefined, pollTimeout: () => undefined,
  };
  const clock = { now: () => 0, setTimer: () => ({ cancel() {} }), defer: () => {} };
  const driver = new Driver(endpoint, socket, clock);
  return { driver, got, batch: () => batchHandler, datagram: () => datagramHandler };
}

describe('Driver over lent receive memory', () => {
  it('hands every segment of every run over in order as a view of the batch; an empty datagram too', () => {
    const t = setup(true);
    expect(t.driver.lendsReceiveMemory).toBe(true);
    expect(t.datagram()).toBeUndefined();
    t.batch()!(batchOf([
      { from: A, seg: 3, data: [[1, 2, 3], [4, 5, 6], [7]] }, // a GRO run: 3 + 3 + 1
      { from: B, seg: 0, data: [] }, // an empty datagram
      { from: A, seg: 2, data: [[8, 9]] },
    ]));
    expect(t.got).toEqual([
      { from: A, bytes: [1, 2, 3] }, { from: A, bytes: [4, 5, 6] }, { from: A, bytes: [7] },
      { from: B, bytes: [] }, { from: A, bytes: [8, 9] },
    ]);
    // a batch of one (the arena transferred away: copied mode) works the same
    t.batch()!(new SingleDatagramBatch().set(B, new Uint8Array([42])));
    expect(t.got.at(-1)).toEqual({ from: B, bytes: [42] });
  });

  it('a handler error costs no other datagram of the batch: the first is rethrown after it', () => {
    const t = setup(true, (n) => { if (n === 2) throw new Error('second'); if (n === 3) throw new Error('third'); });
    expect(() => t.batch()!(batchOf([{ from: A, seg: 1, data: [[1], [2], [3], [4]] }]))).toThrow('second');
    expect(t.got.map((g) => g.bytes[0])).toEqual([1, 2, 3, 4]);
  });

  it('close() inside the batch stops it', () => {
    const box: { driver?: Driver } = {};
    const t = setup(true, (n) => { if (n === 2) box.driver!.close(); });
    box.driver = t.driver;
    t.batch()!(batchOf([{ from: A, seg: 1, data: [[1], [2], [3]] }, { from: B, seg: 1, data: [[4]] }]));
    expect(t.got.map((g) => g.bytes[0])).toEqual([1, 2]);
  });

  it('an endpoint that keeps views gets datagrams through onDatagram', () => {
    const t = setup(false);
    expect(t.driver.lendsReceiveMemory).toBe(false);
    expect(t.batch()).toBeUndefined();
    t.datagram()!(A, new Uint8Array([5]));
    expect(t.got).toEqual([{ from: A, bytes: [5] }]);
  });
});

const open: TransportEndpoint[] = [];
afterEach(() => { while (open.length) open.pop()!.close(); });

describe.skipIf(!nativeUdp.available)('the transport over the native socket\'s arena', () => {
  it.each([[1200, false], [65_000, false], [1200, true], [65_000, true]])('reads through the arena (lendsReceiveMemory) and a 24 MiB transfer stays byte-exact (max payload %i, readRecycled %s)', async (maxUdpPayload, recycled) => {
    const mk = async (server: boolean) => {
      const t = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto, server, maxUdpPayload, copyReceivedData: true });
      open.push(t);
      return t;
    };
    const server = await mk(true), client = await mk(false);
    expect(server.driver.lendsReceiveMemory).toBe(true);
    const plain = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto });
    open.push(plain);
    expect(plain.driver.lendsReceiveMemory).toBe(false); // opt-in: createTransport's default keeps the copied path
    const got = new Promise<Buffer>((resolve) => server.on('connection', (c) => c.on('stream', (s: TransportStream) => {
      const parts: Buffer[] = [];
      if (recycled) s.readRecycled((d) => { parts.push(Buffer.from(d)); d.fill(0xdd); }); // copied, then scribbled on
      else s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => resolve(Buffer.concat(parts)));
    })));
    const conn = await client.connect(server.local);
    const s = await conn.openStream({ bidi: false });
    const data = new Uint8Array(24 << 20);
    const dv = new DataView(data.buffer);
    for (let i = 0; i < data.length; i += 4) dv.setUint32(i, (i * 2654435761) >>> 0);
    s.end(data);
    const received = await got;
    expect(received.length).toBe(data.length);
    expect(createHash('sha256').update(received).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  }, 60_000);
});
