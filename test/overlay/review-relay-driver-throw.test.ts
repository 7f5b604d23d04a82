// RelayBatchDriver over a batched socket whose receive buffer is reused between batches (as
// the native socket's arena is): when handling a batch throws (a verifier bug, any exception
// in the core), nothing the core queued from that batch may be sent later with the NEXT
// batch's bytes (another session's DATA delivered to this session's peer).
import { describe, it, expect } from 'vitest';
import { SupernodeCore } from '../../src/overlay/supernode.ts';
import { RelayBatchDriver } from '../../src/overlay/relay-driver.ts';
import { encodeRelayMessage } from '../../src/overlay/relay-wire.ts';
import type { DatagramBatch } from '../../src/datagram/batch.ts';
import type { Clock, DatagramHandler, UdpAddress } from '../../src/wire/socket.ts';
import { T0, sid, A, C, config, bound, data, out, splitRun, B, D } from './review-relay-world.ts';

describe('RelayBatchDriver: a batch whose handling throws leaves nothing that points into the reused receive buffer', () => {
  /** A batched socket with ONE receive buffer reused for every batch (as the native socket's arena). */
  class ArenaSocket {
    readonly local = { address: '127.0.0.1', port: 1 };
    readonly arena = new Uint8Array(4096);
    readonly sent: string[] = [];
    handler: ((b: DatagramBatch) => void) | undefined;
    onBatch(h: (b: DatagramBatch) => void): void { this.handler = h; }
    onDatagram(_h: DatagramHandler): void {}
    send(to: UdpAddress, b: Uint8Array): void { this.sent.push(out(to, b)); }
    sendRun(to: UdpAddress, b: Uint8Array, seg: number): void { for (const s of splitRun(b, seg)) this.sent.push(out(to, s)); } // copies
    flush(): void {}
    close(): void {}
    /** One batch: each datagram a run of one, written into the arena (overwriting the last batch). */
    deliver(dgrams: { from: UdpAddress; bytes: Uint8Array }[]): void {
      const offs: number[] = [];
      let o = 0;
      for (const d of dgrams) { this.arena.set(d.bytes, o); offs.push(o); o += d.bytes.length; }
      this.handler!({
        bytes: this.arena, runs: dgrams.length, offset: (r) => offs[r]!, length: (r) => dgrams[r]!.bytes.length,
        segmentSize: (r) => dgrams[r]!.bytes.length, from: (r) => dgrams[r]!.from,
      });
    }
  }
  const clock: Clock = { now: () => T0 + 10, setTimer: () => ({ cancel() {} }) };

  it('DATA collected before a throwing BIND in the same run (one GRO super-datagram) goes out with ITS bytes or not at all, never the next batch\'s', () => {
    const core = new SupernodeCore({ relay: config() }, T0);
    bound(core);
    const sock = new ArenaSocket();
    new RelayBatchDriver(core, sock as never, clock);
    // A sends two 300-byte DATA of session 1 and a (shorter) BIND in one run: segment size 300
    const evil = encodeRelayMessage({ type: 'bind', deviceId: 'z', ticket: new TextEncoder().encode('THROW') });
    const d1 = data(sid(1), 300, 1), d1b = data(sid(1), 300, 3);
    sock.arena.set(d1, 0); sock.arena.set(d1b, 300); sock.arena.set(evil, 600);
    const len = 600 + evil.length;
    let err: unknown;
    try {
      sock.handler!({ bytes: sock.arena, runs: 1, offset: () => 0, length: () => len, segmentSize: () => 300, from: () => A });
    } catch (e) { err = e; } // the native socket: an uncaught exception, then the next recvmmsg
    expect(String(err)).toMatch(/verifier bug/);
    const d2 = data(sid(2), 300, 2); // C -> D: the next recvmmsg writes it over d1's bytes
    sock.deliver([{ from: C, bytes: d2 }, { from: C, bytes: d2 }]);
    const legit = new Set([out(B, d1), out(B, d1b), out(D, d2)]);
    expect(sock.sent.filter((s) => !legit.has(s)), 'sent bytes that were never received from a peer of that destination').toEqual([]);
    expect(sock.sent).toContain(out(D, d2));
  });
});
