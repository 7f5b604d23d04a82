// Session-layer micro benchmarks on one core (run: node --import tsx bench/session.ts):
// packet seals/s and opens/s at 1200 bytes (the transport's hot path), and full
// Noise handshakes/s (IK and XX, both sides in one process, so per-core cost of
// one connection setup). `perPacketNs`: CPU ns per packet (process.cpuUsage, less
// disturbed by other processes than wall time) at 1200 and 65,000 bytes for each
// packet path: seal (allocates), sealInto in place (what the transport uses),
// open (allocates), openInPlace, a forged packet dropped, and raw libsodium for
// reference. `aeadNs`: the per-packet AEAD alone, seal and open in place, at
// 64, 1200, 1400, 16384 and 65,000 bytes, for each implementation alternated in
// the same run (noise/packet-aead.ts: the addon's direct path on OpenSSL's raw
// primitives, its EVP path, libsodium; min and median of the reps), and
// `aeadNs.napi`: one N-API call's own cost (nop, argument parsing) against a
// 0 and 1200-byte seal — so `perPacketNs` minus `aeadNs` of the active
// implementation is what the session layer adds per packet. `--aead-only`:
// only `aeadNs` (no handshakes, per-packet paths or pipeline).
// `pipeline` (skip with --no-pipeline): a client and a server transport Endpoint
// in this process, no sockets (sans-IO; packets in one reused buffer copied into
// staging at send, as over the native batched socket), one stream of 96 MiB (1,200-byte
// packets) or 256 MiB (65,000-byte packets, after PMTUD reached it): CPU us per
// data packet on each side for plaintext, noise (the active AEAD), noise on
// the addon's other path (noise-openssl-evp when direct is active) and
// noise with libsodium — what encryption adds to the transport's own work,
// without the kernel, node:dgram or other processes' noise; `cpuRatio` =
// plaintext / noise CPU of the busier side (the goodput ratio a CPU-bound
// two-process run tends to, before socket costs are added to both).
// Prints one JSON object.
import { generateIdentity, noiseCrypto } from '../src/session/index.ts';
import { plaintextCrypto, type CryptoProvider } from '../src/transport/crypto.ts';
import { Endpoint } from '../src/transport/endpoint.ts';
import type { Connection } from '../src/transport/connection.ts';
import { seededRandom } from '../src/transport/random.ts';
import { congestionControllers } from '../src/transport/config.ts';
import { NoisePacketKeys, newPacketStats } from '../src/session/packet-keys.ts';
import { HASH_BACKEND } from '../src/session/noise/primitives.ts';
import { sodium } from '../src/session/noise/sodium.ts';
import {
  PACKET_AEAD_ADDON_PATHS, PACKET_AEAD_BACKEND, PACKET_AEAD_IMPL, nativePacketAeadAddon, opensslPacketAead, selectPacketAeadPath, sodiumPacketAead, type KeyedPacketAead,
} from '../src/session/noise/packet-aead.ts';

function rate(seconds: number, fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) { for (let i = 0; i < 100; i++) fn(); n += 100; }
  return Math.round(n / ((performance.now() - t0) / 1000));
}

const key = new Uint8Array(32).fill(7);
if (process.argv.includes('--aead-only')) {
  console.log(JSON.stringify({ bench: 'session', node: process.version, aeadNs: aeadNsNow() }, null, 1));
  process.exit(0);
}
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

/** CPU nanoseconds per call (user + system), after a warm-up. */
function cpuNs(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const u = process.cpuUsage(c0);
  return Math.round(((u.user + u.system) * 1000) / n);
}

