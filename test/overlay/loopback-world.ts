// Test fixture for the tests that run real Peers on loopback (overlay e2e and upgrade,
// the apps' chat tests): a real directory (SQLite file in a temp dir, HTTP + push + STUN,
// punch delay 100 ms, warnings only), a supernode (relay + STUN, UDP and TCP) registered
// at it by the user 'operator', the given users registered and logged in, and mutual
// contacts. close() releases all of it and deletes the temp dir; close the Peers first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startDirectory, makeLogger, type Directory } from '../../src/directory/server.ts';
import { TEST_SCRYPT } from '../../src/directory/password.ts';
import { DirectoryClient } from '../../src/directory/client.ts';
import { startRelayService, type RelayService } from '../../src/overlay/relay-service.ts';
import { registerAtDirectory, type SupernodeRegistration } from '../../src/overlay/supernode-registration.ts';

export interface LoopbackWorld {
  /** Temp dir holding the directory's database; Peers' state dirs may go below it. */
  readonly tmp: string;
  readonly dir: Directory;
  readonly relay: RelayService;
  readonly reg: SupernodeRegistration;
  /** Logged-in directory clients by user name (including 'operator'). */
  readonly clients: Record<string, DirectoryClient>;
  /** Bearer tokens by user name. */
  readonly tokens: Record<string, string>;
  close(): Promise<void>;
}

/** `contacts`: [requester, accepter] pairs, made mutual in order. */
export async function startLoopbackWorld(prefix: string, users: readonly string[], contacts: readonly (readonly [string, string])[]): Promise<LoopbackWorld> {
  const tmp = mkdtempSync(join(tmpdir(), `tincan-${prefix}-`));
  const parts: { dir?: Directory; relay?: RelayService; reg?: SupernodeRegistration } = {};
  const close = async () => {
    parts.reg?.close();
    parts.relay?.close();
    await parts.dir?.close();
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const dir = parts.dir = await startDirectory({
      databaseUrl: join(tmp, 'directory.sqlite'), host: '127.0.0.1', port: 0, stunPort: 0,
      logger: makeLogger(new Writable({ write(_c, _e, cb) { cb(); } }), 'warn'), config: { scrypt: TEST_SCRYPT, logRequests: false, punchDelayMs: 100 },
    });
    const relay = parts.relay = await startRelayService({ address: '127.0.0.1', port: 0, directoryPublicKey: dir.publicKey, allowLoopback: true });
    const clients: Record<string, DirectoryClient> = {};
    const tokens: Record<string, string> = {};
    for (const name of ['operator', ...users]) {
      const c = new DirectoryClient(dir.url);
      await c.register(name, `${name} has a long password`);
      await c.login(name, `${name} has a long password`);
      clients[name] = c;
      tokens[name] = c.token!;
    }
    const reg = parts.reg = await registerAtDirectory({ directory: clients.operator, address: '127.0.0.1', port: relay.local.port, capacity: 100 });
    for (const [from, to] of contacts) {
      await clients[from].requestContact(to);
      await clients[to].acceptContact(from);
    }
    return { tmp, dir, relay, reg, clients, tokens, close };
  } catch (e) {
    await close();
    throw e;
  }
}
