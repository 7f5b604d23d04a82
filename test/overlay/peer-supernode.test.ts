// Automatic supernodes (Skype's rule) on loopback: with an RFC 5780 STUN endpoint (two
// addresses, two ports) a peer on its own address with no filtering classifies itself
// "public" and, unless it opted out, serves as a supernode on its own socket and registers
// at the directory; two peers forced through the relay then talk through it once the
// dedicated supernode they classified against is gone.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startDirectory, makeLogger } from '../../src/directory/server.ts';
import { startStunServer } from '../../src/directory/stun-server.ts';
import { TEST_SCRYPT } from '../../src/directory/password.ts';
import { DirectoryClient } from '../../src/directory/client.ts';
import { startRelayService } from '../../src/overlay/relay-service.ts';
import { registerAtDirectory } from '../../src/overlay/supernode-registration.ts';
import { startPeer, type PeerOptions } from '../../src/overlay/peer.ts';
import type { PeerNode } from '../../src/overlay/peer-api.ts';
import { readLine } from './peer-test-helpers.ts';

describe('a public, unfiltered peer becomes a supernode', () => {
  it('classifies itself public, registers, relays for two contacts; an opted-out twin does not', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tincan-peer-sn-'));
    const logs: string[] = [];
    const dir = await startDirectory({
      databaseUrl: join(tmp, 'directory.sqlite'), host: '127.0.0.1', port: 0,
      logger: makeLogger(new Writable({ write(_c, _e, cb) { cb(); } }), 'warn'), config: { scrypt: TEST_SCRYPT, logRequests: false, punchDelayMs: 100 },
    });
    const stun = await startStunServer({ address: '127.0.0.2', port: 0, alternateAddress: '127.0.0.3' });
    const relay = await startRelayService({ address: '127.0.0.1', port: 0, directoryPublicKey: dir.publicKey, allowLoopback: true, tcp: false });
    const peers: PeerNode[] = [];
    try {
      const clients: Record<string, DirectoryClient> = {};
      for (const n of ['operator', 'erin', 'frank', 'gina', 'hank']) {
        const c = new DirectoryClient(dir.url);
        await c.register(n, `${n} long password`);
        await c.login(n, `${n} long password`);
        clients[n] = c;
      }
      await clients.frank.requestContact('gina');
      await clients.gina.acceptContact('frank');
      const reg = await registerAtDirectory({ directory: clients.operator, address: '127.0.0.1', port: relay.local.port, capacity: 10 });
      const start = async (name: string, extra: Partial<PeerOptions> = {}) => {
        const p = await startPeer({
          directoryUrl: dir.url, token: clients[name].token, stateDir: join(tmp, name), bindAddress: '127.0.0.1',
          stun: { address: '127.0.0.2', port: stun.port }, stunAltPort: stun.other!.port, log: (l) => logs.push(`${name}: ${l}`),
          supernodeRole: { allowLoopback: true }, ...extra,
        });
        peers.push(p);
        return p;
      };
      const erin = await start('erin');
      const hank = await start('hank', { supernodeOptOut: true });
      expect(erin.nat).toBe('public');
      expect(hank.nat).toBe('public');
      const listed = await clients.frank.supernodes();
      const erinPort = (erin as unknown as { local: { port: number } }).local.port;
      expect(listed.map((s) => s.port).sort()).toEqual([relay.local.port, erinPort].sort()); // erin yes, hank (opted out) no

      // The dedicated supernode goes away: frank and gina (forced through the relay) find erin.
      reg.close();
      relay.close();
      // (frank and gina opt out themselves, so that erin is the only live supernode they know.)
      const frank = await start('frank', { forceRelay: true, supernodeOptOut: true });
      const gina = await start('gina', { forceRelay: true, supernodeOptOut: true });
      gina.on('session', (cs) => cs.on('stream', (s) => { void readLine(s).then((l) => s.end(`${l.toUpperCase()}\n`)); }));
      const session = await frank.connect('gina');
      expect(session.path).toMatchObject({ kind: 'relayed', remote: `127.0.0.1:${erinPort}` });
      const s = await session.openStream();
      s.write('through erin\n');
      expect(await readLine(s)).toBe('THROUGH ERIN');
      s.end();
    } catch (e) {
      console.log(logs.join('\n'));
      throw e;
    } finally {
      for (const p of peers) await p.close();
      relay.close();
      await stun.close();
      await dir.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 30_000);
});
