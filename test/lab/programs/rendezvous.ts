// Lab rendezvous + reflector process (logic: rendezvous-core.ts) on three real sockets:
// <primaryIp>:3478, <primaryIp>:3479, <secondaryIp>:3479.
// Usage: rendezvous.ts <primaryIp> <secondaryIp>   env LAB_TICKET_KEY = Ed25519 private key (PEM)
import { createPrivateKey } from 'node:crypto';
import { bindUdp } from '../../../src/datagram/udp.ts';
import type { DatagramSocket } from '../../../src/wire/socket.ts';
import { issueWith } from '../../overlay/stand-in-ticket.ts';
import { LabRendezvous, type RendezvousSocket } from './rendezvous-core.ts';

const [primaryIp, secondaryIp] = process.argv.slice(2);
const key = createPrivateKey(process.env.LAB_TICKET_KEY ?? '');
const rv = new LabRendezvous((a, b, exp) => issueWith(key, a, b, exp));
const sockets: Record<RendezvousSocket, DatagramSocket> = {
  primary: await bindUdp({ address: primaryIp, port: 3478 }),
  alt: await bindUdp({ address: primaryIp, port: 3479 }),
  other: await bindUdp({ address: secondaryIp, port: 3479 }),
};
for (const via of Object.keys(sockets) as RendezvousSocket[]) {
  sockets[via].onDatagram((from, bytes) => {
    for (const t of rv.handleDatagram(Date.now(), via, from, bytes)) sockets[t.via].send(t.to, t.bytes);
    while (rv.events.length) process.stdout.write(`${JSON.stringify({ event: rv.events.shift() })}\n`);
  });
}
process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
