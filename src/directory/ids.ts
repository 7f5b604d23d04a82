// Random identifiers and bearer tokens. Contract: newId() is 16 random bytes
// as 32 lowercase hex chars; newToken() is 32 random bytes (256 bits) as
// base64url (43 chars); tokenHash() is the SHA-256 hex that the store keeps
// instead of the token.
import { randomBytes, createHash } from 'node:crypto';

export const newId = (): string => randomBytes(16).toString('hex');
export const newToken = (): string => randomBytes(32).toString('base64url');
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');
export const isId = (s: string): boolean => /^[0-9a-f]{32}$/.test(s);
