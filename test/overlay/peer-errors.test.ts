// What a failed directory call means to a PeerNode user: DirectoryError -> PeerError code.
import { describe, it, expect } from 'vitest';
import { DirectoryError } from '../../src/directory/client.ts';
import { toPeerError } from '../../src/overlay/peer-errors.ts';
import { PeerError } from '../../src/overlay/peer-api.ts';

describe('toPeerError', () => {
  it('maps directory statuses to PeerError codes, keeping the message', () => {
    const cases: [number, string][] = [[0, 'directory-unreachable'], [502, 'directory-unreachable'], [401, 'bad-credentials'], [404, 'unknown-user'],
      [403, 'not-a-contact'], [409, 'contact-offline'], [400, 'connect-failed']];
    for (const [status, code] of cases) {
      const e = toPeerError(new DirectoryError(status, 'x', `status ${status}`), 'connect to bob');
      expect(e, String(status)).toBeInstanceOf(PeerError);
      expect(e.code, String(status)).toBe(code);
      expect(e.message).toContain('connect to bob');
      expect(e.message).toContain(`status ${status}`);
    }
  });

  it('passes PeerErrors through and wraps anything else as connect-failed', () => {
    const p = new PeerError('key-changed', 'k');
    expect(toPeerError(p, 'x')).toBe(p);
    expect(toPeerError(new Error('boom'), 'start')).toMatchObject({ code: 'connect-failed', message: 'start: boom' });
  });
});
