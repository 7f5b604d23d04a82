// A peer's supernode role (peer-supernode.ts) runs on RelayBatchDriver, as `tincan supernode`
// does: datagrams offered in one receive callback go to the core at once and what it queued
// leaves in one drain when the callback's JS task ends (a microtask), in order — not one
// event-loop turn later (setImmediate) as with the generic Driver. Directory faked (key,
// registration); the ticket is a real Ed25519 directory ticket.
import { describe, it, expect } from 'vitest';
import sodium from 'sodium-native';
import { signTicket } from '../../src/wire/ticket.ts';
import { startPeerSupernode } from '../../src/overlay/peer-supernode.ts';
import { deviceIdHex } from '../../src/overlay/ticket-verifier.ts';
import { decodeRelayMessage, encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import type { DirectoryClient } from '../../src/directory/client.ts';
import type { UdpAddress } from '../../src/wire/socket.ts';

describe("a peer's supernode role on RelayBatchDriver", () => {
  it('a burst offered in one callback is forwarded in order within the same task (one drain), refusals answered, close stops it', async () => {
    const pk = Buffer.alloc(32), sk = Buffer.alloc(64);
    sodium.crypto_sign_keypair(pk, sk);
    const devA = Uint8Array.from({ length: 16 }, (_, i) => i + 1), devB = Uint8Array.from({ length: 16 }, (_, i) => 0x80 + i);
    const ticket = signTicket({ issuedAt: Date.now(), expiresAt: Date.now() + 60_000, deviceA: devA, deviceB: devB }, sk);
    let registered = 0;
    const directory = {
      directoryKey: async () => Uint8Array.from(pk),
      registerSupernode: async () => { registered++; return { id: 'sn-1', heartbeatIntervalMs: 60_000, expiresAfterMs: 180_000 }; },
      heartbeatSupernode: async () => {},
      supernodes: async () => [],
    } as unknown as DirectoryClient;
    const sent: { to: UdpAddress; bytes: Uint8Array }[] = [];
    const sn = await startPeerSupernode({ directory, send: (to, bytes) => sent.push({ to, bytes: bytes.slice() }), publicAddress: { address: '203.0.113.5', port: 4000 } });
    try {
      expect(sn.registrationId).toBe('sn-1');
      expect(registered).toBe(1);
      const A = { address: '198.51.100.2', port: 40000 }, B = { address: '198.51.100.3', port: 40001 };
      expect(sn.offer(A, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(devA), ticket }))).toBe(true);
      expect(sn.offer(B, encodeRelayMessage({ type: 'bind', deviceId: deviceIdHex(devB), ticket }))).toBe(true);
      await Promise.resolve();
      const oks = sent.splice(0).map((t) => decodeRelayMessage(t.bytes));
      expect(oks.map((m) => m.type)).toEqual(['bind-ok', 'bind-ok', 'bind-ok']);
      const sid = (oks[0] as { sessionId: bigint }).sessionId;
      // a burst in one callback: nothing leaves synchronously, all of it in the microtask after
      for (let i = 0; i < 5; i++) expect(sn.offer(A, encodeRelayMessage({ type: 'data', sessionId: sid, payload: Uint8Array.of(i) }))).toBe(true);
      expect(sn.offer(A, Uint8Array.of(1, 2, 3))).toBe(false); // not for the supernode: the peer's own
      expect(sent).toEqual([]);
      await Promise.resolve();
      expect(sent.map((t) => t.to)).toEqual(Array(5).fill(B));
      expect(sent.map((t) => (decodeRelayMessage(t.bytes) as { payload: Uint8Array }).payload[0])).toEqual([0, 1, 2, 3, 4]);
      expect(sn.counters().relay).toMatchObject({ forwardedPackets: 5, bindsAccepted: 2 });
      // an unknown session from a public source is answered with an ERROR
      sent.length = 0;
      sn.offer({ address: '192.0.2.9', port: 5 }, encodeRelayMessage({ type: 'data', sessionId: 7n, payload: new Uint8Array(20) }));
      await Promise.resolve();
      expect(sent.map((t) => decodeRelayMessage(t.bytes).type)).toEqual(['error']);
    } finally {
      sn.close();
    }
    sent.length = 0;
    sn.offer({ address: '198.51.100.2', port: 40000 }, encodeRelayMessage({ type: 'data', sessionId: 1n, payload: new Uint8Array(4) }));
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([]); // closed: nothing handled, nothing sent
  });
});
