// The lab rendezvous as sans-IO logic (standing in for the directory's): when two
// peers have registered for each other, both get 'go' with the other's candidates,
// a start time 300 ms ahead, roles and a relay ticket from `issue`. Lab-only JSON
// (lab-wire.ts). NAT discovery is the directory's real STUN server, not this.
import type { Millis, UdpAddress } from '../../../src/wire/socket.ts';
import type { Candidate } from '../../../src/overlay/candidates.ts';
import { decodeLab, encodeLab } from './lab-wire.ts';

export class LabRendezvous {
  private readonly regs = new Map<string, { from: UdpAddress; want: string; candidates: Candidate[]; ufrag: string; password: string }>();
  readonly events: string[] = [];

  constructor(private readonly issue: (a: string, b: string, expiresAt: Millis) => Uint8Array) {}

  /** Returns the datagrams to send. */
  handleDatagram(now: Millis, from: UdpAddress, bytes: Uint8Array): { to: UdpAddress; bytes: Uint8Array }[] {
    const m = decodeLab(bytes);
    if (!m || m.t !== 'register') return [];
    this.regs.set(m.name, { from, want: m.want, candidates: m.candidates, ufrag: m.ufrag, password: m.password });
    const peer = this.regs.get(m.want);
    if (!peer || peer.want !== m.name) return [];
    const startAt = now + 300;
    const ticketHex = Buffer.from(this.issue(m.name, m.want, now + 60_000)).toString('hex');
    this.events.push(`go ${m.name} ${m.want} at ${startAt}`);
    return [
      { to: from, bytes: encodeLab({ t: 'go', peer: m.want, candidates: peer.candidates, startAt, controlling: m.name < m.want, ticketHex, ufrag: peer.ufrag, password: peer.password }) },
      { to: peer.from, bytes: encodeLab({ t: 'go', peer: m.name, candidates: m.candidates, startAt, controlling: m.want < m.name, ticketHex, ufrag: m.ufrag, password: m.password }) },
    ];
  }
}
