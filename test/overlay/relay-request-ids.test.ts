// RelayClient's BIND request ids in production come from randomRequestIds(random): non-zero,
// distinct, not sequential, so an off-path sender spoofing the relay's (public) address cannot
// guess the ref of an ERROR that would end the binding (notes/requests/overlay-relay.md,
// "predictable relay BIND request ids"). A spoofed ERROR with a guessed ref is ignored; the
// relay's own ERROR (right ref) is still taken. Seeded randomness.
import { describe, it, expect } from 'vitest';
import { RelayClient, randomRequestIds } from '../../src/overlay/relay-client.ts';
import { RelayForwarder } from '../../src/overlay/relay.ts';
import { encodeRelayMessage, RelayErrorCode } from '../../src/overlay/relay-wire.ts';
import { seededRandom } from '../../src/transport/random.ts';
import { makeIssuer, standInVerifier } from './stand-in-ticket.ts';

const SEED = 20261202;
const T0 = 1_700_000_000_000;
const issuer = makeIssuer();
const RELAY = { address: '198.51.100.20', port: 3479 };
const A = { address: '198.51.100.2', port: 40000 };
const ticket = issuer.issue('dev-a', 'dev-b', T0 + 600_000);

function boundClient(newRequestId: () => number): RelayClient {
  const relay = new RelayForwarder({ verifier: standInVerifier(issuer.publicKey), newSessionId: () => 0x5151n }, T0);
  const c = new RelayClient({ relay: RELAY, deviceId: 'dev-a', ticket, newRequestId }, T0);
  for (let t = c.pollTransmit(); t; t = c.pollTransmit()) relay.handleDatagram(T0, A, t.bytes);
  for (let t = relay.pollTransmit(); t; t = relay.pollTransmit()) c.handleDatagram(T0, t.bytes);
  expect(c.state).toBe('bound');
  return c;
}
const spoofedError = (ref: bigint, code: number = RelayErrorCode.WRONG_DEVICE) => encodeRelayMessage({ type: 'error', code, ref, reason: '' });

describe('relay BIND request ids (seed ' + SEED + ')', () => {
  it('randomRequestIds: 10,000 ids, non-zero, distinct, not sequential, spread over 32 bits', () => {
    const next = randomRequestIds(seededRandom(SEED));
    const ids = Array.from({ length: 10_000 }, next);
    expect(ids.every((id) => Number.isInteger(id) && id > 0 && id <= 0xffffffff)).toBe(true);
    expect(new Set(ids).size).toBeGreaterThan(9_990); // 32-bit birthday collisions: ~0.01 expected
    let sequential = 0;
    for (let i = 1; i < ids.length; i++) if (Math.abs(ids[i]! - ids[i - 1]!) <= 1_000) sequential++;
    expect(sequential, `seed ${SEED}`).toBeLessThan(5);
    expect(ids.filter((id) => id < 2 ** 16).length, `seed ${SEED}`).toBeLessThan(10);
    expect(ids.filter((id) => id >= 2 ** 31).length, `seed ${SEED}`).toBeGreaterThan(4_500);
  });

  it('randomRequestIds skips a zero from the random source', () => {
    const vals = [0, 0, 7];
    const next = randomRequestIds({ nextU32: () => vals.shift()!, fill: (o) => o });
    expect(next()).toBe(7);
  });

  it('a bound client with random ids ignores spoofed ERRORs with guessed refs (1..100,000, its counter neighbours); the real ref still ends it', () => {
    const c = boundClient(randomRequestIds(seededRandom(SEED)));
    const id = c.bindRequestId;
    for (let ref = 1n; ref <= 100_000n; ref++) if (ref !== BigInt(id)) c.handleDatagram(T0 + 10, spoofedError(ref));
    for (let d = -50; d <= 50; d++) if (d !== 0) c.handleDatagram(T0 + 10, spoofedError(BigInt((id + d) >>> 0)));
    expect(c.state, `seed ${SEED}, id ${id}`).toBe('bound');
    expect(c.pollEvent()?.type).toBe('bound');
    expect(c.pollEvent()).toBeUndefined(); // no 'refused'
    c.handleDatagram(T0 + 20, spoofedError(BigInt(id)));
    expect(c.state).toBe('refused');
  });

  it('(why) with the tests-only default counter, a ref near 1 guesses the id of a fresh process', () => {
    const c = boundClient((() => { let n = 0; return () => ++n; })());
    for (let ref = 1n; ref <= 1_000n && c.state === 'bound'; ref++) c.handleDatagram(T0 + 10, spoofedError(ref));
    expect(c.state).toBe('refused');
  });
});
