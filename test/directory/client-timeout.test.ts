// DirectoryClient gives up on a directory that accepts the connection but never answers
// (e.g. a connection bound to an address that vanished in a network change): a typed
// DirectoryError with code 'timeout' instead of a request that hangs forever.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryClient, DirectoryError } from '../../src/directory/client.ts';

let server: Server | undefined;
const held: Socket[] = [];
afterEach(async () => {
  for (const s of held.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A TCP server on loopback that reads requests and never writes a byte. */
async function silentServer(): Promise<number> {
  server = createServer((s) => { held.push(s); s.on('data', () => {}); });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

describe('DirectoryClient request timeout', () => {
  it('rejects with code timeout when the directory never answers', async () => {
    const port = await silentServer();
    const client = new DirectoryClient(`http://127.0.0.1:${port}`, 'token', 300);
    const err = await client.setPresence({ deviceId: 'd', status: 'online', candidates: [], nat: null, supernode: null } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirectoryError);
    expect(err).toMatchObject({ status: 0, code: 'timeout' });
    expect((err as Error).message).toMatch(/PUT \/v1\/presence: no answer within 300 ms/);
  });

  it('a refused connection is still code network, naming the cause', async () => {
    const port = await silentServer();
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const err = await new DirectoryClient(`http://127.0.0.1:${port}`, 'token', 2_000).me().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: 'network' });
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });
});
