// Review (2026-12-02): TransportStream.readRecycled — a reader that destroys the stream inside
// its callback gets no further chunks (before the fix, pullRecycled went on reading and handed
// every chunk the transport still held to the callback of the destroyed stream, in the same
// loop). Loopback UDP, real clock; the data is buffered before readRecycled (the transfer fits
// the stream window; the reader waits 300 ms, generous on loopback, before reading).
import { describe, it, expect, afterEach } from 'vitest';
import { bindUdp, realClock } from '../../src/datagram/udp.ts';
import { systemRandom } from '../../src/datagram/system-random.ts';
import { createTransport, type TransportEndpoint, type TransportStream } from '../../src/transport/api.ts';
import { plaintextCrypto } from '../../src/transport/crypto.ts';
import { pattern } from './pair.ts';

const open: TransportEndpoint[] = [];
afterEach(() => { while (open.length) open.pop()!.close(); });

describe('readRecycled and destroy()', () => {
  it('a reader that destroys the stream inside its callback gets no further chunk', async () => {
    const server = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto, server: true });
    const client = createTransport({ socket: await bindUdp({ address: '127.0.0.1' }), clock: realClock, random: systemRandom(), crypto: plaintextCrypto });
    open.push(client, server);
    const size = 32 * 1024; // within the stream's flow-control window: all of it arrives unread
    const accepted = new Promise<TransportStream>((resolve) => server.on('connection', (c) => c.on('stream', resolve)));
    const conn = await client.connect(server.local);
    const s = await conn.openStream({ bidi: false });
    s.end(pattern(size, 3));
    const r = await accepted;
    // the whole transfer (many STREAM frames) arrives and is held by the transport, unread
    await new Promise((res) => setTimeout(res, 300));
    let calls = 0, afterDestroy = 0;
    r.readRecycled(() => {
      calls++;
      if (r.destroyed) afterDestroy++;
      r.destroy();
    });
    await new Promise((res) => setTimeout(res, 50));
    expect(calls).toBe(1);
    expect(afterDestroy).toBe(0);
  });
});
