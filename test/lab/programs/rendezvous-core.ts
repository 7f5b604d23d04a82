// The lab rendezvous/reflector as sans-IO logic over three sockets: 'primary'
// (IP1:3478), 'alt' (IP1:3479) and 'other' (IP2:3479). 'bind' is answered with the
// mapped address from the socket CHANGE asks for; when two peers registered for each
// other, both get 'go' with the other's candidates, a start time 300 ms ahead, roles
// and a relay ticket from `issue`. Lab-only JSON (lab-wire.ts).
import type { Millis, UdpAddress } from '../../../src/wire/socket.ts';
import type { Candidate } from '../../../src/overlay/candidates.ts';
import { decodeLab, encodeLab } from './lab-wire.ts';

export type RendezvousSocket = 'primary' | 'alt' | 'other';

export class LabRendezvous {
  private readonly regs = new Map<string, { from: UdpAddress; want: string; candidates: Candidate[] }>();
  readonly events: string[] = [];

  constructor(private readonly issue: (a: string, b: string, expiresAt: Millis) => Uint8Array) {}

  /** Returns the datagrams to send: which socket, to whom, what. */
  handleDatagram(now: Millis, via: RendezvousSocket, from: UdpAddress, bytes: Uint8Array): { via: RendezvousSocket; to: UdpAddress; bytes: Uint8Array }[] {
    const m = decodeLab(bytes);
    if (!m) return [];
    if (m.t === 'bind') {
      const out: RendezvousSocket = m.change === 'port' ? 'alt' : m.change === 'ip-and-port' ? 'other' : via;
      return [{ via: out, to: from, bytes: encodeLab({ t: 'mapped', id: m.id, mapped: from }) }];
    }
    if (m.t !== 'register' || via !== 'primary') return [];
    this.regs.set(m.name, { from, want: m.want, candidates: m.candidates });
    const peer = this.regs.get(m.want);
    if (!peer || peer.want !== m.name) return [];
    const startAt = now + 300;
    const ticketHex = Buffer.from(this.issue(m.name, m.want, now + 60_000)).toString('hex');
    this.events.push(`go ${m.name} ${m.want} at ${startAt}`);
    return [
      { via: 'primary', to: from, bytes: encodeLab({ t: 'go', peer: m.want, candidates: peer.candidates, startAt, controlling: m.name < m.want, ticketHex }) },
      { via: 'primary', to: peer.from, bytes: encodeLab({ t: 'go', peer: m.name, candidates: m.candidates, startAt, controlling: m.want < m.name, ticketHex }) },
    ];
  }
}
