// Relay over TCP framing (docs/protocol/relay.md, "Over TCP"): length-prefixed relay
// messages, reassembled from arbitrary chunk boundaries; a zero length is malformed.
import { describe, it, expect } from 'vitest';
import { encodeFrame, FrameDecoder, RelayStreamError } from '../../src/overlay/relay-stream.ts';
import { encodeRelayMessage } from '../../src/overlay/relay-wire.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('relay stream framing', () => {
  it('prefixes the message with its 16-bit big-endian length (vector from relay.md)', () => {
    const data = encodeRelayMessage({ type: 'data', sessionId: 0x0102030405060708n, payload: new Uint8Array([0xaa, 0xbb]) });
    expect(hex(encodeFrame(data))).toBe('000cc7030102030405060708aabb');
    expect(() => encodeFrame(new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeFrame(new Uint8Array(0x10000))).toThrow(RangeError);
  });

  it('reassembles frames split and joined at every byte boundary', () => {
    const msgs = [1, 300, 2, 1200].map((n, i) => new Uint8Array(n).fill(i + 1));
    const stream = Buffer.concat(msgs.map(encodeFrame));
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(out.map(hex)).toEqual(msgs.map(hex));
      expect(d.pending).toBe(0);
    }
    const d = new FrameDecoder();
    const out: Uint8Array[] = [];
    for (const byte of stream) out.push(...d.push(Uint8Array.of(byte))); // one byte at a time
    expect(out.map(hex)).toEqual(msgs.map(hex));
    expect(d.pending).toBe(0);
  });

  it('a zero-length frame is malformed', () => {
    expect(() => new FrameDecoder().push(Uint8Array.of(0, 0, 0xc7))).toThrow(RelayStreamError);
  });
});
