// docs/protocol/chat.md vectors (read from the doc) and hostile frames: the codec throws
// only ChatDecodeError with the documented code.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { ChatDecodeError, FrameReader, MAX_FRAME, MAX_TEXT_BYTES, decodeFrame, encodeFrame, type ChatFrame } from '../../src/apps/chat/wire.ts';
import { encodePreamble, readPreamble, PreambleError } from '../../src/apps/stream-preamble.ts';

const doc = readFileSync(new URL('../../docs/protocol/chat.md', import.meta.url), 'utf8');
/** vector name -> hex: the leading hex column of each line of the fenced block after the marker. */
const vectors = new Map([...doc.matchAll(/<!-- vector:([\w-]+) -->\n```\n([\s\S]*?)```/g)].map((m) => [m[1],
  m[2].split('\n').map((l) => l.split(/\s{3,}/)[0].replace(/\s+/g, '')).join('')]));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const id = Uint8Array.from({ length: 16 }, (_, i) => i);

function decodeAll(b: Uint8Array): ChatFrame[] {
  const r = new FrameReader();
  r.push(b);
  const out: ChatFrame[] = [];
  for (let f = r.next(); f; f = r.next()) out.push(f);
  return out;
}

function codeOf(fn: () => unknown): string {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(ChatDecodeError); return (e as ChatDecodeError).code; }
  return 'no error';
}

describe('docs/protocol/chat.md vectors', () => {
  it('the doc has all four vectors', () => {
    expect([...vectors.keys()].sort()).toEqual(['ack', 'hello', 'msg', 'preamble']);
  });
  it('preamble', () => { expect(hex(encodePreamble('tincan-chat/1'))).toBe(vectors.get('preamble')); });
  it('HELLO both ways', () => {
    const f: ChatFrame = { type: 'hello', version: 1, delivered: 41 };
    expect(hex(encodeFrame(f))).toBe(vectors.get('hello'));
    expect(decodeAll(bytes(vectors.get('hello')!))).toEqual([f]);
  });
  it('ACK both ways', () => {
    const f: ChatFrame = { type: 'ack', delivered: 42 };
    expect(hex(encodeFrame(f))).toBe(vectors.get('ack'));
    expect(decodeAll(bytes(vectors.get('ack')!))).toEqual([f]);
  });
  it('MSG both ways', () => {
    const f: ChatFrame = { type: 'msg', seq: 42, id, sentAt: 1764633600000, text: 'hi bob ☕' };
    expect(hex(encodeFrame(f))).toBe(vectors.get('msg'));
    expect(decodeAll(bytes(vectors.get('msg')!))).toEqual([f]);
  });
});

describe('hostile frames', () => {
  const body = (h: string) => bytes(h);
  it.each([
    ['', 'truncated'],
    ['04', 'unknown-type'],
    ['0101000000', 'truncated'],
    ['010100000001ff', 'trailing-bytes'],
    ['010200000001', 'bad-version'],
    ['0300000001ff', 'trailing-bytes'],
    ['02' + '00000000' + '00'.repeat(16) + '00'.repeat(8) + '41', 'bad-seq'],
    ['02' + '00000001' + '00'.repeat(16) + 'ff'.repeat(8) + '41', 'bad-timestamp'],
    ['02' + '00000001' + '00'.repeat(16) + '00'.repeat(8) + 'c328', 'bad-utf8'],
    ['02' + '00000001' + '00'.repeat(10), 'truncated'],
  ])('body %s -> %s', (h, code) => { expect(codeOf(() => decodeFrame(body(h)))).toBe(code); });

  it('a length above MAX_FRAME is refused before buffering the body', () => {
    const r = new FrameReader();
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, MAX_FRAME + 1);
    r.push(len);
    expect(codeOf(() => r.next())).toBe('frame-too-large');
    expect(codeOf(() => decodeAll(bytes('00000000')))).toBe('truncated');
  });

  it('text limits: MAX_TEXT_BYTES encodes and decodes, one more byte does not', () => {
    const text = 'x'.repeat(MAX_TEXT_BYTES);
    expect(decodeAll(encodeFrame({ type: 'msg', seq: 1, id, sentAt: 0, text }))).toHaveLength(1);
    expect(() => encodeFrame({ type: 'msg', seq: 1, id, sentAt: 0, text: text + 'x' })).toThrow(RangeError);
  });

  it('random bytes: only ChatDecodeError or frames (seeded fuzz)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      const r = new FrameReader();
      r.push(b);
      try { for (let f = r.next(); f; f = r.next()) { /* decoded */ } } catch (e) { if (!(e instanceof ChatDecodeError)) throw e; }
    }), { seed: 6, numRuns: 2000 });
  });

  it('frames split at every byte boundary decode the same', () => {
    const all = Buffer.concat([encodeFrame({ type: 'hello', version: 1, delivered: 3 }),
      encodeFrame({ type: 'msg', seq: 4, id, sentAt: 5, text: 'héllo' }), encodeFrame({ type: 'ack', delivered: 4 })]);
    for (let cut = 0; cut <= all.length; cut++) {
      const r = new FrameReader();
      const out: ChatFrame[] = [];
      r.push(all.subarray(0, cut));
      for (let f = r.next(); f; f = r.next()) out.push(f);
      r.push(all.subarray(cut));
      for (let f = r.next(); f; f = r.next()) out.push(f);
      expect(out.map((f) => f.type)).toEqual(['hello', 'msg', 'ack']);
    }
  });
});

describe('app stream preamble', () => {
  it('reads the name and leaves the following bytes on the stream', async () => {
    const s = new PassThrough();
    s.write(Buffer.concat([encodePreamble('tincan-chat/1'), Buffer.from('rest')]));
    expect(await readPreamble(s)).toBe('tincan-chat/1');
    expect(String(s.read())).toBe('rest');
  });
  it('rejects a zero length, an oversized length and an early end', async () => {
    for (const first of [0, 65]) {
      const s = new PassThrough();
      s.write(Buffer.from([first, 0x41]));
      await expect(readPreamble(s)).rejects.toBeInstanceOf(PreambleError);
    }
    const s = new PassThrough();
    s.end(Buffer.from([5, 0x41]));
    await expect(readPreamble(s)).rejects.toBeInstanceOf(PreambleError);
    expect(() => encodePreamble('has space')).toThrow(PreambleError);
  });
});
