// The relay forwarder (src/overlay/relay.ts) as a small UDP process: the driver is
// node:dgram + Date.now() + a 1 s sweep timer. Prints its counters as JSON lines.
// Usage: relay-server.ts <ip> <port>   env LAB_TICKET_PUB = Ed25519 public key (PEM)
import dgram from 'node:dgram';
import { createPublicKey, randomBytes } from 'node:crypto';
import { RelayForwarder } from '../../../src/overlay/relay.ts';
import { standInVerifier } from '../../overlay/stand-in-ticket.ts';

const [ip, port] = process.argv.slice(2);
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const relay = new RelayForwarder({
  verifier: standInVerifier(createPublicKey(process.env.LAB_TICKET_PUB ?? '')),
  newSessionId: () => randomBytes(8).readBigUInt64BE(),
  allowLoopback: process.env.LAB_ALLOW_LOOPBACK === '1',
}, Date.now());
const sock = dgram.createSocket('udp4');
sock.on('error', (e) => out({ event: 'error', message: e.message }));

function flush() {
  for (let t = relay.pollTransmit(); t; t = relay.pollTransmit()) sock.send(t.bytes, t.to.port, t.to.address);
}
let last = '';
function report() {
  const c = JSON.stringify(relay.counters());
  if (c !== last) { last = c; out({ event: 'counters', counters: relay.counters() }); }
}
sock.on('message', (bytes, rinfo) => {
  relay.handleDatagram(Date.now(), { address: rinfo.address, port: rinfo.port }, bytes);
  flush();
});
setInterval(() => { relay.handleTimeout(Date.now()); flush(); report(); }, 200);
sock.bind(Number(port), ip, () => out({ event: 'ready' }));
