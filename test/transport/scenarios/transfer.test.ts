// Transport scenarios in the simulator (modelled on the QUIC interop runner):
// handshake, transfer, multiplexing, longrtt, goodput, crosstraffic. Default
// link 10 Mbit/s, 15 ms one way, 25-packet queue; every stream is checked
// byte-exact (SHA-256 on both ends). Fixed seed; TINCAN_SCENARIO_SEEDS=N for N seeds.
import { describe, it, expect } from 'vitest';
import { Scenario, MB, SEEDS, jain } from './harness.ts';

describe.each(SEEDS)('scenarios (seed %i)', (seed) => {
  it('handshake: application data arrives after one RTT (30 ms + serialisation)', () => {
    const s = new Scenario(seed);
    const f = s.startTransfer(s.client(), [1000]);
    s.net.run(100);
    expect(f.conn.isEstablished).toBe(true);
    expect(s.runUntilDone(5_000), `seed ${seed}`).toBe(true);
    // Initial (1200 B, ~1 ms at 10 Mbit/s) -> server reply -> 1-RTT data: ~2 one-way delays + the data's
    expect(s.flowTimeMs(f)).toBeLessThan(3 * 15 + 10);
  });

  it('transfer: 2 + 3 + 5 MB on concurrent streams with small initial windows', () => {
    const limits = { maxStreamData: 128 * 1024, maxData: 256 * 1024, maxStreamsBidi: 100, maxStreamsUni: 100 };
    const s = new Scenario(seed, {}, { limits });
    const f = s.startTransfer(s.client({ limits }), [2 * MB, 3 * MB, 5 * MB]);
    expect(s.runUntilDone(60_000), `seed ${seed}`).toBe(true);
    const goodput = (10 * MB * 8) / (s.flowTimeMs(f) / 1000);
    expect(goodput).toBeGreaterThan(0.5 * 10e6);
  });

  it('multiplexing: 1,999 tiny streams on one connection (beyond the peer\'s 1,000-stream limit)', () => {
    const s = new Scenario(seed);
    const c = s.client();
    const f = s.startTransfer(c, []);
    let opened = 0;
    const open = () => {
      while (opened < 1999 && s.addStream(f, 32, opened) !== undefined) opened++;
      c.driver.wake();
    };
    open();
    while (s.net.clock.now() < 60_000 && !(opened === 1999 && s.allDone())) { s.net.run(s.net.clock.now() + 20); open(); }
    expect(opened).toBe(1999);
    expect(s.allDone(), `seed ${seed}`).toBe(true);
  });

  it('longrtt: 750 ms one way, 25-packet queue, 2 MB', () => {
    const s = new Scenario(seed, { latencyMs: 750 });
    const f = s.startTransfer(s.client(), [2 * MB]);
    s.net.run(1600);
    expect(f.conn.isEstablished).toBe(true);
    expect(s.runUntilDone(120_000, 200), `seed ${seed}`).toBe(true);
  });

  it('goodput: 10 MB on one stream reaches >= 80% of 10 Mbit/s', () => {
    const s = new Scenario(seed);
    const f = s.startTransfer(s.client(), [10 * MB]);
    expect(s.runUntilDone(60_000), `seed ${seed}`).toBe(true);
    const goodput = (10 * MB * 8) / (s.flowTimeMs(f) / 1000);
    expect(goodput / 10e6).toBeGreaterThan(0.8);
  });

  it('crosstraffic: two flows share the bottleneck fairly (Jain >= 0.9) and use it', () => {
    const s = new Scenario(seed);
    const flows = [s.startTransfer(s.client(), [5 * MB]), s.startTransfer(s.client(), [5 * MB])];
    // throughput of each flow from 2 s (both past slow start) until the first finishes
    s.net.run(2000);
    const at2s = flows.map((f) => s.bytesReceived(f));
    while (s.net.clock.now() < 60_000 && !flows.some((f) => s.flowDone(f))) s.net.run(s.net.clock.now() + 50);
    const window = (s.net.clock.now() - 2000) / 1000;
    const rates = flows.map((f, i) => ((s.bytesReceived(f) - at2s[i]) * 8) / window);
    expect(jain(rates), `rates ${rates.map((r) => (r / 1e6).toFixed(2)).join(' / ')} Mbit/s, seed ${seed}`).toBeGreaterThanOrEqual(0.9);
    expect(rates[0] + rates[1]).toBeGreaterThan(0.8 * 10e6);
    expect(s.runUntilDone(60_000), `seed ${seed}`).toBe(true);
  });
});