function perPacket(size: number) {
  const n = size > 10_000 ? 4000 : 100_000;
  const hdr = new Uint8Array(13);
  const k = NoisePacketKeys.create(key, 'send', [newPacketStats()]);
  const plain = new Uint8Array(size);
  const buf = new Uint8Array(13 + size + 16);
  const out: Record<string, number> = {};
  out.seal = cpuNs(n, (i) => { k.seal(i, hdr, plain); });
  out.sealIntoInPlace = cpuNs(n, (i) => { k.sealInto(i, hdr, buf.subarray(13, 13 + size), buf, 13); });
  // distinct packet numbers for the receive side: enough sealed packets, fresh keys per pass
  const count = Math.min(n, 4096);
  const sealedPkts = Array.from({ length: count }, (_, i) => k.seal(i, hdr, plain));
  let r = NoisePacketKeys.create(key, 'recv', [newPacketStats()]), j = 0;
  const next = () => { if (j === count) { r = NoisePacketKeys.create(key, 'recv', [newPacketStats()]); j = 0; } return j++; };
  out.open = cpuNs(n, () => { const pn = next(); if (!r.open(pn, hdr, sealedPkts[pn])) throw new Error('open failed'); });
  const inPlace = (r as unknown as { openInPlace?: NoisePacketKeys['open'] }).openInPlace;
  if (inPlace) {
    // passes of `count` packets: fresh copies of the sealed packets (not timed), then time the in-place opens
    const copies = sealedPkts.map((x) => x.slice());
    let ns = 0, done = 0;
    while (done < n) {
      for (let x = 0; x < count; x++) copies[x].set(sealedPkts[x]);
      const rk = NoisePacketKeys.create(key, 'recv', [newPacketStats()]);
      const c0 = process.cpuUsage();
      for (let x = 0; x < count; x++) if (!inPlace.call(rk, x, hdr, copies[x])) throw new Error('openInPlace failed');
      const u = process.cpuUsage(c0);
      ns += (u.user + u.system) * 1000; done += count;
    }
    out.openInPlace = Math.round(ns / done);
  }
  const forged = sealedPkts[0].slice(); forged[0] ^= 1;
  let fpn = 0;
  const f = NoisePacketKeys.create(key, 'recv', [newPacketStats()]);
  out.forgedDropped = cpuNs(Math.min(n, 20_000), () => { if (f.open(fpn++, hdr, forged)) throw new Error('forgery accepted'); });
  const nonce = new Uint8Array(12), c = new Uint8Array(size + 16), m = new Uint8Array(size);
  out.rawLibsodiumEncrypt = cpuNs(n, () => { sodium.crypto_aead_chacha20poly1305_ietf_encrypt(c, plain, hdr, null, nonce, key); });
  out.rawLibsodiumDecrypt = cpuNs(n, () => { sodium.crypto_aead_chacha20poly1305_ietf_decrypt(m, null, c, hdr, nonce, key); });
  return out;
}
const perPacketNs = { b1200: perPacket(1200), b65000: perPacket(65_000) };

/** CPU ns per call of each of `fns`, alternated `reps` times in this run (min = least disturbed, and median). */
function alternate(reps: number, n: number, fns: Record<string, (i: number) => void>): Record<string, { min: number; median: number }> {
  const samples: Record<string, number[]> = {};
  for (const [k, fn] of Object.entries(fns)) { for (let i = 0; i < Math.min(n, 2000); i++) fn(i); samples[k] = []; }
  for (let r = 0; r < reps; r++) {
    for (const [k, fn] of Object.entries(fns)) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) fn(i);
      const u = process.cpuUsage(c0);
      samples[k].push(((u.user + u.system) * 1000) / n);
    }
  }
  const out: Record<string, { min: number; median: number }> = {};
  for (const [k, v] of Object.entries(samples)) { v.sort((x, y) => x - y); out[k] = { min: Math.round(v[0]), median: Math.round(v[v.length >> 1]) }; }
  return out;
}

/**
 * The AEAD alone, in place (what sealInto/openInPlace call), for every implementation in
 * the same run, alternated: the addon's direct path (OpenSSL's raw ChaCha20_ctr32 +
 * Poly1305), its EVP path, libsodium. openInPlace opens `count` distinct sealed copies
 * per pass (restored between passes, the restore's own cost subtracted; <= ~512 KB of
 * copies, so they are as warm as the seal's buffer). CPU ns per packet (min and median of reps).
 */
function aeadCompare(size: number) {
  const makers: Record<string, (encrypt: boolean) => KeyedPacketAead | undefined> = {
    direct: (e) => opensslPacketAead(key, e, 'direct'),
    evp: (e) => opensslPacketAead(key, e, 'evp'),
    libsodium: () => sodiumPacketAead(key),
  };
  // distinct packets for open, few enough to stay in L2 (~512 KB) like the one seal buffer and a just-received datagram
  const hdr = new Uint8Array(13), count = Math.max(8, Math.min(256, Math.floor(524_288 / (size + 16))));
  const n = Math.max(count, Math.round(3_000_000 / (size * 0.5 + 500) / count) * count);
  const seal: Record<string, (i: number) => void> = {}, open: Record<string, (i: number) => void> = {};
  const keep: KeyedPacketAead[] = [];
  for (const [name, make] of Object.entries(makers)) {
    const enc = make(true), dec = make(false);
    if (!enc || !dec) continue;
    keep.push(enc, dec);
    const buf = new Uint8Array(size + 16);
    seal[name] = (i) => enc.sealInPlace(buf, 0, size, hdr, i);
    const sealedPkts = Array.from({ length: count }, (_, i) => { const b = new Uint8Array(size + 16); enc.sealInPlace(b, 0, size, hdr, i); return b; });
    const copies = sealedPkts.map((x) => x.slice());
    // the restore of a pass's copies is not timed: it happens on the pass's first packet, its cost subtracted below
    let x = 0;
    open[name] = () => {
      if (!dec.openInPlace(copies[x], hdr, x)) throw new Error('openInPlace failed');
      if (++x === count) { x = 0; for (let y = 0; y < count; y++) copies[y].set(sealedPkts[y]); }
    };
  }
  // the restore alone, per packet, to subtract from open
  const pkts = Array.from({ length: count }, () => new Uint8Array(size + 16)), copies = pkts.map((x) => x.slice());
  let rx = 0;
  const restore = () => { if (++rx === count) { rx = 0; for (let y = 0; y < count; y++) copies[y].set(pkts[y]); } };
  const reps = size > 10_000 ? 5 : 9;
  const s = alternate(reps, n, seal), o = alternate(reps, n, { ...open, restore });
  const r = o.restore;
  const out: Record<string, { sealInPlace: number; openInPlace: number; sealMedian: number; openMedian: number }> = {};
  for (const k of Object.keys(seal)) {
    out[k] = { sealInPlace: s[k].min, openInPlace: Math.max(0, o[k].min - r.min), sealMedian: s[k].median, openMedian: Math.max(0, o[k].median - r.median) };
  }
  for (const a of keep) a.destroy();
  return out;
}

