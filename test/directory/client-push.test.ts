// DirectoryClient.openPush against a bare WebSocket server on loopback (no directory): the
// client side of the push channel that the peer's PushKeeper (src/overlay/push-keeper.ts)
// relies on — a hello that never comes is a typed 'timeout' (the half-open socket dropped),
// a close before the hello rejects instead of hanging, ping() is answered through onPong,
// terminate() drops the connection at once and still reports the close.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { DirectoryClient, DirectoryError } from '../../src/directory/client.ts';

let wss: WebSocketServer | undefined;
afterEach(async () => {
  for (const c of wss?.clients ?? []) c.terminate();
  await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
  wss = undefined;
});

/** A WebSocket server on 127.0.0.1 that hands each connection to `onConnection`. */
async function server(onConnection: (ws: WebSocket) => void): Promise<DirectoryClient> {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', onConnection);
  await new Promise<void>((r) => wss!.once('listening', () => r()));
  return new DirectoryClient(`http://127.0.0.1:${(wss.address() as { port: number }).port}`, 'token');
}

const hello = (ws: WebSocket) => ws.send(JSON.stringify({ type: 'hello', username: 'amy', deviceId: null, serverTime: 1 }));

describe('DirectoryClient.openPush (client side of the push channel)', () => {
  it('no hello within timeoutMs: rejects with code timeout and drops the socket', async () => {
    let serverSawClose = false;
    const client = await server((ws) => ws.on('close', () => { serverSawClose = true; }));
    const t0 = Date.now();
    const err = await client.openPush({ timeoutMs: 300, onMessage: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirectoryError);
    expect(err).toMatchObject({ status: 0, code: 'timeout' });
    expect((err as Error).message).toMatch(/no hello within 300 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await expect.poll(() => serverSawClose, { timeout: 5_000 }).toBe(true);
  });

  it('the server closes before its hello: rejects (network), does not hang', async () => {
    const client = await server((ws) => ws.close(1011, 'boom'));
    const err = await client.openPush({ timeoutMs: 5_000, onMessage: () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: 'network' });
    expect((err as Error).message).toMatch(/closed before the directory's hello \(1011\)/);
  });

  it('ping() is answered (onPong); terminate() drops the connection at once and onClose still runs', async () => {
    const client = await server(hello);
    let pongs = 0;
    const closes: number[] = [];
    const ch = await client.openPush({ onMessage: () => {}, onPong: () => { pongs++; }, onClose: (code) => closes.push(code) });
    ch.ping();
    ch.ping();
    await expect.poll(() => pongs, { timeout: 5_000 }).toBe(2);
    ch.terminate();
    expect((await ch.closed).code).toBe(1006);
    expect(closes).toEqual([1006]);
    ch.ping(); // after the close: ignored, no throw
  });
});
