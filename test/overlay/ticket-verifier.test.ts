// The relay forwarder with the directory's real ticket codec (src/wire/ticket.ts):
// a signed ticket binds both devices; expired, forged, not-yet-valid and
// other-device tickets are refused with the right relay error codes.
import { describe, it, expect } from 'vitest';
import sodium from 'sodium-native';
import { signTicket } from '../../src/wire/ticket.ts';
import { directoryTicketVerifier, deviceIdHex } from '../../src/overlay/ticket-verifier.ts';
import { RelayForwarder } from '../../src/overlay/relay.ts';
import { decodeRelayMessage, encodeRelayMessage, RelayErrorCode } from '../../src/overlay/relay-wire.ts';

const T0 = 1_767_225_600_000;
function keypair() {
  const pk = Buffer.alloc(32), sk = Buffer.alloc(64);
  sodium.crypto_sign_keypair(pk, sk);
  return { pk, sk };
}
const dir = keypair();
const A = Uint8Array.from({ length: 16 }, (_, i) => i);
const B = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
const C = Uint8Array.from({ length: 16 }, () => 0xcc);
const ticket = (sk: Uint8Array, a = A, b = B, issuedAt = T0, expiresAt = T0 + 300_000) => signTicket({ issuedAt, expiresAt, deviceA: a, deviceB: b }, sk);
const addrA = { address: '198.51.100.2', port: 40000 };
const addrB = { address: '198.51.100.3', port: 40001 };

function reply(r: RelayForwarder, from: typeof addrA, device: Uint8Array, t: Uint8Array) {
  r.handleDatagram(T0 + 1000, from, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(device), ticket: t }));
  return decodeRelayMessage(r.pollTransmit()!.bytes);
}

describe('relay + directory tickets (src/wire/ticket.ts)', () => {
  it('binds both devices with a real signed ticket and forwards', () => {
    const r = new RelayForwarder({ verifier: directoryTicketVerifier(dir.pk), newSessionId: () => 7n }, T0);
    const t = ticket(dir.sk);
    expect(reply(r, addrA, A, t)).toMatchObject({ type: 'bind-ok', sessionId: 7n, peerBound: false, lifetimeSec: 299 });
    expect(reply(r, addrB, B, t)).toMatchObject({ type: 'bind-ok', peerBound: true });
    r.pollTransmit(); // notification to A
    r.handleDatagram(T0 + 1001, addrA, encodeRelayMessage({ type: 'data', sessionId: 7n, payload: Uint8Array.of(1, 2, 3) }));
    expect(r.pollTransmit()?.to).toEqual(addrB);
  });
  it('refuses expired, forged, future and other-device tickets', () => {
    const r = new RelayForwarder({ verifier: directoryTicketVerifier(dir.pk), newSessionId: () => 7n }, T0);
    const code = (m: ReturnType<typeof reply>) => (m.type === 'error' ? m.code : -1);
    expect(code(reply(r, addrA, A, ticket(dir.sk, A, B, T0 - 10_000, T0)))).toBe(RelayErrorCode.TICKET_EXPIRED);
    expect(code(reply(r, addrA, A, ticket(keypair().sk)))).toBe(RelayErrorCode.TICKET_INVALID);
    expect(code(reply(r, addrA, A, ticket(dir.sk, A, B, T0 + 3_600_000, T0 + 7_200_000)))).toBe(RelayErrorCode.TICKET_INVALID);
    expect(code(reply(r, addrA, C, ticket(dir.sk)))).toBe(RelayErrorCode.WRONG_DEVICE);
    expect(code(reply(r, addrA, A, ticket(dir.sk).slice(0, 100)))).toBe(RelayErrorCode.TICKET_INVALID);
    expect(r.counters().sessionsActive).toBe(0);
  });
});
