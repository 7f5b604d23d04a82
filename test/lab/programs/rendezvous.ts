// Lab rendezvous + reflector (stands in for the directory's STUN endpoint, a second
// vantage point, and the rendezvous that coordinates a hole punch).
// Usage: rendezvous.ts <primaryIp> <secondaryIp>   env LAB_TICKET_KEY = Ed25519 private key (PEM)
// Sockets: primary:3478, primary:3479 (alternate port), secondary:3479 (other IP and port).
// 'bind' is answered with the mapped address, from the socket that CHANGE asks for.
// When two peers have registered for each other, both get 'go' with the other's
// candidates, a common start time 300 ms ahead, roles, and a relay ticket.
import dgram from 'node:dgram';
import { createPrivateKey } from 'node:crypto';
import { decodeLab, encodeLab, type LabMessage } from './lab-wire.ts';
import { issueWith } from '../../overlay/stand-in-ticket.ts';
import type { Candidate } from '../../../src/overlay/candidates.ts';
import type { UdpAddress } from '../../../src/wire/socket.ts';

const [primaryIp, secondaryIp] = process.argv.slice(2);
const key = createPrivateKey(process.env.LAB_TICKET_KEY ?? '');
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const open = (address: string, port: number) => new Promise<dgram.Socket>((res) => {
  const s = dgram.createSocket('udp4');
  s.on('error', (e) => out({ event: 'error', message: e.message }));
  s.bind(port, address, () => res(s));
});
const primary = await open(primaryIp, 3478);
const alt = await open(primaryIp, 3479);
const other = await open(secondaryIp, 3479);
const regs = new Map<string, { from: UdpAddress; want: string; candidates: Candidate[] }>();

function send(s: dgram.Socket, to: UdpAddress, m: LabMessage) {
  s.send(encodeLab(m), to.port, to.address);
}

for (const sock of [primary, alt, other]) {
  sock.on('message', (bytes, rinfo) => {
    const from = { address: rinfo.address, port: rinfo.port };
    const m = decodeLab(bytes);
    if (!m) return;
    if (m.t === 'bind') {
      const via = m.change === 'port' ? alt : m.change === 'ip-and-port' ? other : sock;
      send(via, from, { t: 'mapped', id: m.id, mapped: from });
    } else if (m.t === 'register' && sock === primary) {
      regs.set(m.name, { from, want: m.want, candidates: m.candidates });
      const peer = regs.get(m.want);
      if (peer && peer.want === m.name) {
        const startAt = Date.now() + 300;
        const ticketHex = Buffer.from(issueWith(key, m.name, m.want, Date.now() + 60_000)).toString('hex');
        send(primary, from, { t: 'go', peer: m.want, candidates: peer.candidates, startAt, controlling: m.name < m.want, ticketHex });
        send(primary, peer.from, { t: 'go', peer: m.name, candidates: m.candidates, startAt, controlling: m.want < m.name, ticketHex });
        out({ event: 'go', a: m.name, b: m.want, startAt });
      }
    }
  });
}
out({ event: 'ready' });
