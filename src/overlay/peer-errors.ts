// DirectoryError (src/directory/client.ts) -> PeerError (peer-api.ts): one place that
// decides what a failed directory call means to the user of a PeerNode.
//   network error (status 0) or 5xx  -> 'directory-unreachable'
//   401                               -> 'bad-credentials' (token expired or revoked)
//   404 on a user                     -> 'unknown-user'
//   403                               -> 'not-a-contact'
//   409 (no online device)            -> 'contact-offline'
// Anything else keeps the directory's message under 'connect-failed'.
import { DirectoryError } from '../directory/client.ts';
import { PeerError } from './peer-api.ts';

export function toPeerError(e: unknown, what: string): PeerError {
  if (e instanceof PeerError) return e;
  if (!(e instanceof DirectoryError)) return new PeerError('connect-failed', `${what}: ${(e as Error)?.message ?? String(e)}`);
  const s = e.status;
  if (s === 0 || s >= 500) return new PeerError('directory-unreachable', `${what}: directory unreachable (${e.message})`);
  if (s === 401) return new PeerError('bad-credentials', `${what}: not logged in or session expired (${e.message})`);
  if (s === 404) return new PeerError('unknown-user', `${what}: ${e.message}`);
  if (s === 403) return new PeerError('not-a-contact', `${what}: ${e.message}`);
  if (s === 409) return new PeerError('contact-offline', `${what}: ${e.message}`);
  return new PeerError('connect-failed', `${what}: directory answered ${s} ${e.code}: ${e.message}`);
}
