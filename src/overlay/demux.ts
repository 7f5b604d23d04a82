// Which protocol a datagram on a peer's shared UDP socket belongs to, from its first
// byte (docs/protocol/checks.md, "Sharing one UDP socket"). Pure.
import { isStunMessage } from '../wire/stun.ts';
import { RELAY_MARKER } from './relay-wire.ts';
import { GOSSIP_MARKER } from './gossip-wire.ts';

export type DatagramKind = 'stun' | 'relay' | 'gossip' | 'transport' | 'unknown';

export function classifyDatagram(bytes: Uint8Array): DatagramKind {
  if (bytes.length === 0) return 'unknown';
  const b = bytes[0];
  if ((b & 0xc0) === 0) return isStunMessage(bytes) ? 'stun' : 'unknown';
  if (b === RELAY_MARKER) return 'relay';
  if (b === GOSSIP_MARKER) return 'gossip';
  if ((b & 0xc0) === 0x40) return 'transport'; // short header: form 0, fixed 1
  if ((b & 0xcf) === 0xc0 && (b & 0x30) !== 0x30) return 'transport'; // long header: types 0..2, low bits 0
  return 'unknown';
}
