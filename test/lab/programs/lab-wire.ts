// Lab-only scaffolding messages (JSON in UDP datagrams) used by the lab programs
// until the directory's rendezvous is integrated. NOT a tincan protocol; never shipped.
// Everything else in the lab is real: STUN (docs/protocol/stun.md, checks.md), the
// relay framing (relay.md) and transport packets (transport.md).
import type { UdpAddress } from '../../../src/wire/socket.ts';
import type { Candidate } from '../../../src/overlay/candidates.ts';

export type LabMessage =
  | { t: 'register'; name: string; want: string; candidates: Candidate[]; ufrag: string; password: string }
  | { t: 'go'; peer: string; candidates: Candidate[]; startAt: number; controlling: boolean; ticketHex: string; ufrag: string; password: string };

export function encodeLab(m: LabMessage): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8');
}

export function decodeLab(bytes: Uint8Array): LabMessage | undefined {
  if (bytes.length === 0 || bytes[0] !== 0x7b /* '{' */ || bytes.length > 8192) return undefined;
  try {
    const m = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as LabMessage;
    return typeof m === 'object' && m !== null && typeof m.t === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

export function parseAddress(s: string): UdpAddress {
  const i = s.lastIndexOf(':');
  return { address: s.slice(0, i), port: Number(s.slice(i + 1)) };
}
