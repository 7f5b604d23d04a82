// Checks the hex test vectors in docs/protocol/transport.md in both directions
// (decode -> expected value, encode expected value -> same hex).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeFrames, encodeFrames, type Frame } from '../../src/transport/wire/frames.ts';
import { encodeLongPacket, parseDatagram, writeShortHeader, SHORT_HEADER_LEN, type LongPacketFields } from '../../src/transport/wire/header.ts';
import { Reader, Writer, varintLen } from '../../src/transport/wire/cursor.ts';
import { plaintextCrypto } from '../../src/transport/crypto.ts';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/protocol/transport.md'), 'utf8');
const vectors = new Map([...doc.matchAll(/^vector (\S+) ([0-9a-f]+)$/gm)].map((m) => [m[1], m[2]]));
const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const vec = (name: string) => { const v = vectors.get(name); if (!v) throw new Error(`vector ${name} missing from the doc`); return v; };

const frames: Record<string, Frame> = {
  'frame.ping': { type: 'ping' },
  'frame.ack': { type: 'ack', ackDelayUs: 1000, ranges: [{ lo: 8, hi: 10 }, { lo: 2, hi: 5 }, { lo: 0, hi: 0 }] },
  'frame.reset_stream': { type: 'reset_stream', id: 4, code: 7, finalSize: 1000 },
  'frame.stop_sending': { type: 'stop_sending', id: 4, code: 7 },
  'frame.new_token': { type: 'new_token', token: h('0102') },
  'frame.stream': { type: 'stream', id: 0, offset: 0, data: h('616263'), fin: false },
  'frame.stream_off_fin': { type: 'stream', id: 5, offset: 100, data: h('64'), fin: true },
  'frame.max_data': { type: 'max_data', max: 1048576 },
  'frame.max_stream_data': { type: 'max_stream_data', id: 4, max: 65536 },
  'frame.max_streams_bidi': { type: 'max_streams', bidi: true, max: 100 },
  'frame.max_streams_uni': { type: 'max_streams', bidi: false, max: 3 },
  'frame.path_challenge': { type: 'path_challenge', data: h('0001020304050607') },
  'frame.path_response': { type: 'path_response', data: h('0001020304050607') },
  'frame.connection_close': { type: 'connection_close', app: false, code: 10, frameType: 8, reason: 'bad' },
  'frame.connection_close_app': { type: 'connection_close', app: true, code: 1, frameType: 0, reason: '' },
  'frame.handshake_done': { type: 'handshake_done' },
  'frame.datagram': { type: 'datagram', data: h('ff00') },
  'frame.padding': { type: 'padding', length: 2 },
};

const C1 = h('0102030405060708'), CA = h('a1a2a3a4a5a6a7a8'), CB = h('b1b2b3b4b5b6b7b8'), CC = h('c1c2c3c4c5c6c7c8');
const packets: Record<string, LongPacketFields> = {
  'packet.initial': { type: 'initial', dcid: C1, scid: CA, token: h('beef'), pn: 0, payload: encodeFrames([{ type: 'crypto', offset: 0, data: h('6869') }, { type: 'padding', length: 3 }]) },
  'packet.handshake': { type: 'handshake', dcid: CA, scid: CB, pn: 1, payload: encodeFrames([{ type: 'ack', ackDelayUs: 0, ranges: [{ lo: 0, hi: 0 }] }]) },
  'packet.retry': { type: 'retry', dcid: CA, scid: CC, token: h('00112233') },
};

describe('transport wire test vectors (docs/protocol/transport.md)', () => {
  for (const [name, f] of Object.entries(frames)) {
    it(name, () => {
      expect(hex(encodeFrames([f]))).toBe(vec(name));
      expect(decodeFrames(h(vec(name)))).toEqual([f]);
    });
  }
  for (const [name, p] of Object.entries(packets)) {
    it(name, () => {
      expect(hex(encodeLongPacket(p))).toBe(vec(name));
      const [got] = parseDatagram(h(vec(name)));
      expect(got.form).toBe('long');
      if (got.form !== 'long') return;
      expect(got.type).toBe(p.type);
      expect(hex(got.dcid)).toBe(hex(p.dcid));
      expect(hex(got.scid)).toBe(hex(p.scid));
      expect(hex(got.token)).toBe(hex(p.token ?? new Uint8Array(0)));
      expect(got.pnTruncated).toBe(p.pn ?? 0);
      expect(hex(got.payload)).toBe(hex(p.payload ?? new Uint8Array(0)));
    });
  }
  for (const [name, hexv] of vectors) {
    if (!name.startsWith('varint.')) continue;
    it(name, () => {
      const v = Number(name.slice('varint.'.length));
      const out = new Uint8Array(varintLen(v));
      new Writer(out).varint(v);
      expect(hex(out)).toBe(hexv);
      expect(new Reader(h(hexv)).varint('v')).toBe(v);
    });
  }
  it('packet.short (plaintext keys)', () => {
    const [p] = parseDatagram(h(vec('packet.short')));
    expect(p).toMatchObject({ form: 'short', keyPhase: 0, pnTruncated: 7 });
    if (p.form !== 'short') return;
    expect(hex(p.dcid)).toBe(hex(C1));
    expect(decodeFrames(p.sealed)).toEqual([
      { type: 'ack', ackDelayUs: 0, ranges: [{ lo: 0, hi: 3 }] },
      { type: 'stream', id: 0, offset: 0, data: h('6869'), fin: true },
    ]);
  });
  it('crypto.message (length-prefixed handshake message in the CRYPTO stream)', () => {
    const m = h(vec('crypto.message'));
    expect((m[0] << 8) | m[1]).toBe(m.length - 2);
    expect(Buffer.from(m.subarray(2)).toString()).toBe('tc-hello');
    expect(plaintextCrypto.client({}).start!(0)).toEqual(m.subarray(2));
  });
  it('header.short', () => {
    const out = new Uint8Array(SHORT_HEADER_LEN);
    writeShortHeader(out, C1, 0x1_0000_0005, 1);
    expect(hex(out)).toBe(vec('header.short'));
    const [p] = parseDatagram(h(vec('header.short') + 'aabb'));
    expect(p).toMatchObject({ form: 'short', keyPhase: 1, pnTruncated: 5 });
    if (p.form === 'short') expect(hex(p.sealed)).toBe('aabb');
  });
});
