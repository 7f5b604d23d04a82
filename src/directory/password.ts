// Password hashing with scrypt (node:crypto). Contract: hashPassword returns
// "scrypt$N$r$p$saltB64$hashB64" (parameters stored with the hash, so the cost
// can change without invalidating old hashes); verifyPassword is constant-time
// in the comparison and never throws on a malformed stored hash (returns false).
// Default cost N=2^14, r=10, p=1 takes ~100 ms on the 2-core reference machine.
import { scrypt, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ScryptParams { N: number; r: number; p: number }

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 14, r: 10, p: 1 };
/** For tests only: ~1 ms. */
export const TEST_SCRYPT: ScryptParams = { N: 1 << 10, r: 8, p: 1 };

const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, prm: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, { N: prm.N, r: prm.r, p: prm.p, maxmem: 256 * prm.N * prm.r + (1 << 20) }, (err, key) => err ? reject(err) : resolve(key));
  });
}

export async function hashPassword(password: string, prm: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, prm);
  return `scrypt$${prm.N}$${prm.r}$${prm.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0) || N > (1 << 20) || r > 32 || p > 16) return false;
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(password, salt, { N, r, p });
  return timingSafeEqual(key, expected);
}
