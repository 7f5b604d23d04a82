// Shared test helpers: seeded randomness as the `(out) => out` byte source the
// session layer takes, and deterministic identities.
import { seededRandom } from '../../src/transport/random.ts';
import { generateIdentity, type DeviceIdentity } from '../../src/session/index.ts';

export function seededBytes(seed: number): (out: Uint8Array) => Uint8Array {
  const r = seededRandom(seed);
  return (out) => r.fill(out);
}

export function testIdentity(seed: number): DeviceIdentity {
  return generateIdentity(seededBytes(seed));
}