/**
 * What one N-API call costs against the work it carries (is batching several packets per call
 * worth it?): the addon's nop(h) (the call + the handle's type-tag check), sealInPlace refused
 * after parsing all six arguments (pn = -1), a 0-byte and a 1200-byte seal (the addon path in
 * use, raw addon), and the same 1200-byte seal through packet-aead.ts's wrapper.
 */
function napiCost() {
  const a = nativePacketAeadAddon, wrapped = opensslPacketAead(key, true);
  if (!a || !wrapped) return undefined;
  const h = a.create(key, true, wrapped.impl === 'openssl-direct' ? 1 : 2), hdr = new Uint8Array(13), buf = new Uint8Array(1216);
  const r = alternate(7, 50_000, {
    nop: () => { a.nop(h); },
    argsOnly: () => { a.sealInPlace(h, buf, 0, 1200, hdr, -1); },
    seal0: (i) => { a.sealInPlace(h, buf, 0, 0, hdr, i); },
    seal1200: (i) => { a.sealInPlace(h, buf, 0, 1200, hdr, i); },
    seal1200Wrapper: (i) => { wrapped.sealInPlace(buf, 0, 1200, hdr, i); },
  });
  a.destroy(h); wrapped.destroy();
  return { impl: wrapped.impl, ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.min])) };
}

function aeadNsNow() {
  return {
    backend: PACKET_AEAD_BACKEND,
    impl: PACKET_AEAD_IMPL,
    ...Object.fromEntries([64, 1200, 1400, 16_384, 65_000].map((size) => [`b${size}`, aeadCompare(size)])),
    napi: napiCost(),
  };
}
const aeadNs = aeadNsNow();

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

/** Sans-IO transfer client -> server; CPU us per data packet on each side (after a warm-up). */
function pipelineRun(client: CryptoProvider, server: CryptoProvider, serverStatic: Uint8Array | undefined, mtu: number, totalMiB: number) {
  const MiB = 1024 * 1024;
  const common = {
    limits: { maxStreamData: 16 * MiB, maxData: 64 * MiB, maxStreamsBidi: 100, maxStreamsUni: 100 }, sendBufferBytes: 8 * MiB,
    maxUdpPayload: mtu, congestion: congestionControllers.unlimited, ownsReceivedDatagrams: true, pacing: false,
    // as over the native batched socket: packets built in one reused buffer, copied into staging at send
    reuseTransmitBuffers: true,
  };
  const s = new Endpoint({ crypto: server, random: seededRandom(1), server: true, ...common });
  const c = new Endpoint({ crypto: client, random: seededRandom(2), ...common });
  const sa = { address: '203.0.113.1', port: 1 }, ca = { address: '198.51.100.1', port: 2 };
  let now = 0;
  const conn: Connection = c.connect(now, sa, { serverStatic });
  const id = conn.openStream(false)!;
  const chunk = new Uint8Array(256 * 1024).fill(0x5a), total = totalMiB * MiB;
  let written = 0, received = 0, sconn: Connection | undefined, done = false, started = false;
  let sendUs = 0, recvUs = 0, pkts = 0;
  const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
  const out: Uint8Array[] = [], back: Uint8Array[] = [];
  // staging slots (the socket's copy at send), reused every round
  const staging: Uint8Array[] = [], backStaging: Uint8Array[] = [];
  const stage = (slots: Uint8Array[], k: number, b: Uint8Array): Uint8Array => {
    if (!slots[k] || slots[k].length < b.length) slots[k] = new Uint8Array(Math.max(b.length, mtu + 64));
    slots[k].set(b);
    return slots[k].subarray(0, b.length);
  };
  while (!done && now < 1e7) {
    now += 0.01;
    while (written < total && !conn.writeBlocked(id)) { conn.write(id, chunk); written += chunk.length; }
    if (written >= total) conn.finish(id);
    let t = cpu();
    for (let x = c.pollTransmit(now); x; x = c.pollTransmit(now)) out.push(stage(staging, out.length, x.bytes));
    if (started) sendUs += cpu() - t;
    t = cpu();
    for (const d of out) { s.handleDatagram(now, ca, d); if (started && d.length > mtu / 2) pkts++; }
    out.length = 0;
    for (let e = s.pollEvent(); e; e = s.pollEvent()) sconn = e.connection;
    if (sconn) {
      for (let e = sconn.pollEvent(); e; e = sconn.pollEvent()) { /* drain */ }
      for (let d = sconn.read(id); d !== undefined; d = sconn.read(id)) {
        if (d === null) { done = true; break; }
        received += d.length;
        if (!started && received > total / 8 && conn.mtuBytes >= mtu) started = true;
      }
    }
    for (let x = s.pollTransmit(now); x; x = s.pollTransmit(now)) back.push(stage(backStaging, back.length, x.bytes));
    if (started) recvUs += cpu() - t;
    t = cpu();
    for (const d of back) c.handleDatagram(now, sa, d);
    back.length = 0;
    c.handleTimeout(now); s.handleTimeout(now);
    if (started) sendUs += cpu() - t; // the sender's ACK processing
  }
  if (!done) throw new Error('pipeline transfer did not finish');
  return { sendUs: Math.round((sendUs / pkts) * 100) / 100, recvUs: Math.round((recvUs / pkts) * 100) / 100, packets: pkts };
}

