// The relay's batch path (RelayForwarder.handleRun / pollRunInto, SupernodeCore.handleRun)
// against its per-datagram path: for seeded random mixes of runs — valid DATA both ways,
// wrong session ids, unbound senders, a side whose peer is not bound, oversize, over the
// device and total rate limits, expiring tickets, BIND (good and bad tickets), ERROR,
// STUN, gossip-looking and junk segments, short last segments, a small drop-oldest queue —
// both paths send exactly the same bytes to the same destinations in the same order and
// end with the same counters. Three consumers: per-datagram in/out, runs in/runs out, runs
// in/datagrams out (pollInto on queued runs). Prints the seed on failure; SEED=<n> reruns one.
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { RelayForwarder, type RelayConfig, type TicketVerifier } from '../../src/overlay/relay.ts';
import { SupernodeCore } from '../../src/overlay/supernode.ts';
import { encodeRelayMessage, DATA_HEADER_BYTES } from '../../src/overlay/relay-wire.ts';
import { encodeStun, STUN_METHOD_BINDING } from '../../src/wire/stun.ts';
import type { Millis, UdpAddress } from '../../src/wire/socket.ts';
import { prng } from '../wire/fixtures.ts';

const T0 = 1_700_000_000_000;
/** Tickets are "deviceA|deviceB|expiresAt" in plain text; anything else is invalid. */
const verifier: TicketVerifier = {
  verify(ticket) {
    const parts = new TextDecoder().decode(ticket).split('|');
    if (parts.length !== 3 || !Number.isFinite(Number(parts[2]))) return { ok: false, error: 'bad' };
    return { ok: true, claims: { deviceA: parts[0]!, deviceB: parts[1]!, expiresAt: Number(parts[2]) } };
  },
};
const ticket = (a: string, b: string, exp: number) => new TextEncoder().encode(`${a}|${b}|${exp}`);

/** The n-th session id a fresh forwarder hands out (deterministic: DATA can name live sessions). */
const sessionId = (n: number) => 0x10000000an + BigInt(n) * 0x100000001n;
const SIDS = [1, 2, 3, 4, 5, 6].map(sessionId);

function config(): RelayConfig {
  let n = 0;
  return {
    verifier, newSessionId: () => sessionId(++n),
    deviceBytesPerSec: 150_000, deviceBurstBytes: 8_000, totalBytesPerSec: 250_000, totalBurstBytes: 12_000,
    maxQueuePackets: 40, maxPayloadBytes: 1001, rebindAfterIdleMs: 50,
  };
}

/** Senders (public addresses; one object each, as a socket hands them out) and the devices they bind as. */
const senders: UdpAddress[] = [
  { address: '198.51.100.2', port: 40000 }, { address: '198.51.100.3', port: 40001 },
  { address: '203.0.113.9', port: 5000 }, { address: '203.0.113.10', port: 5001 },
  { address: '192.0.2.77', port: 6000 }, // never binds
];
const devicesOf = [['dev-a', 'dev-b'], ['dev-b', 'dev-a'], ['dev-c', 'dev-d'], ['dev-d', 'dev-c'], ['dev-x', 'dev-y']] as const;

type Out = string[];
const key = (to: UdpAddress, b: Uint8Array) => `${to.address}:${to.port} ${b.length} ${createHash('sha1').update(b).digest('hex')}`;

/** One random scenario step: a run (buf, seg) from a sender at `now`, or a timeout. */
interface Step { now: Millis; from: UdpAddress; buf: Uint8Array; seg: number; drain: boolean; timeout: boolean }

function scenario(seed: number, stunSize = 28): Step[] {
  const rnd = prng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const steps: Step[] = [];
  let now = T0;
  for (let i = 0; i < 120; i++) {
    now += Math.floor(rnd() * 40);
    const si = Math.floor(rnd() * senders.length);
    const from = senders[si]!;
    const seg = pick([1210, 300, stunSize, 1010, 1011]);
    const count = 1 + Math.floor(rnd() * 40);
    const segs: Uint8Array[] = [];
    for (let k = 0; k < count; k++) {
      const last = k === count - 1;
      const len = last && rnd() < 0.4 ? 1 + Math.floor(rnd() * seg) : seg;
      const kind = rnd();
      let b: Uint8Array;
      if (kind < 0.7 && len >= DATA_HEADER_BYTES) {
        // DATA: usually the sender's pair's first session, sometimes another or an unknown id
        const sid = rnd() < 0.7 ? SIDS[si >> 1]! : rnd() < 0.7 ? pick(SIDS) : 0xdeadbeefn;
        b = new Uint8Array(len);
        b.set(encodeRelayMessage({ type: 'data', sessionId: sid, payload: new Uint8Array(0) }));
        for (let j = DATA_HEADER_BYTES; j < len; j++) b[j] = (j * 31 + k) & 0xff;
      } else if ((kind < 0.78 || rnd() < 0.3) && last) {
        const [dev, other] = devicesOf[si]!;
        const exp = rnd() < 0.8 ? now + 200 + Math.floor(rnd() * 3000) : now - 1;
        b = encodeRelayMessage({ type: 'bind', deviceId: dev, ticket: rnd() < 0.9 ? ticket(dev, other, exp) : new Uint8Array([1, 2, 3]) });
      } else if (kind < 0.84) {
        b = encodeRelayMessage({ type: 'error', code: 3, ref: 7n, reason: '' }).slice(0, len);
      } else if (kind < 0.9 && len === stunSize) {
        b = encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: Uint8Array.from({ length: 12 }, () => Math.floor(rnd() * 256)), attributes: [] }, { fingerprint: true });
      } else {
        b = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256)); // gossip-looking, junk, short
      }
      if (!last && b.length !== seg) { const p = new Uint8Array(seg); p.set(b.subarray(0, seg)); b = p; }
      segs.push(b);
    }
    const buf = new Uint8Array(segs.reduce((n, s) => n + s.length, 0) + 7);
    let off = 3; // the run sits inside a larger buffer, as in a receive batch
    for (const s of segs) { buf.set(s, off); off += s.length; }
    steps.push({ now, from, buf: buf.subarray(0, off).subarray(3), seg: count === 1 ? segs[0]!.length : seg, drain: rnd() < 0.5, timeout: rnd() < 0.1 });
  }
  return steps;
}

