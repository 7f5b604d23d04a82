// A complete small tincan on one machine, for `tincan demo` / `npm start`: a directory
// (SQLite in <dir>/directory.sqlite, STUN on UDP), a supernode registered at it, and two
// demo users (alice, bob) who are contacts of each other, each with a running daemon
// (peer + chat + control socket in <dir>/<user>, logged in: account.json 0600) — bob
// forced through the relay. Everything listens on 127.0.0.1 on free ports.
// close() stops it all (daemons, peers, supernode, directory), in that order.
import { createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startDirectory, makeLogger, type Directory } from '../directory/server.ts';
import { DirectoryClient } from '../directory/client.ts';
import { startRelayService, type RelayService } from '../overlay/relay-service.ts';
import { registerAtDirectory } from '../overlay/supernode-registration.ts';
import type { PeerNode } from '../overlay/peer-api.ts';
import { startDaemon, type Daemon } from '../apps/daemon.ts';
import type { ControlEvent } from '../apps/control/protocol.ts';
import { ensureStateDir, saveAccount } from '../apps/state-dir.ts';

export interface DemoUser { name: string; stateDir: string; peer: PeerNode; daemon: Daemon; forceRelay: boolean }
export interface DemoWorld {
  directory: Directory;
  supernode: RelayService;
  users: DemoUser[];
  close(): Promise<void>;
}

export interface DemoOptions {
  dir: string;
  /** Every daemon event, tagged with the user it happened at. */
  onEvent?(user: string, e: ControlEvent): void;
}

const secret = () => randomBytes(18).toString('base64url');

export async function startDemoWorld(o: DemoOptions): Promise<DemoWorld> {
  ensureStateDir(o.dir);
  const logFile = createWriteStream(join(o.dir, 'directory.log'), { mode: 0o600 });
  const cleanups: (() => Promise<void> | void)[] = [];
  const close = async () => { for (const f of cleanups.splice(0).reverse()) { try { await f(); } catch { /* keep closing */ } } };
  try {
    const directory = await startDirectory({
      databaseUrl: join(o.dir, 'directory.sqlite'), keyFile: join(o.dir, 'directory-key'),
      host: '127.0.0.1', port: 0, stunPort: 0, logger: makeLogger(logFile, 'info'),
    });
    cleanups.push(async () => { await directory.close(); logFile.end(); });
    const stun = { address: '127.0.0.1', port: directory.stunPort! };

    const supernode = await startRelayService({ address: '127.0.0.1', port: 0, directoryPublicKey: directory.publicKey, allowLoopback: true });
    cleanups.push(() => supernode.close());
    const snClient = new DirectoryClient(directory.url);
    const snPassword = secret();
    await snClient.register('demo-supernode', snPassword);
    await snClient.login('demo-supernode', snPassword);
    const registration = await registerAtDirectory({
      directory: snClient, address: '127.0.0.1', port: supernode.local.port, capacity: 100,
      load: () => supernode.counters().relay.sessionsActive,
    });
    cleanups.push(() => registration.close());

    const clients: Record<string, DirectoryClient> = {};
    for (const name of ['alice', 'bob']) {
      const c = new DirectoryClient(directory.url);
      const password = secret();
      await c.register(name, password);
      const s = await c.login(name, password);
      saveAccount(join(o.dir, name), { directory: directory.url, username: name, token: s.token, expiresAt: s.expiresAt });
      clients[name] = c;
    }
    await clients.alice.requestContact('bob');
    await clients.bob.acceptContact('alice');

    const { startPeer } = await import('../overlay/peer.ts');
    const users: DemoUser[] = [];
    for (const name of ['alice', 'bob']) {
      const stateDir = join(o.dir, name);
      const forceRelay = name === 'bob';
      const peer = await startPeer({ directoryUrl: directory.url, directory: clients[name], stateDir, bindAddress: '127.0.0.1', stun, forceRelay, deviceName: `demo-${name}` });
      cleanups.push(() => peer.close());
      const daemon = await startDaemon({ peer, stateDir, onEvent: (e) => o.onEvent?.(name, e) });
      cleanups.push(() => daemon.close());
      users.push({ name, stateDir, peer, daemon, forceRelay });
    }
    return { directory, supernode, users, close };
  } catch (e) {
    await close();
    throw e;
  }
}
