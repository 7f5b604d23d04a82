// Lab peer process: the sans-IO LabPeer (peer-core.ts) on a real UDP socket via the
// project's one driver (src/datagram/driver.ts). The clock is Unix time (Date.now)
// because the rendezvous' coordinated start time is Unix time. Prints one JSON line
// {event:'result', ...} when done and exits (0 ok, 2 failed).
// Config: env LAB_PEER = JSON { name, want, hostIp, port, primary, primaryAlt, secondary, relay, rendezvous }.
import { randomBytes } from 'node:crypto';
import { bindUdp } from '../../../src/datagram/udp.ts';
import { Driver } from '../../../src/datagram/driver.ts';
import type { Clock } from '../../../src/wire/socket.ts';
import { LabPeer } from './peer-core.ts';
import { parseAddress } from './lab-wire.ts';

interface PeerEnv { name: string; want: string; hostIp: string; port: number; primary: string; primaryAlt: string; secondary: string; relay: string; rendezvous: string }
const cfg = JSON.parse(process.env.LAB_PEER ?? '{}') as PeerEnv;
const unixClock: Clock = {
  now: () => Date.now(),
  setTimer: (at, cb) => { const t = setTimeout(cb, Math.max(0, at - Date.now())); return { cancel: () => clearTimeout(t) }; },
};
const socket = await bindUdp({ address: '0.0.0.0', port: cfg.port });
const ref: { driver?: Driver } = {};
const peer = new LabPeer({
  name: cfg.name, want: cfg.want, host: { address: cfg.hostIp, port: cfg.port }, primary: parseAddress(cfg.primary),
  primaryAlt: parseAddress(cfg.primaryAlt), secondary: parseAddress(cfg.secondary), relay: parseAddress(cfg.relay),
  rendezvous: parseAddress(cfg.rendezvous), randomBytes: (n) => new Uint8Array(randomBytes(n)), clock: unixClock, wake: () => ref.driver?.wake(),
}, unixClock.now());
const drv = new Driver(peer, socket, unixClock);
ref.driver = drv;
drv.afterInput = () => {
  const r = peer.result();
  if (!r) return;
  process.stdout.write(`${JSON.stringify({ event: 'result', ...r })}\n`);
  drv.afterInput = () => {};
  // Linger so the peer can finish its own exchange, then exit.
  setTimeout(() => { drv.close(); process.exit(r.ok ? 0 : 2); }, 1000);
};
drv.wake();
