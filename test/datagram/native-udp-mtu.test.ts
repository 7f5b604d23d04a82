// The native socket over a real 1500-byte-MTU link (two network namespaces joined by
// a veth pair, 198.51.100.1 -> .2; root only, else skipped with the reason): a run of
// equal-size datagrams larger than the MTU is refused by UDP GSO (EMSGSIZE on 6.x,
// EINVAL before) where node:dgram's plain datagrams are IP-fragmented — the socket
// must resend them one by one (fragmented, delivered) and coalesce only shorter
// segments from then on; runs that fit still go out as GSO messages.
import { describe, it, expect } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nativeUdp } from '../../src/datagram/udp.ts';
import { labUnavailable } from '../lab/netns.ts';

const why = !nativeUdp.available ? 'native UDP addon not loaded' : labUnavailable();
const repo = fileURLToPath(new URL('../..', import.meta.url));

function sh(args: string[]): string {
  return execFileSync('ip', args, { stdio: 'pipe', encoding: 'utf8', timeout: 10_000 });
}

/** Run `node <args>` inside namespace `ns`; resolves with its stdout. */
function nodeIn(ns: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`node in ${ns} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

describe('native UDP socket over a 1500-byte MTU link', () => {
  it.skipIf(why !== undefined)(`GSO runs too big for the MTU are resent fragmented, smaller runs stay GSO${why ? ` (skipped: ${why})` : ''}`, async () => {
    const id = `tcdg${process.pid}`;
    const [nsA, nsB] = [`${id}-a`, `${id}-b`];
    try {
      sh(['netns', 'add', nsA]);
      sh(['netns', 'add', nsB]);
      sh(['link', 'add', 'v0', 'netns', nsA, 'type', 'veth', 'peer', 'name', 'v1', 'netns', nsB]);
      sh(['-n', nsA, 'addr', 'add', '198.51.100.1/24', 'dev', 'v0']);
      sh(['-n', nsB, 'addr', 'add', '198.51.100.2/24', 'dev', 'v1']);
      for (const [ns, dev] of [[nsA, 'v0'], [nsB, 'v1']] as const) {
        sh(['-n', ns, 'link', 'set', dev, 'mtu', '1500', 'up']);
        sh(['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      const receiver = nodeIn(nsB, ['-e', `
        const s = require('node:dgram').createSocket('udp4'); const got = [];
        s.on('message', (m) => { got.push(m.length); if (got.length === 9) done(); });
        const done = () => { console.log(JSON.stringify(got)); process.exit(0); };
        s.bind(9999, '198.51.100.2', () => console.log('ready'));
        setTimeout(done, 8000);
      `]);
      await new Promise((r) => setTimeout(r, 300)); // the receiver binds (a lost datagram would show as a shorter list)
      const sender = await nodeIn(nsA, ['--import', 'tsx', '--input-type=module', '-e', `
        import { bindUdp } from './src/datagram/udp.ts';
        const a = await bindUdp({ address: '198.51.100.1', impl: 'native' });
        const to = { address: '198.51.100.2', port: 9999 };
        const wait = () => new Promise((r) => setTimeout(r, 50));
        for (let i = 0; i < 3; i++) a.send(to, new Uint8Array(2000).fill(i)); // > MTU: GSO refused, resent fragmented
        a.flush(); await wait();
        for (let i = 0; i < 3; i++) a.send(to, new Uint8Array(1400).fill(i)); // fits: one GSO message
        a.flush(); await wait();
        for (let i = 0; i < 3; i++) a.send(to, new Uint8Array(1472).fill(i)); // exactly fits
        a.flush(); await wait();
        const c = a.counters;
        console.log(JSON.stringify({ sent: c.sent, sendErrors: c.sendErrors, gsoMessages: c.gsoMessages, gsoFallbacks: c.gsoFallbacks, gsoMaxSegment: c.gsoMaxSegment, gsoOn: c.gsoOn }));
        a.close(); await a.whenClosed();
      `]);
      const got = JSON.parse((await receiver).trim().split('\n').at(-1)!) as number[];
      const counters = JSON.parse(sender.trim().split('\n').at(-1)!) as Record<string, number>;
      expect(got).toEqual([2000, 2000, 2000, 1400, 1400, 1400, 1472, 1472, 1472]);
      expect(counters).toEqual({ sent: 9, sendErrors: 0, gsoMessages: 2, gsoFallbacks: 1, gsoMaxSegment: 2000, gsoOn: 1 });
    } finally {
      for (const ns of [nsA, nsB]) { try { sh(['netns', 'del', ns]); } catch { /* never created */ } }
    }
  });
});
