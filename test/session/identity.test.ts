// Device identity file: created 0600 in a 0700 directory on first run, the same
// key afterwards, unsafe or corrupt files refused with a typed error, secret
// key never shown when the identity is logged or serialized; fingerprint format
// (its byte vectors are in docs/protocol/session.md, checked by doc-vectors.test.ts).
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { fingerprint, loadOrCreateIdentity, IDENTITY_FILE, SessionError, generateIdentity } from '../../src/session/index.ts';
import { publicKeyOf } from '../../src/session/noise/primitives.ts';
import { seededBytes } from './helpers.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'tincan-session-'));

describe('loadOrCreateIdentity', () => {
  it('creates the key file with mode 0600 (directory 0700) and loads the same key afterwards', () => {
    const base = tmp();
    const dir = join(base, 'state', 'nested');
    try {
      const a = loadOrCreateIdentity(dir);
      const file = join(dir, IDENTITY_FILE);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(a.publicKey.length).toBe(32);
      expect(Buffer.from(publicKeyOf(a.secretKey)).equals(Buffer.from(a.publicKey))).toBe(true);
      const b = loadOrCreateIdentity(dir);
      expect(Buffer.from(b.publicKey).equals(Buffer.from(a.publicKey))).toBe(true);
      expect(b.fingerprint).toBe(a.fingerprint);
      expect(readdirSync(dir)).toEqual([IDENTITY_FILE]); // no temp files left behind
      const body = JSON.parse(readFileSync(file, 'utf8'));
      expect(body).toMatchObject({ version: 1, type: 'x25519', publicKey: Buffer.from(a.publicKey).toString('hex') });
    } finally { rmSync(base, { recursive: true, force: true }); }
  });

  it('never shows the secret key when the identity is logged or serialized', () => {
    const id = generateIdentity(seededBytes(1));
    const secretHex = Buffer.from(id.secretKey).toString('hex');
    expect(JSON.stringify(id)).not.toContain('secretKey');
    expect(inspect(id, { depth: 5 })).not.toContain('secretKey');
    expect(Object.keys(id)).toEqual(['publicKey', 'fingerprint']);
    expect(id.secretKey.length).toBe(32);
    expect(JSON.stringify(id)).not.toContain(secretHex);
  });

  it('refuses a key file others can read, and corrupt files, with SessionError("identity")', () => {
    const dir = tmp();
    try {
      loadOrCreateIdentity(dir);
      const file = join(dir, IDENTITY_FILE);
      chmodSync(file, 0o644);
      expect(() => loadOrCreateIdentity(dir)).toThrow(/chmod 600/);
      chmodSync(file, 0o600);
      const good = readFileSync(file, 'utf8');
      const cases: [string, RegExp][] = [
        ['not json', /not JSON/],
        ['{"version":2}', /version 1/],
        [good.replace(/"secretKey":"[0-9a-f]{64}"/, '"secretKey":"00"'), /secretKey is not 64 hex/],
        [good.replace(/"publicKey":"[0-9a-f]{2}/, '"publicKey":"ff'), /does not belong/],
      ];
      for (const [text, re] of cases) {
        writeFileSync(file, text, { mode: 0o600 });
        let err: unknown;
        try { loadOrCreateIdentity(dir); } catch (e) { err = e; }
        expect(err).toBeInstanceOf(SessionError);
        expect((err as SessionError).code).toBe('identity');
        expect((err as Error).message).toMatch(re);
        expect((err as Error).message).not.toMatch(/[0-9a-f]{64}/); // no key material in messages
      }
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('fingerprint', () => {
  it('is six groups of four base32 characters, stable, and differs per key', () => {
    const a = generateIdentity(seededBytes(1)), b = generateIdentity(seededBytes(2));
    expect(a.fingerprint).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4}){5}$/);
    expect(fingerprint(a.publicKey)).toBe(a.fingerprint);
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(() => fingerprint(new Uint8Array(31))).toThrow(SessionError);
  });
});
