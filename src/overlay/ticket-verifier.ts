// Adapter from the directory's relay ticket codec (src/wire/ticket.ts: 113 bytes,
// Ed25519 by the directory key, two 16-byte device ids, validity window) to the
// relay forwarder's TicketVerifier. Device ids become 32 lowercase hex digits,
// which is how a BIND names its device (docs/protocol/relay.md).
import { TicketError, verifyTicket } from '../wire/ticket.ts';
import type { Millis } from '../wire/socket.ts';
import type { TicketVerdict, TicketVerifier } from './relay.ts';

export function deviceIdHex(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

export function directoryTicketVerifier(directoryPublicKey: Uint8Array, skewMs?: Millis): TicketVerifier {
  return {
    verify(ticket: Uint8Array, now: Millis): TicketVerdict {
      try {
        const t = verifyTicket(ticket, directoryPublicKey, now, skewMs);
        return { ok: true, claims: { deviceA: deviceIdHex(t.deviceA), deviceB: deviceIdHex(t.deviceB), expiresAt: t.expiresAt } };
      } catch (e) {
        if (e instanceof TicketError) return { ok: false, expired: e.code === 'expired', error: e.message };
        throw e;
      }
    },
  };
}
