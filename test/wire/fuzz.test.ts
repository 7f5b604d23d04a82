// Hostile input: >= 100k random and mutated inputs per decoder; only DecodeError may escape.
// Seeded (mulberry32); a failure prints the seed, iteration and input hex to reproduce it.
import { describe, it } from 'vitest';
import { DecodeError } from '../../src/wire/errors.ts';
import { internetChecksum } from '../../src/wire/checksum.ts';
import { ipv4ToU32 } from '../../src/wire/ipv4-address.ts';
import { Ipv4View, parseIpv4 } from '../../src/wire/ipv4.ts';
import { parseUdp, UdpView } from '../../src/wire/udp.ts';
import { buildUdpPacket, parseUdpPacket } from '../../src/wire/packet.ts';
import { parsePcap, PcapWriter } from '../../src/wire/pcap.ts';
import { CAPTURED_HEX, hex, mutate, prng, randomBytes, toHex } from './fixtures.ts';

const SEED = Number(process.env.TINCAN_FUZZ_SEED ?? 0x7c1ca4);
const ITERATIONS = 100_000;

/** Run `decode` on `input`; anything thrown other than DecodeError fails with the seed. */
function expectOnlyDecodeError(name: string, i: number, input: Uint8Array, decode: (b: Uint8Array) => unknown): boolean {
  try {
    decode(input);
    return true;
  } catch (e) {
    if (e instanceof DecodeError) return false;
    throw new Error(`${name}: seed ${SEED} iteration ${i}: non-DecodeError ${String(e)} for input ${toHex(input).slice(0, 400)}`);
  }
}

/** Sometimes re-validate the IPv4 header checksum so mutations reach the deeper checks. */
function maybeFixIpChecksum(rand: () => number, b: Uint8Array): void {
  if (b.length < 20 || rand() < 0.4) return;
  const hl = Math.min((b[0] & 15) * 4, b.length);
  b[10] = 0;
  b[11] = 0;
  const c = internetChecksum(b, 0, hl);
  b[10] = c >> 8;
  b[11] = c & 0xff;
}

function corpus(rand: () => number): Uint8Array[] {
  const out = [hex(CAPTURED_HEX)];
  for (let i = 0; i < 64; i++) {
    out.push(buildUdpPacket({ address: '192.0.2.' + i, port: 1000 + i }, { address: '203.0.113.7', port: 3478 }, randomBytes(rand, (rand() * 80) | 0)));
  }
  return out;
}

describe(`wire decoders under hostile input (seed ${SEED})`, () => {
  it(`IPv4 view/parse and UDP packet parse: ${ITERATIONS} inputs each, only DecodeError`, () => {
    const rand = prng(SEED);
    const seeds = corpus(rand);
    let ok = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const input = rand() < 0.2 ? randomBytes(rand, (rand() * 80) | 0) : mutate(rand, seeds[(rand() * seeds.length) | 0]);
      if (rand() < 0.3 && input.length > 0) input[0] = 0x40 | (input[0] & 0x0f);
      maybeFixIpChecksum(rand, input);
      if (expectOnlyDecodeError('Ipv4View.checked', i, input, (b) => {
        const v = Ipv4View.checked(b);
        // after checked() every accessor must work
        return [v.src, v.dst, v.ttl, v.payload().length, v.fragmentOffset, v.optionsLength];
      })) ok++;
      expectOnlyDecodeError('parseIpv4', i, input, parseIpv4);
      expectOnlyDecodeError('parseUdpPacket', i, input, parseUdpPacket);
    }
    // the corpus must exercise the success path too, not only rejections
    if (ok < ITERATIONS / 20) throw new Error(`seed ${SEED}: only ${ok} inputs passed the IPv4 check; mutations too destructive`);
  });

  it(`UDP view/parse: ${ITERATIONS} inputs, only DecodeError`, () => {
    const rand = prng(SEED + 1);
    const seeds = corpus(rand).map((p) => p.subarray(20));
    for (let i = 0; i < ITERATIONS; i++) {
      const input = rand() < 0.2 ? randomBytes(rand, (rand() * 40) | 0) : mutate(rand, seeds[(rand() * seeds.length) | 0]);
      expectOnlyDecodeError('UdpView.checked', i, input, (b) => UdpView.checked(b).payload());
      expectOnlyDecodeError('parseUdp', i, input, (b) => parseUdp((rand() * 2 ** 32) >>> 0, 0xcb007107, b));
    }
  });

  it(`pcap parse: ${ITERATIONS} inputs, only DecodeError`, () => {
    const rand = prng(SEED + 2);
    const w = new PcapWriter();
    for (let i = 0; i < 3; i++) w.addPacket(i * 10.5, hex(CAPTURED_HEX));
    const file = w.toBytes();
    for (let i = 0; i < ITERATIONS; i++) {
      const input = rand() < 0.1 ? randomBytes(rand, (rand() * 60) | 0) : mutate(rand, file);
      expectOnlyDecodeError('parsePcap', i, input, parsePcap);
    }
  });

  it(`ipv4ToU32: ${ITERATIONS} random strings, only DecodeError`, () => {
    const rand = prng(SEED + 3);
    const alphabet = '0123456789.. -x:/\u0000\u00e9';
    for (let i = 0; i < ITERATIONS; i++) {
      let s = '';
      const n = (rand() * 18) | 0;
      for (let k = 0; k < n; k++) s += alphabet[(rand() * alphabet.length) | 0];
      try {
        const v = ipv4ToU32(s);
        if (!(v >= 0 && v <= 0xffffffff)) throw new Error(`out of range ${v}`);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw new Error(`ipv4ToU32: seed ${SEED} iteration ${i}: ${String(e)} for ${JSON.stringify(s)}`);
      }
    }
  });
});
