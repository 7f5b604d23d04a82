// Scenario files: validation names the bad field; the shipped examples run and show
// what they claim (hole punch outcome per NAT pair, impairments on the lossy link).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseScenario, runScenario, ScenarioError } from '../../src/sim/index.ts';

const EXAMPLES = resolve(import.meta.dirname, '..', '..', 'examples');
const load = (name: string) => JSON.parse(readFileSync(resolve(EXAMPLES, name), 'utf8'));

const minimal = () => ({
  seed: 1,
  durationMs: 1000,
  hosts: [{ name: 'a', address: '198.51.100.10' }, { name: 'b', address: '198.51.100.20' }],
  links: [{ a: 'a', b: 'b', latencyMs: 5 }],
  traffic: [{ type: 'ping', from: 'a', to: 'b:7', intervalMs: 100 }],
});

describe('scenario validation', () => {
  const rejects = (mutate: (s: ReturnType<typeof minimal> & Record<string, unknown>) => void, field: string, pattern?: RegExp) => {
    const s = minimal() as ReturnType<typeof minimal> & Record<string, unknown>;
    mutate(s);
    let err: unknown;
    try {
      parseScenario(s);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as ScenarioError).field).toBe(field);
    if (pattern) expect((err as Error).message).toMatch(pattern);
  };

  it('accepts the minimal scenario and runs it', () => {
    const r = runScenario(parseScenario(minimal()));
    expect(r.pings[0]).toMatchObject({ sent: 10, replies: 10 });
    expect(r.pings[0].rtt!.minMs).toBe(10);
  });

  it('an endpoint given by IP address reaches the same host and socket as one given by name', () => {
    const s = minimal();
    s.traffic.push({ type: 'ping', from: 'a', to: '198.51.100.20:7', intervalMs: 100 });
    const r = runScenario(parseScenario(s));
    expect(r.pings.map((p) => p.replies)).toEqual([10, 10]);
  });

  it('names the bad field', () => {
    rejects((s) => { (s.links[0] as Record<string, unknown>).lossRate = 1.5; }, 'links[0].lossRate', /<= 1/);
    rejects((s) => { s.hosts[1].address = '10.0.0'; }, 'hosts[1].address', /IPv4/);
    rejects((s) => { s.hosts[1].name = 'a'; }, 'hosts[1].name', /twice/);
    rejects((s) => { s.hosts[1].name = 'x.inside'; }, 'hosts[1].name', /reserved/);
    rejects((s) => { s.colour = 'red'; }, 'scenario.colour', /unknown field/);
    rejects((s) => { delete (s as Record<string, unknown>).seed; }, 'scenario.seed', /required/);
    rejects((s) => { (s.links[0] as Record<string, unknown>).b = 'nowhere'; }, 'links[0].b', /not a host/);
    rejects((s) => { (s.traffic[0] as Record<string, unknown>).to = 'b'; }, 'traffic[0].to', /<port/);
    rejects((s) => { (s.traffic[0] as Record<string, unknown>).type = 'tcp'; }, 'traffic[0].type', /one of/);
    rejects((s) => { s.pcap = { path: 'x.pcap', capture: 'host:zed' }; }, 'pcap.capture');
    rejects((s) => { s.nats = [{ name: 'n', externalAddress: '198.51.100.1', mapping: 'cone' }]; }, 'nats[0].mapping', /endpoint-independent/);
    rejects((s) => { (s.links[0] as Record<string, unknown>).gilbertElliott = { pGoodToBad: 0.1 }; }, 'links[0].gilbertElliott.pBadToGood');
    rejects((s) => { s.durationMs = -5; }, 'scenario.durationMs');
    rejects((s) => { s.durationMs = 86_400_000; s.traffic = [{ type: 'flow', from: 'a', to: 'b:9', ratePps: 100_000 } as never]; }, 'traffic', /limit/);
    expect(() => parseScenario('nope')).toThrow(ScenarioError);
    expect(() => parseScenario(null)).toThrow(/scenario: must be an object/);
  });
});

describe('shipped examples', () => {
  it('two-nats: port-restricted cone vs symmetric cannot be punched, the relay carries the data', () => {
    const r = runScenario(parseScenario(load('two-nats.json')));
    const hp = r.holepunches[0];
    expect(hp.a.direct || hp.b.direct).toBe(false);
    expect(hp.a.path).toBe('relay');
    expect(hp.a.dataReceived).toBe(5);
    expect(hp.b.dataReceived).toBe(5);
    expect(r.summary.drops['nat-filtered']).toBeGreaterThan(0);
    expect(r.pings.every((p) => p.replies > 0)).toBe(true);
    expect(r.pcap!.packets).toBeGreaterThan(100);
  });

  it('two-nats with nat-b as a port-restricted cone: the punch succeeds and data goes direct', () => {
    const json = load('two-nats.json');
    json.nats[1].type = 'port-restricted-cone';
    const hp = runScenario(parseScenario(json)).holepunches[0];
    expect(hp.a.direct && hp.b.direct).toBe(true);
    expect(hp.a.path).toBe('direct');
    expect(hp.relayed).toBe(0);
    expect(hp.b.dataReceived).toBe(5);
  });

  it('lossy-link: shows bursty loss, the outage, queue drops after the bandwidth cut, reordering and duplicates; deterministic', () => {
    const s = parseScenario(load('lossy-link.json'));
    const r = runScenario(s);
    const d = r.summary.drops;
    expect(d['burst-loss']).toBeGreaterThan(0);
    expect(d['link-down']).toBeGreaterThan(150); // 2 s outage at 100 pps + pings
    expect(d['queue-full']).toBeGreaterThan(0);
    const video = r.flows[0];
    expect(video.reordered).toBeGreaterThan(0);
    expect(video.duplicates).toBeGreaterThan(0);
    expect(video.lossRate).toBeGreaterThan(0.05);
    expect(runScenario(s).summary.logDigest).toBe(r.summary.logDigest);
  });
});