/** Segments of a run, as views. */
function split(buf: Uint8Array, seg: number): Uint8Array[] {
  if (seg <= 0 || seg >= buf.length) return [buf];
  const out: Uint8Array[] = [];
  for (let p = 0; p < buf.length; p += seg) out.push(buf.subarray(p, Math.min(buf.length, p + seg)));
  return out;
}

interface Core {
  handleDatagram(now: Millis, from: UdpAddress, b: Uint8Array): void;
  handleRun(now: Millis, from: UdpAddress, buf: Uint8Array, off: number, len: number, seg: number): void;
  handleTimeout(now: Millis): void;
  pollInto(slot: { to: UdpAddress; bytes: Uint8Array }): boolean;
  pollRunInto(slot: { to: UdpAddress; bytes: Uint8Array; segmentSize: number }): boolean;
  counters(): unknown;
}

/** Run the steps through `core` in one of three ways; returns what it sent and its counters. */
function play(core: Core, steps: Step[], mode: 'datagrams' | 'runs' | 'runs-in-datagrams-out', runsSeen?: { runs: number; segments: number }): { out: Out; counters: unknown } {
  const out: Out = [];
  const slot = { to: undefined as unknown as UdpAddress, bytes: new Uint8Array(0), segmentSize: 0 };
  const drain = () => {
    if (mode === 'runs') {
      while (core.pollRunInto(slot)) {
        const segs = split(slot.bytes, slot.segmentSize);
        if (segs.length > 1 && runsSeen) { runsSeen.runs++; runsSeen.segments += segs.length; }
        for (const s of segs) out.push(key(slot.to, s));
      }
    } else {
      while (core.pollInto(slot)) out.push(key(slot.to, slot.bytes));
    }
  };
  for (const st of steps) {
    if (st.timeout) core.handleTimeout(st.now);
    if (mode === 'datagrams') for (const s of split(st.buf, st.seg)) core.handleDatagram(st.now, st.from, s);
    else {
      // the run inside a larger buffer at an offset, as a receive batch hands it over
      const big = new Uint8Array(st.buf.length + 16);
      big.set(st.buf, 9);
      core.handleRun(st.now, st.from, big, 9, st.buf.length, st.seg);
      if (mode === 'runs') big.fill(0, 0, 9); // bytes outside the run are never sent
    }
    if (st.drain) drain();
  }
  drain();
  return { out, counters: core.counters() };
}

const seeds = process.env.SEED ? [Number(process.env.SEED)] : Array.from({ length: 16 }, (_, i) => 1000 + i * 7919);

describe('relay batch path = per-datagram path', () => {
  it.each([['RelayForwarder', false], ['SupernodeCore', true]] as const)('%s: same output (bytes, destinations, order) and counters for seeded random mixes', (_name, supernode) => {
    let totalRuns = 0, totalOut = 0, overflow = 0, limited = 0, forwarded = 0;
    const make = (): Core => (supernode ? new SupernodeCore({ relay: config() }, T0) : new RelayForwarder(config(), T0));
    for (const seed of seeds) {
      const steps = scenario(seed);
      const seen = { runs: 0, segments: 0 };
      const a = play(make(), steps, 'datagrams');
      const b = play(make(), steps, 'runs', seen);
      const c = play(make(), steps, 'runs-in-datagrams-out');
      expect(b.out, `seed ${seed}`).toEqual(a.out);
      expect(b.counters, `seed ${seed}`).toEqual(a.counters);
      expect(c.out, `seed ${seed}`).toEqual(a.out);
      expect(c.counters, `seed ${seed}`).toEqual(a.counters);
      totalRuns += seen.runs;
      totalOut += a.out.length;
      const rc = (supernode ? (a.counters as { relay: ReturnType<RelayForwarder['counters']> }).relay : a.counters) as ReturnType<RelayForwarder['counters']>;
      overflow += rc.dropped.queueOverflow;
      limited += rc.dropped.rateLimited;
      forwarded += rc.forwardedPackets;
    }
    // the mixes did exercise what they claim: runs left as runs, the queue overflowed, the rate limits bit
    expect(totalRuns).toBeGreaterThan(50);
    expect(forwarded).toBeGreaterThan(1000);
    expect(totalOut).toBeGreaterThan(forwarded);
    expect(overflow).toBeGreaterThan(0);
    expect(limited).toBeGreaterThan(0);
  });
});