function pipeline() {
  const ida = generateIdentity(), idb = generateIdentity();
  const variants: Record<string, [CryptoProvider, CryptoProvider, Uint8Array | undefined]> = {
    plaintext: [plaintextCrypto, plaintextCrypto, undefined],
    noise: [noiseCrypto(ida), noiseCrypto(idb), idb.publicKey],
    'noise-libsodium': [noiseCrypto(ida, { packetAead: 'libsodium' }), noiseCrypto(idb, { packetAead: 'libsodium' }), idb.publicKey],
  };
  // the addon's other path through the same session layer, same run (keys made while it is selected)
  const other = PACKET_AEAD_IMPL === 'openssl-direct' ? 'evp' : PACKET_AEAD_IMPL === 'openssl-evp' ? 'direct' : undefined;
  const otherName = other && PACKET_AEAD_ADDON_PATHS.includes(other) ? `noise-openssl-${other}` : undefined;
  if (otherName) variants[otherName] = variants.noise;
  const out: Record<string, Record<string, unknown>> = {};
  for (const [label, mtu, mib] of [['b1200', 1200, 96], ['b65000', 65_000, 256]] as const) {
    const row: Record<string, unknown> = {};
    // alternate the variants twice; keep each one's lower (less disturbed) figure per side
    for (let pass = 0; pass < 2; pass++) {
      for (const [name, [cl, sv, st]] of Object.entries(variants)) {
        const was = name === otherName ? selectPacketAeadPath(other!) : undefined;
        let r: ReturnType<typeof pipelineRun>;
        try { r = pipelineRun(cl, sv, st, mtu, mib); } finally { if (was) selectPacketAeadPath(was); }
        const prev = row[name] as { sendUs: number; recvUs: number } | undefined;
        row[name] = prev ? { ...r, sendUs: Math.min(prev.sendUs, r.sendUs), recvUs: Math.min(prev.recvUs, r.recvUs) } : r;
      }
    }
    const busier = (v: string) => { const r = row[v] as { sendUs: number; recvUs: number }; return Math.max(r.sendUs, r.recvUs); };
    row.cpuRatio = Object.fromEntries(Object.keys(variants).filter((v) => v !== 'plaintext').map((v) => [v, Math.round((busier('plaintext') / busier(v)) * 1000) / 1000]));
    out[label] = row;
  }
  return out;
}
const pipelineUs = process.argv.includes('--no-pipeline') ? undefined : pipeline();

console.log(JSON.stringify({
  bench: 'session', node: process.version, hash: HASH_BACKEND,
  sealsPerSec1200: sealsPerSec, opensPerSec1200: opensPerSec,
  sealMBps: Math.round((sealsPerSec * 1200) / 1e6),
  handshakesPerSec: { ik: ikPerSec, xx: xxPerSec, ikServerSideOnly: ikServerPerSec },
  perPacketNs,
  aeadNs,
  pipelineUs,
}, null, 1));
