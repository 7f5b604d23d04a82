// Lab peer: the overlay's sans-IO cores driven over a real UDP socket, inside a
// LAN namespace behind a real NAT. Steps: classify the NAT (NatClassifier against
// the lab reflector), register host+srflx candidates at the rendezvous, get 'go'
// (peer candidates, coordinated start, ticket), bind at the relay with the ticket,
// run connectivity checks (CheckAgent) over direct and relayed pairs, then send a
// chat line over the selected path and wait for the peer's. Prints JSON lines; the
// last is {event:'result', ok, ...}. Gives up after 12 s.
// Config: env LAB_PEER = JSON { name, want, hostIp, port, primary, primaryAlt, secondary, relay }.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { NatClassifier, type Classification } from '../../../src/overlay/nat-classify.ts';
import { formatNatType } from '../../../src/overlay/nat-types.ts';
import { candidate, candidateKey, type Candidate } from '../../../src/overlay/candidates.ts';
import { CheckAgent, type CheckTransmit } from '../../../src/overlay/checks.ts';
import { decodeRelayMessage, encodeRelayMessage, RELAY_MARKER, RelayDecodeError } from '../../../src/overlay/relay-wire.ts';
import { sameAddress, type UdpAddress } from '../../../src/wire/socket.ts';
import { decodeLab, encodeLab, parseAddress, type LabMessage } from './lab-wire.ts';

interface PeerConfig { name: string; want: string; hostIp: string; port: number; primary: string; primaryAlt: string; secondary: string; relay: string }
const cfg = JSON.parse(process.env.LAB_PEER ?? '{}') as PeerConfig;
const primary = parseAddress(cfg.primary);
const relayAddr = parseAddress(cfg.relay);
const host: UdpAddress = { address: cfg.hostIp, port: cfg.port };
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const t0 = Date.now();

const sock = dgram.createSocket('udp4');
sock.on('error', (e) => out({ event: 'socket-error', message: e.message }));
const sendRaw = (to: UdpAddress, bytes: Uint8Array) => sock.send(bytes, to.port, to.address);
const sendLab = (to: UdpAddress, m: LabMessage) => sendRaw(to, encodeLab(m));

let classifier: NatClassifier | undefined;
let nat: Classification | undefined;
let agent: CheckAgent | undefined;
let relaySession: bigint | undefined;
let ticket: Uint8Array | undefined;
let received: string | undefined;
let acked = false;
let finished = false;
const hostCand = candidate('host', host);
const relayCand = candidate('relay', relayAddr);
const log: string[] = [];

// ---- one timer for every sans-IO core ----
let timer: NodeJS.Timeout | undefined;
function arm(): void {
  const next = Math.min(classifier?.result() ? Infinity : classifier?.pollTimeout() ?? Infinity, agent?.pollTimeout() ?? Infinity, Date.now() + 100);
  clearTimeout(timer);
  timer = setTimeout(tick, Math.max(0, next - Date.now()));
}
function tick(): void {
  const now = Date.now();
  if (classifier && !classifier.result()) classifier.handleTimeout(now);
  agent?.handleTimeout(now);
  periodic(now);
  pump();
}

// ---- outputs of the cores ----
function sendVia(local: Candidate, to: UdpAddress, m: LabMessage): void {
  if (local.type === 'relay') {
    if (relaySession === undefined) return; // not bound yet: the check will be retransmitted
    sendRaw(relayAddr, encodeRelayMessage({ type: 'data', sessionId: relaySession, payload: encodeLab(m) }));
  } else sendLab(to, m);
}
function pump(): void {
  if (classifier) {
    for (let p = classifier.pollProbe(); p; p = classifier.pollProbe()) sendLab(p.to, { t: 'bind', id: p.id, change: p.change });
    if (!nat && classifier.result()) {
      nat = classifier.result()!;
      out({ event: 'nat', nat: formatNatType(nat.nat), certain: nat.certain, mapped: nat.mapped, notes: nat.notes, ms: Date.now() - t0 });
    }
  }
  if (agent) {
    for (let t: CheckTransmit | undefined = agent.pollTransmit(); t; t = agent.pollTransmit()) {
      if (t.kind === 'request') sendVia(t.local, t.to, { t: 'check', tx: t.txId, nominate: t.nominate });
      else sendVia(t.local, t.to, { t: 'check-ok', tx: t.txId });
    }
    for (let e = agent.pollEvent(); e; e = agent.pollEvent()) {
      const d = e.type === 'path-selected' ? CheckAgent.describe(e.pair) : e.type === 'path-switched' ? `${CheckAgent.describe(e.from)} => ${CheckAgent.describe(e.to)} (${e.reason})`
        : e.type === 'no-path' ? '' : CheckAgent.describe(e.pair);
      log.push(`${Date.now() - t0}ms ${e.type} ${d}`);
    }
  }
  arm();
}

