// A live link picks up a contact's new address from presence (real Peer, simulated
// network, sim-peer-harness.ts). alice and bob are behind EIM/APDF NATs. Right after both
// published presence, bob's host moves behind another NAT (EIM/EIF, another public
// address: Wi-Fi -> LTE) — his published srflx is now stale. alice connects: the rendezvous
// carries the stale address, direct checks fail (alice's APDF NAT filters bob's checks from
// his new address, hers go to the old one), the session starts relayed. bob's next keepalive
// (20 s) sees his mapping moved and republishes; the directory pushes it to alice; her live
// link now checks bob's NEW srflx candidate and the session moves to the direct path, one
// stream carrying lines throughout. Before, re-checks only tried addresses known at link
// setup and the session stayed relayed for good.
import { describe, it, expect, afterAll } from 'vitest';
import type { Duplex } from 'node:stream';
import type { ContactSession, PathInfo } from '../../src/overlay/peer-api.ts';
import { NAT_KINDS } from './nat-model.ts';
import { simWorld, tempStateDirs } from './sim-peer-harness.ts';

const dirs = tempStateDirs();
afterAll(() => dirs.cleanup());

describe('a contact that changes networks (real Peer, simulated network)', () => {
  it('relayed on a stale address, then direct to the address bob republished', { timeout: 30_000 }, async () => {
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], 21, (n) => dirs.dir(`mob-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      w.move('bob', NAT_KINDS['EIM/EIF'], '198.51.100.5');
      const movedAt = w.net.clock.now();
      const bobSession = new Promise<ContactSession>((res) => bob.once('session', res));
      const as = await w.loop.settle(alice.connect('bob'), 15_000);
      expect(as.path.kind, w.logs.join('\n')).toBe('relayed');
      const paths: (PathInfo & { at: number })[] = [];
      as.on('path', (p) => paths.push({ ...p, at: w.net.clock.now() }));
      // bob echoes every line.
      void bobSession.then((s) => s.on('stream', (st: Duplex) => st.on('data', (c: Buffer) => st.write(c))));
      const st = await w.loop.settle(as.openStream(), 1_000);
      let echoed = '';
      st.on('data', (c: Buffer) => { echoed += c.toString(); });
      const say = async (line: string) => {
        st.write(`${line}\n`);
        expect(await w.loop.until(() => echoed.includes(`${line}\n`), 5_000), `echo of ${line}`).toBe(true);
      };
      await say('while relayed');
      expect(await w.loop.until(() => as.path.kind === 'direct', 40_000), w.logs.slice(-30).join('\n')).toBe(true);
      expect(as.path.remote).toMatch(/^198\.51\.100\.5:/);
      await say('after the switch');
      expect(as.closed).toBe(false);
      const republished = w.logs.find((l) => l.includes('bob: NAT mapping moved'))!;
      console.log(`bob moved at ${movedAt} ms; ${republished}; direct to ${as.path.remote} at ${paths.find((p) => p.kind === 'direct')!.at} ms`);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });

  it('mid-session: direct -> every path lost -> relayed -> direct to the new address, one stream throughout', { timeout: 30_000 }, async () => {
    // bob changes networks during a direct session: the direct pair and (until the relay lets
    // his side move, 5 s of silence) the relay pair die; the session waits, re-checking every
    // pair (the relay too); bob re-binds at the relay (SIDE_TAKEN retried after 6 s), the
    // relayed pair is selected again, and once his keepalive republished his new srflx the
    // session goes direct to it.
    const w = simWorld(NAT_KINDS['EIM/APDF'], NAT_KINDS['EIM/APDF'], 21, (n) => dirs.dir(`mid-${n}`));
    const [alice, bob] = await Promise.all([w.start('alice'), w.start('bob')]);
    try {
      const bobSession = new Promise<ContactSession>((res) => bob.once('session', res));
      const as = await w.loop.settle(alice.connect('bob'), 15_000);
      expect(as.path.kind).toBe('direct');
      const paths: (PathInfo & { at: number })[] = [];
      as.on('path', (p) => paths.push({ ...p, at: w.net.clock.now() }));
      void bobSession.then((s) => s.on('stream', (st: Duplex) => st.on('data', (c: Buffer) => st.write(c))));
      const st = await w.loop.settle(as.openStream(), 1_000);
      let echoed = '';
      st.on('data', (c: Buffer) => { echoed += c.toString(); });
      const say = async (line: string, withinMs = 5_000) => {
        st.write(`${line}\n`);
        expect(await w.loop.until(() => echoed.includes(`${line}\n`), withinMs), `echo of ${line}\n${w.logs.slice(-20).join('\n')}`).toBe(true);
      };
      await say('before the move');
      const movedAt = w.net.clock.now();
      w.move('bob', NAT_KINDS['EIM/EIF'], '198.51.100.5');
      st.write('during the outage\n'); // retransmitted by the transport until a path is back
      expect(await w.loop.until(() => as.path.kind === 'relayed' && paths.length > 0, 20_000), w.logs.slice(-20).join('\n')).toBe(true);
      await say('during the outage', 1_000);
      expect(await w.loop.until(() => as.path.kind === 'direct' && as.path.remote.startsWith('198.51.100.5:'), 30_000), w.logs.slice(-20).join('\n')).toBe(true);
      await say('after');
      expect(as.closed).toBe(false);
      const rel = paths.find((p) => p.kind === 'relayed')!;
      const dir = paths.find((p) => p.kind === 'direct')!;
      console.log(`mid-session move at ${movedAt} ms: relayed again after ${rel.at - movedAt} ms, direct to ${dir.remote} after ${dir.at - movedAt} ms`);
    } finally {
      await w.loop.settle(Promise.all([alice.close(), bob.close()]), 1_000).catch(() => {});
    }
  });
});
