// The directory's Ed25519 signing key (relay tickets). Contract: the key file
// holds the 32-byte seed as hex plus a newline, mode 0600; loadOrCreateSigningKey
// creates it atomically if missing and refuses a file readable by group/others.
import sodium from 'sodium-native';
import { readFileSync, writeFileSync, statSync, mkdirSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SigningKey { publicKey: Uint8Array; secretKey: Uint8Array }

export function signingKeyFromSeed(seed: Uint8Array): SigningKey {
  if (seed.length !== sodium.crypto_sign_SEEDBYTES) throw new Error('signing key seed must be 32 bytes');
  const pk = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES), sk = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_seed_keypair(pk, sk, Buffer.from(seed));
  return { publicKey: pk, secretKey: sk };
}

export function generateSigningKey(): SigningKey {
  const seed = Buffer.alloc(sodium.crypto_sign_SEEDBYTES);
  sodium.randombytes_buf(seed);
  return signingKeyFromSeed(seed);
}

export function loadOrCreateSigningKey(path: string): SigningKey {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const seed = Buffer.alloc(sodium.crypto_sign_SEEDBYTES);
    sodium.randombytes_buf(seed);
    try {
      writeFileSync(path, seed.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw new Error(`directory key file ${path} has mode ${mode.toString(8)}; it must be 0600 (chmod 600 ${path})`);
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`directory key file ${path} is not 64 hex characters`);
  return signingKeyFromSeed(Buffer.from(text, 'hex'));
}
