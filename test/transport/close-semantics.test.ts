// Stream outcomes when a connection closes (TransportConnection.settleOnClose),
// over real loopback UDP: a clean close keeps what the peer finished readable to
// its end; a stream left unfinished, or with our data unacknowledged, is destroyed
// with a StreamClosedError naming the close; an error close errors every stream
// with the close's code.
import { describe, it, expect, afterEach } from 'vitest';
import { bindUdp, realClock } from '../../src/datagram/udp.ts';
import { systemRandom } from '../../src/datagram/system-random.ts';
import { createTransport, StreamClosedError, type TransportConnection, type TransportEndpoint, type TransportStream } from '../../src/transport/api.ts';
import { plaintextCrypto } from '../../src/transport/crypto.ts';
import { pattern } from './pair.ts';

const open: TransportEndpoint[] = [];
afterEach(() => { while (open.length) open.pop()!.close(); });

async function connected() {
  const server = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto, server: true });
  const client = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto });
  open.push(client, server);
  const serverConn = new Promise<TransportConnection>((r) => server.on('connection', r));
  const conn = await client.connect(server.local);
  return { conn, sc: await serverConn };
}

const nextStream = (c: TransportConnection) => new Promise<TransportStream>((r) => c.once('stream', r));
const closed = (c: TransportConnection) => new Promise<unknown>((r) => c.once('close', r));
function errors(s: TransportStream): Error[] { const out: Error[] = []; s.on('error', (e) => out.push(e)); return out; }
async function readAll(s: TransportStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}
const acked = (c: TransportConnection, id: number) => () => c.conn.streamCloseState(id).sendUnacked === 0;

describe('stream outcomes on connection close', () => {
  it('clean close after write + end(): the reader gets every byte and end, no error, on either side', async () => {
    const { conn, sc } = await connected();
    const data = pattern(200_000, 3);
    const incoming = nextStream(sc);
    const w = await conn.openStream({ bidi: false });
    const wErr = errors(w);
    w.end(data);
    const r = await incoming; // not read yet: the bytes wait in the connection
    const rErr = errors(r);
    await until(acked(conn, w.id)); // every byte and the FIN acknowledged
    const peerClosed = closed(sc);
    conn.close();
    expect(await peerClosed).toBeUndefined();
    const got = await readAll(r);
    expect(got.equals(Buffer.from(data))).toBe(true);
    expect(r.readableEnded).toBe(true);
    expect(rErr).toEqual([]);
    expect(wErr).toEqual([]);
    expect(w.writableFinished).toBe(true);
  });

  it('clean close on a bidi stream the peer finished: our unended send half takes end() but not write()', async () => {
    const { conn, sc } = await connected();
    const incoming = nextStream(sc);
    const c = await conn.openStream();
    const cErr = errors(c);
    c.end('request');
    const s = await incoming;
    const sErr = errors(s);
    await until(acked(conn, c.id));
    const peerClosed = closed(sc);
    conn.close(0, 'bye');
    await peerClosed;
    // read with events: for-await would destroy the stream when it ends
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    await new Promise((r) => s.once('end', r));
    expect(Buffer.concat(parts).toString()).toBe('request');
    expect(sErr).toEqual([]);
    s.write('too late');
    await until(() => sErr.length === 1);
    expect(sErr[0]).toBeInstanceOf(StreamClosedError);
    expect(sErr[0].message).toMatch(/write after connection closed by peer: bye/);
    // the client's stream: its receive half was never finished by the server
    expect(cErr.length).toBe(1);
    expect(cErr[0]).toBeInstanceOf(StreamClosedError);
    expect(cErr[0].message).toMatch(/peer never finished it/);
  });

  it('clean close with a stream open both ways: both ends are destroyed with a StreamClosedError naming the close', async () => {
    const { conn, sc } = await connected();
    const incoming = nextStream(sc);
    const c = await conn.openStream();
    const cErr = errors(c);
    c.write('hello');
    const s = await incoming;
    const sErr = errors(s);
    const first = await new Promise<Buffer>((r) => s.once('data', r));
    expect(first.toString()).toBe('hello');
    await until(acked(conn, c.id));
    const peerClosed = closed(sc);
    conn.close(0, 'done');
    expect(await peerClosed).toBeUndefined();
    await until(() => sErr.length > 0);
    const e = sErr[0] as StreamClosedError;
    expect(e).toBeInstanceOf(StreamClosedError);
    expect(e.name).toBe('StreamClosedError');
    expect(e.code).toBe(0);
    expect(e.remote).toBe(true);
    expect(e.streamId).toBe(s.id);
    expect(e.message).toMatch(/peer never finished it.*connection closed by peer: done \(code 0x0\)/);
    expect(cErr.length).toBe(1);
    expect((cErr[0] as StreamClosedError).remote).toBe(false);
    expect(cErr[0].message).toMatch(/connection closed: done/);
    expect(s.destroyed && c.destroyed).toBe(true);
  });

  it('clean close right after end(): the writer learns its data was not acknowledged', async () => {
    // a bidi stream: a write-only one is closed (autoDestroy) at 'finish', before any ack
    const { conn } = await connected();
    const w = await conn.openStream();
    const wErr = errors(w);
    w.end(pattern(50_000, 1));
    conn.close();
    await until(() => wErr.length > 0);
    expect(wErr[0]).toBeInstanceOf(StreamClosedError);
    expect(wErr[0].message).toMatch(/unacknowledged/);
  });

  it('close with an error code: every stream errors with that code, finished or not', async () => {
    const { conn, sc } = await connected();
    const incoming = nextStream(sc);
    const c = await conn.openStream();
    const cErr = errors(c);
    c.end('complete request');
    const s = await incoming;
    const sErr = errors(s);
    await until(acked(conn, c.id));
    const peerClosed = closed(sc);
    conn.close(7, 'going away');
    const ce = await peerClosed as { code: number };
    expect(ce.code).toBe(7);
    await until(() => sErr.length > 0 && cErr.length > 0);
    for (const [e, remote] of [[sErr[0], true], [cErr[0], false]] as const) {
      expect(e).toBeInstanceOf(StreamClosedError);
      expect((e as StreamClosedError).code).toBe(7);
      expect((e as StreamClosedError).remote).toBe(remote);
      expect(e.message).toMatch(/going away \(code 0x7\)/);
    }
  });
});
