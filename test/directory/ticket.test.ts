// Relay ticket codec (src/wire/ticket.ts): the hex vector of
// docs/protocol/directory.md both ways, and every rejection path.
import { describe, it, expect } from 'vitest';
import sodium from 'sodium-native';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { signTicket, verifyTicket, decodeTicket, ticketAllows, TicketError, TICKET_BYTES } from '../../src/wire/ticket.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// The vector is read from docs/protocol/directory.md ("Relay tickets"), so the document cannot drift.
const DOC = readFileSync(resolve(import.meta.dirname, '../../docs/protocol/directory.md'), 'utf8');
const docBlock = (name: string) => {
  const m = new RegExp(`<!-- vector:${name} -->\\s*\`\`\`\\n([\\s\\S]*?)\`\`\``).exec(DOC);
  if (!m) throw new Error(`vector ${name} not found in docs/protocol/directory.md`);
  return m[1];
};
const SEED = new Uint8Array(32).map((_, i) => i);
const PUBLIC_KEY = docBlock('ticket-public-key').trim();
const VECTOR = docBlock('ticket');
const A = unhex('00112233445566778899aabbccddeeff'), B = unhex('ffeeddccbbaa99887766554433221100');

function keypair() {
  const pk = Buffer.alloc(32), sk = Buffer.alloc(64);
  sodium.crypto_sign_seed_keypair(pk, sk, Buffer.from(SEED));
  return { pk, sk };
}

function code(f: () => unknown): string | undefined {
  try { f(); } catch (e) { if (e instanceof TicketError) return e.code; throw e; }
  return undefined;
}

describe('relay ticket', () => {
  it('signs to the documented vector and decodes it back', () => {
    const { pk, sk } = keypair();
    expect(hex(pk)).toBe(PUBLIC_KEY);
    const t = signTicket({ issuedAt: 1767225600000, expiresAt: 1767225900000, deviceA: A, deviceB: B }, sk);
    expect(hex(t)).toBe(hex(unhex(VECTOR)));
    expect(t.length).toBe(TICKET_BYTES);
    const v = verifyTicket(unhex(VECTOR), unhex(PUBLIC_KEY), 1767225700000);
    expect(v.issuedAt).toBe(1767225600000);
    expect(v.expiresAt).toBe(1767225900000);
    expect(hex(v.deviceA)).toBe(hex(A));
    expect(ticketAllows(v, B, A)).toBe(true);
    expect(ticketAllows(v, A, A)).toBe(false);
  });

  it('rejects tampering, other keys, expiry, future tickets, bad length and version', () => {
    const pk = unhex(PUBLIC_KEY);
    const now = 1767225700000;
    for (let i = 0; i < TICKET_BYTES; i += 7) {
      const t = unhex(VECTOR); t[i] ^= 0x01;
      expect(['signature', 'version', 'length']).toContain(code(() => verifyTicket(t, pk, now)));
    }
    const other = Buffer.alloc(32), osk = Buffer.alloc(64); sodium.crypto_sign_keypair(other, osk);
    expect(code(() => verifyTicket(unhex(VECTOR), other, now))).toBe('signature');
    expect(code(() => verifyTicket(unhex(VECTOR), pk, 1767225900000))).toBe('expired');
    expect(code(() => verifyTicket(unhex(VECTOR), pk, 1767225600000 - 60_000))).toBe('not-yet-valid');
    expect(code(() => verifyTicket(unhex(VECTOR).subarray(0, 112), pk, now))).toBe('length');
    expect(code(() => decodeTicket(new Uint8Array(0)))).toBe('length');
    const v2 = unhex(VECTOR); v2[0] = 2;
    expect(code(() => decodeTicket(v2))).toBe('version');
    expect(code(() => signTicket({ issuedAt: 0, expiresAt: 1, deviceA: A.subarray(1), deviceB: B }, keypair().sk))).toBe('devices');
  });
});
