// Randomness for real deployments: the `Random` shape the sans-IO layers take
// (nextU32, fill), backed by the operating system's CSPRNG.
import { randomFillSync } from 'node:crypto';

export interface SystemRandom {
  nextU32(): number;
  fill(out: Uint8Array): Uint8Array;
}

export function systemRandom(): SystemRandom {
  const word = new Uint32Array(1);
  return {
    nextU32: () => randomFillSync(word)[0],
    fill: (out) => randomFillSync(out),
  };
}
