// Device identity: the long-term X25519 static key pair a device authenticates
// every session with, and its human-comparable fingerprint.
// File `<dir>/device-key.json` (version 1, hex keys), created on first run with
// mode 0600 inside a directory created 0700; written to a temp file and then
// hard-linked into place, so it appears complete or not at all and two
// processes starting at once end up with the same key. Loading refuses a file
// that others can read (like ssh) or whose keys do not match. The secret key is
// a non-enumerable property: logging or JSON-encoding an identity never shows it.
import { sodium } from './noise/sodium.ts';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SessionError } from './errors.ts';
import { hash, keyPairFrom, publicKeyOf, wipe, type KeyPair } from './noise/primitives.ts';

export interface DeviceIdentity {
  /** X25519 public key (32 bytes): what the directory publishes for this device. */
  readonly publicKey: Uint8Array;
  /** X25519 secret key (32 bytes). Non-enumerable, so logs and JSON never show it
   *  (and `{...identity}` / structuredClone drop it: pass the identity object itself). */
  readonly secretKey: Uint8Array;
  /** fingerprint(publicKey) */
  readonly fingerprint: string;
}

export const IDENTITY_FILE = 'device-key.json';
const MAX_FILE_BYTES = 4096;

/** A fresh key pair from libsodium's CSPRNG (or from `random` in tests). */
export function generateKeyPair(random?: (out: Uint8Array) => Uint8Array): KeyPair {
  const seed = new Uint8Array(32);
  if (random) random(seed);
  else sodium.randombytes_buf(seed);
  return keyPairFrom(seed);
}

/** Wrap a key pair as a DeviceIdentity (secret key hidden from enumeration). */
export function identityFromKeyPair(kp: KeyPair): DeviceIdentity {
  const id = { publicKey: Uint8Array.from(kp.publicKey), fingerprint: fingerprint(kp.publicKey) } as DeviceIdentity;
  Object.defineProperty(id, 'secretKey', { value: Uint8Array.from(kp.secretKey), enumerable: false, writable: false });
  return Object.freeze(id);
}

/** A new in-memory identity (tests, ephemeral supernodes). */
export function generateIdentity(random?: (out: Uint8Array) => Uint8Array): DeviceIdentity {
  return identityFromKeyPair(generateKeyPair(random));
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const FP_LABEL = new TextEncoder().encode('tincan fingerprint v1');

/**
 * Short human-comparable fingerprint of a static public key:
 * the first 15 bytes (120 bits) of BLAKE2s-256("tincan fingerprint v1" || publicKey),
 * RFC 4648 base32 (A-Z 2-7, no padding: 24 characters) in six groups of four
 * joined by '-', e.g. "MFRG-GZDF-MZTW-Q2LK-NNWG-23TP". Compare it aloud or side by side.
 */
export function fingerprint(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new SessionError('bad-key', `public key must be 32 bytes, got ${publicKey.length}`);
  const d = hash(FP_LABEL, publicKey).subarray(0, 15);
  let bits = 0, acc = 0, s = '';
  for (const byte of d) {
    acc = (acc << 8) | byte; bits += 8;
    while (bits >= 5) { bits -= 5; s += B32[(acc >>> bits) & 31]; }
    acc &= (1 << bits) - 1;
  }
  return s.match(/.{4}/g)!.join('-');
}

interface FileShape { version: 1; type: 'x25519'; publicKey: string; secretKey: string }

const hexKey = (v: unknown, what: string, path: string): Uint8Array => {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new SessionError('identity', `${path}: ${what} is not 64 hex digits`);
  return Uint8Array.from(Buffer.from(v, 'hex'));
};

function load(path: string): DeviceIdentity {
  const st = statSync(path);
  if (!st.isFile()) throw new SessionError('identity', `${path}: not a regular file`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new SessionError('identity', `${path}: permissions ${(st.mode & 0o777).toString(8)} let others read the device key; run chmod 600 on it`);
  }
  if (st.size > MAX_FILE_BYTES) throw new SessionError('identity', `${path}: ${st.size} bytes, not a device key file`);
  let data: FileShape;
  try { data = JSON.parse(readFileSync(path, 'utf8')) as FileShape; } catch { throw new SessionError('identity', `${path}: not JSON`); }
  if (data?.version !== 1 || data.type !== 'x25519') throw new SessionError('identity', `${path}: not a version 1 x25519 device key file`);
  const secretKey = hexKey(data.secretKey, 'secretKey', path);
  const publicKey = hexKey(data.publicKey, 'publicKey', path);
  if (!Buffer.from(publicKeyOf(secretKey)).equals(publicKey)) throw new SessionError('identity', `${path}: publicKey does not belong to secretKey`);
  return identityFromKeyPair({ publicKey, secretKey });
}

/**
 * This device's identity in `dir`: loaded from `dir/device-key.json`, or created
 * there on first run (dir 0700 if we create it, file 0600, atomic). Never logs keys.
 */
export function loadOrCreateIdentity(dir: string): DeviceIdentity {
  const path = join(dir, IDENTITY_FILE);
  try {
    return load(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const kp = generateKeyPair();
  const body: FileShape = { version: 1, type: 'x25519', publicKey: Buffer.from(kp.publicKey).toString('hex'), secretKey: Buffer.from(kp.secretKey).toString('hex') };
  const tmp = `${path}.${process.pid}.${Buffer.from(generateKeyPair().publicKey.subarray(0, 4)).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(body)}\n`);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  try {
    linkSync(tmp, path); // fails with EEXIST if another process won the race: then use its key
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') { unlinkSync(tmp); throw e; }
  }
  unlinkSync(tmp);
  try { const d = openSync(dir, 'r'); try { fsyncSync(d); } finally { closeSync(d); } } catch { /* directory fsync is best effort */ }
  wipe(kp.secretKey);
  return load(path);
}
