// Session-layer micro benchmarks on one core (run: node --import tsx bench/session.ts):
// packet seals/s and opens/s at 1200 bytes (the transport's hot path), and full
// Noise handshakes/s (IK and XX, both sides in one process, so per-core cost of
// one connection setup). Prints one JSON object.
import { generateIdentity, noiseCrypto } from '../src/session/index.ts';
import { NoisePacketKeys, newPacketStats } from '../src/session/packet-keys.ts';
import { HASH_BACKEND } from '../src/session/noise/primitives.ts';

function rate(seconds: number, fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) { for (let i = 0; i < 100; i++) fn(); n += 100; }
  return Math.round(n / ((performance.now() - t0) / 1000));
}

const key = new Uint8Array(32).fill(7);
const send = NoisePacketKeys.create(key, 'send', [newPacketStats()]);
const header = new Uint8Array(13);
const payload = new Uint8Array(1200 - 13 - 16);
let pn = 0;
const sealsPerSec = rate(2, () => { send.seal(pn++, header, payload); });
const sealed = send.seal(0, header, payload);
const recvKeys = () => NoisePacketKeys.create(key, 'recv', [newPacketStats()]);
let recv = recvKeys(), rpn = 0;
// open() of distinct pns (the replay window refuses repeats): seal a batch, open it with fresh keys
const batch = Array.from({ length: 4096 }, (_, i) => send.seal(i, header, payload));
const opensPerSec = rate(2, () => {
  if (rpn === batch.length) { recv = recvKeys(); rpn = 0; }
  const out = recv.open(rpn, header, batch[rpn]); rpn++;
  if (!out) throw new Error('open failed');
});
void sealed;

const a = generateIdentity(), b = generateIdentity();
const pa = noiseCrypto(a), pb = noiseCrypto(b);
function handshake(ik: boolean): void {
  const c = pa.client(ik ? { serverStatic: b.publicKey } : {});
  const s = pb.server();
  const r1 = s.handlePayload(0, c.start!(0));
  const r2 = c.handlePayload(0, r1.send!);
  if (r2.send) s.handlePayload(0, r2.send);
}
const ikPerSec = rate(2, () => handshake(true));
const xxPerSec = rate(2, () => handshake(false));
// server side only (what a responder pays per IK handshake)
const m1s = Array.from({ length: 256 }, () => pa.client({ serverStatic: b.publicKey }).start!(0));
let k = 0;
const ikServerPerSec = rate(2, () => { pb.server().handlePayload(0, m1s[k++ % m1s.length]); });

console.log(JSON.stringify({
  bench: 'session', node: process.version, hash: HASH_BACKEND,
  sealsPerSec1200: sealsPerSec, opensPerSec1200: opensPerSec,
  sealMBps: Math.round((sealsPerSec * 1200) / 1e6),
  handshakesPerSec: { ik: ikPerSec, xx: xxPerSec, ikServerSideOnly: ikServerPerSec },
}, null, 1));
