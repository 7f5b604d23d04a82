// The public API over real loopback UDP (bindUdp + realClock): Duplex streams
// with backpressure, byte-exact bulk transfer both ways, many streams,
// datagrams, close reasons and resets.
import { describe, it, expect, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { bindUdp, realClock } from '../../src/datagram/udp.ts';
import { systemRandom } from '../../src/datagram/system-random.ts';
import { ConnectionClosedError, createTransport, type TransportEndpoint, type TransportStream } from '../../src/transport/api.ts';
import { plaintextCrypto } from '../../src/transport/crypto.ts';
import { pattern } from './pair.ts';

const open: TransportEndpoint[] = [];
afterEach(() => { while (open.length) open.pop()!.close(); });

async function endpoints(opts: { maxUdpPayload?: number; batch?: boolean } = {}) {
  const server = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto, server: true, ...opts });
  const client = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto, ...opts });
  open.push(client, server);
  return { server, client };
}

const sha = (b: Uint8Array | Buffer) => createHash('sha256').update(b).digest('hex');
async function readAll(s: TransportStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('transport API over loopback UDP', () => {
  it.each([false, true])('echoes 8 MiB through a bidirectional Duplex stream, byte-exact, with backpressure (batch %s)', async (batch) => {
    const { server, client } = await endpoints({ maxUdpPayload: 16384, batch });
    server.on('connection', (c) => c.on('stream', (s) => s.pipe(s)));
    const conn = await client.connect(server.local);
    const s = await conn.openStream();
    const data = pattern(8 << 20, 7);
    const echoed = readAll(s);
    let writesBlocked = 0;
    for (let off = 0; off < data.length; off += 64 * 1024) {
      if (!s.write(data.subarray(off, off + 64 * 1024))) { writesBlocked++; await new Promise((r) => s.once('drain', r)); }
    }
    s.end();
    const got = await echoed;
    expect(got.length).toBe(data.length);
    expect(sha(got)).toBe(sha(data));
    expect(writesBlocked).toBeGreaterThan(0);
  });

  it('many concurrent streams, unidirectional streams and datagrams', async () => {
    const { server, client } = await endpoints();
    const uniReceived: Promise<string>[] = [];
    const dgrams: number[] = [];
    server.on('connection', (c) => {
      c.on('stream', (s) => {
        if ((s.id & 2) !== 0) uniReceived.push(readAll(s).then((b) => b.toString()));
        else s.pipe(s);
      });
      c.on('datagram', (d) => { dgrams.push(d[0]); c.sendDatagram(d); });
    });
    const conn = await client.connect(server.local);
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const s = await conn.openStream();
      const r = readAll(s);
      s.end(`stream ${i}`);
      return (await r).toString();
    }));
    results.forEach((r, i) => expect(r).toBe(`stream ${i}`));
    const u = await conn.openStream({ bidi: false });
    u.end('one way');
    const back: number[] = [];
    conn.on('datagram', (d) => back.push(d[0]));
    for (let i = 0; i < 10; i++) conn.sendDatagram(new Uint8Array([i]));
    await until(() => uniReceived.length === 1 && back.length >= 8);
    expect(await uniReceived[0]).toBe('one way');
    expect(dgrams.length).toBeGreaterThanOrEqual(8);
  });

  it('close(code, reason) and stream reset surface as errors with clear reasons', async () => {
    const { server, client } = await endpoints();
    const serverConn = new Promise<import('../../src/transport/api.ts').TransportConnection>((r) => server.on('connection', r));
    const conn = await client.connect(server.local);
    const s = await conn.openStream();
    s.write('x');
    const sc = await serverConn;
    const peerStream = await new Promise<TransportStream>((r) => sc.on('stream', r));
    const errored = new Promise<Error>((r) => peerStream.on('error', r));
    s.on('error', () => {});
    s.destroy(new Error('local abort'));
    expect((await errored).message).toMatch(/reset by peer/);
    const closed = new Promise<unknown>((r) => sc.on('close', r));
    conn.close(7, 'going away');
    const err = await closed as Error & { code: number; remote: boolean };
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err.name).toBe('ConnectionClosedError');
    expect(err.message).toMatch(/closed by peer: going away/);
    expect(err.code).toBe(7);
    expect(err.remote).toBe(true);
  });

  it('connect() to a port nobody answers fails with an idle-timeout reason', async () => {
    const client = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto, idleTimeoutMs: 300, initialRttMs: 50 });
    open.push(client);
    const silent = await bindUdp({ address: '127.0.0.1' });
    try {
      await expect(client.connect(silent.local)).rejects.toThrow(/idle timeout/);
    } finally { silent.close(); }
  });
});

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}
