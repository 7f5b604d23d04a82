// The relay forwarder (src/overlay/relay.ts) as a small UDP process, run by the
// project's driver (src/datagram/driver.ts) with Unix-time clock (tickets expire in
// Unix ms). Prints its counters as JSON lines when they change.
// Usage: relay-server.ts <ip> <port>   env LAB_TICKET_PUB = Ed25519 public key (PEM)
import { createPublicKey, randomBytes } from 'node:crypto';
import { bindUdp } from '../../../src/datagram/udp.ts';
import { Driver } from '../../../src/datagram/driver.ts';
import type { Clock } from '../../../src/wire/socket.ts';
import { RelayForwarder } from '../../../src/overlay/relay.ts';
import { standInVerifier } from '../../overlay/stand-in-ticket.ts';

const [ip, port] = process.argv.slice(2);
const unixClock: Clock = {
  now: () => Date.now(),
  setTimer: (at, cb) => { const t = setTimeout(cb, Math.max(0, at - Date.now())); return { cancel: () => clearTimeout(t) }; },
};
const relay = new RelayForwarder({
  verifier: standInVerifier(createPublicKey(process.env.LAB_TICKET_PUB ?? '')),
  newSessionId: () => randomBytes(8).readBigUInt64BE(),
}, unixClock.now());
const driver = new Driver(relay, await bindUdp({ address: ip, port: Number(port) }), unixClock);
let last = '';
setInterval(() => {
  const c = JSON.stringify(relay.counters());
  if (c !== last) { last = c; process.stdout.write(`${JSON.stringify({ event: 'counters', counters: relay.counters() })}\n`); }
}, 100);
driver.wake();
process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
