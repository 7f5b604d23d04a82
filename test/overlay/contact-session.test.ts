// A stream the contact opens in the same read as the handshake (e.g. frames coalesced on
// a TCP relay connection) arrives before the application could listen for 'stream': the
// session holds it for the first listener instead of dropping it.
import { describe, it, expect } from 'vitest';
import { EventEmitter } from 'node:events';
import { PassThrough, type Duplex } from 'node:stream';
import { PeerContactSession, type ContactLink } from '../../src/overlay/contact-link.ts';
import type { TransportConnection } from '../../src/transport/api.ts';

describe('PeerContactSession', () => {
  it('keeps streams that arrive before any stream listener for the first one', async () => {
    const tc = new EventEmitter();
    const owner = { username: 'bob', peerDeviceId: 'ab'.repeat(16), pathInfo: () => undefined, relayAddress: undefined } as unknown as ContactLink;
    const session = new PeerContactSession(owner, tc as unknown as TransportConnection, new Uint8Array(32));
    const early = new PassThrough();
    tc.emit('stream', early); // nobody listens yet
    const got: Duplex[] = [];
    session.on('stream', (s) => got.push(s));
    await Promise.resolve();
    expect(got).toEqual([early]);
    const later = new PassThrough();
    tc.emit('stream', later); // with a listener: delivered at once
    expect(got).toEqual([early, later]);
    // A stream's error after the session ends never crashes the process (nobody listening).
    expect(() => later.destroy(new Error('connection closed'))).not.toThrow();
  });
});
