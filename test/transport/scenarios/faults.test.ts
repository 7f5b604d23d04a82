// Transport scenarios with a hostile network (QUIC interop runner style):
// handshakeloss, transferloss, handshakecorruption, transfercorruption,
// blackhole, plus random loss that must not read as congestion. Corruption
// flips one random byte of a received UDP payload (the transport must reject
// it: CRC-32 on long headers, authenticated 1-RTT keys).
// Every transfer is checked byte-exact. TINCAN_SCENARIO_SEEDS=N for N seeds.
import { describe, it, expect } from 'vitest';
import { Scenario, MB, SEEDS } from './harness.ts';

function sequentialHandshakes(s: Scenario, n: number): void {
  const c = s.client();
  for (let i = 0; i < n; i++) {
    s.startTransfer(c, [100]);
    expect(s.runUntilDone(s.net.clock.now() + 120_000, 20), `connection ${i}, seed ${s.seed}`).toBe(true);
  }
}

describe.each(SEEDS)('fault scenarios (seed %i)', (seed) => {
  it('handshakeloss: 50 sequential connections at 30% loss each way all complete', () => {
    sequentialHandshakes(new Scenario(seed, { lossRate: 0.3 }), 50);
  });

  it('handshakecorruption: 50 sequential connections with 30% of datagrams corrupted each way', () => {
    const s = new Scenario(seed, {}, {}, { corruptRate: 0.3 });
    sequentialHandshakes(s, 50);
  });

  it('transferloss: 2 MB at 2% loss each way', () => {
    const s = new Scenario(seed, { lossRate: 0.02 });
    s.startTransfer(s.client(), [2 * MB]);
    expect(s.runUntilDone(60_000), `seed ${seed}`).toBe(true);
  });

  it('random loss is not congestion: 4 MB at 5% loss each way still gets >= 60% of the link (BBR)', () => {
    const s = new Scenario(seed, { lossRate: 0.05 });
    const f = s.startTransfer(s.client(), [4 * MB]);
    expect(s.runUntilDone(60_000), `seed ${seed}`).toBe(true);
    const goodput = (4 * MB * 8) / (s.flowTimeMs(f) / 1000);
    expect(goodput / (10e6 * 0.95), `seed ${seed}`).toBeGreaterThan(0.6);
  });

  it('transfercorruption: 2 MB with 2% of datagrams corrupted each way', () => {
    const s = new Scenario(seed, {}, {}, { corruptRate: 0.02 });
    const f = s.startTransfer(s.client(), [2 * MB]);
    expect(s.runUntilDone(60_000), `seed ${seed}`).toBe(true);
    expect(f.conn.stats.packetsDropped + s.serverConn(f)!.stats.packetsDropped).toBeGreaterThan(0);
  });

  it('blackhole: 10 MB across a link that is up 5 s, down 2 s', () => {
    const s = new Scenario(seed, { flap: { upMs: 5000, downMs: 2000, offsetMs: 0 } });
    s.startTransfer(s.client(), [10 * MB]);
    expect(s.runUntilDone(120_000), `seed ${seed}`).toBe(true);
  });
});