// ---- periodic: register until 'go', bind at the relay until BIND-OK, chat until done ----
let lastPeriodic = 0;
let chatSent = 0;
function periodic(now: number): void {
  if (now - lastPeriodic < 100) return;
  lastPeriodic = now;
  if (now - t0 > 12_000) finish(false, 'timeout');
  if (nat && !agent) {
    const cands: Candidate[] = [hostCand];
    if (nat.mapped && !sameAddress(nat.mapped, host)) cands.push(candidate('srflx', nat.mapped));
    sendLab(primary, { t: 'register', name: cfg.name, want: cfg.want, candidates: cands });
  }
  if (ticket && relaySession === undefined) sendRaw(relayAddr, encodeRelayMessage({ type: 'bind', deviceId: cfg.name, ticket }));
  const sel = agent?.selectedPair();
  if (sel && !acked && chatSent < 50) {
    chatSent++;
    sendVia(sel.local, sel.remote.address, { t: 'msg', text: `hello from ${cfg.name}` });
  }
  // Done when the line went both ways and every check has settled (so failures are visible too).
  const settled = agent?.status().every((x) => x.state === 'succeeded' || x.state === 'failed');
  if (received && acked && settled) finish(true, 'done');
}

function finish(ok: boolean, why: string): void {
  if (finished) return;
  finished = true;
  const sel = agent?.selectedPair();
  const st = sel ? agent!.status().find((s) => s.pair.key === sel.key) : undefined;
  out({
    event: 'result', ok, why, name: cfg.name, nat: nat ? formatNatType(nat.nat) : undefined, certain: nat?.certain,
    path: sel ? (sel.relayed ? 'relayed' : 'direct') : 'none', pair: sel ? CheckAgent.describe(sel) : undefined, srttMs: st?.srttMs,
    received, ms: Date.now() - t0, log, pairs: agent?.status().map((x) => `${CheckAgent.describe(x.pair)} ${x.state}`),
  });
  // Linger so the peer can finish its own exchange on this path, then exit.
  setTimeout(() => process.exit(ok ? 0 : 2), 1000);
}

// ---- inputs ----
function handleLab(m: LabMessage, from: UdpAddress, localKey: string, local: Candidate): void {
  const now = Date.now();
  switch (m.t) {
    case 'mapped': classifier?.handleResponse(now, m.id, { mapped: m.mapped, from }); break;
    case 'go':
      if (agent) break;
      ticket = Uint8Array.from(Buffer.from(m.ticketHex, 'hex'));
      out({ event: 'go', controlling: m.controlling, startInMs: m.startAt - now, remote: m.candidates.map((c) => `${c.type}:${c.address.address}:${c.address.port}`) });
      agent = new CheckAgent({
        controlling: m.controlling, startAt: m.startAt, localCandidates: [hostCand, relayCand],
        remoteCandidates: [...m.candidates, relayCand], newTxId: () => randomBytes(8).toString('hex'),
      });
      sendRaw(relayAddr, encodeRelayMessage({ type: 'bind', deviceId: cfg.name, ticket }));
      break;
    case 'check': agent?.handleRequest(now, localKey, from, m.tx, m.nominate); break;
    case 'check-ok': agent?.handleResponse(now, m.tx, from); break;
    case 'msg':
      received = m.text;
      sendVia(local, from, { t: 'ack', text: m.text });
      break;
    case 'ack': acked = true; break;
    default: break;
  }
}

sock.on('message', (bytes, rinfo) => {
  const from = { address: rinfo.address, port: rinfo.port };
  if (sameAddress(from, relayAddr) && bytes[0] === RELAY_MARKER) {
    try {
      const r = decodeRelayMessage(bytes);
      if (r.type === 'bind-ok') {
        if (relaySession === undefined) out({ event: 'relay-bound', observed: r.observed, peerBound: r.peerBound });
        relaySession = r.sessionId;
      } else if (r.type === 'data') {
        const m = decodeLab(r.payload);
        if (m) handleLab(m, relayAddr, candidateKey(relayCand), relayCand);
      } else if (r.type === 'error') out({ event: 'relay-error', code: r.code, reason: r.reason });
    } catch (e) {
      if (!(e instanceof RelayDecodeError)) throw e;
    }
  } else {
    const m = decodeLab(bytes);
    if (m) handleLab(m, from, candidateKey(hostCand), hostCand);
  }
  pump();
});

sock.bind(cfg.port, '0.0.0.0', () => {
  classifier = new NatClassifier({
    primary, primaryAltPort: parseAddress(cfg.primaryAlt), secondary: parseAddress(cfg.secondary),
    localAddresses: [host], rtoMs: 100, maxTransmits: 3,
  }, Date.now());
  pump();
});
