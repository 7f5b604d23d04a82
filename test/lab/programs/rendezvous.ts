// Lab "directory" process: the directory's real RFC 5780 STUN server
// (src/directory/stun-server.ts) on <primaryIp>:3478, <primaryIp>:3479,
// <secondaryIp>:3478, <secondaryIp>:3479, and the lab rendezvous (rendezvous-core.ts)
// on <primaryIp>:4000.
// Usage: rendezvous.ts <primaryIp> <secondaryIp>   env LAB_TICKET_KEY = Ed25519 private key (PEM)
import { createPrivateKey } from 'node:crypto';
import { bindUdp } from '../../../src/datagram/udp.ts';
import { startStunServer } from '../../../src/directory/stun-server.ts';
import { issueWith } from '../../overlay/stand-in-ticket.ts';
import { LabRendezvous } from './rendezvous-core.ts';

const [primaryIp, secondaryIp] = process.argv.slice(2);
const key = createPrivateKey(process.env.LAB_TICKET_KEY ?? '');
await startStunServer({ address: primaryIp, port: 3478, alternateAddress: secondaryIp, alternatePort: 3479 });
const rv = new LabRendezvous((a, b, exp) => issueWith(key, a, b, exp));
const sock = await bindUdp({ address: primaryIp, port: 4000 });
sock.onDatagram((from, bytes) => {
  for (const t of rv.handleDatagram(Date.now(), from, bytes)) sock.send(t.to, t.bytes);
  while (rv.events.length) process.stdout.write(`${JSON.stringify({ event: rv.events.shift() })}\n`);
});
process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
