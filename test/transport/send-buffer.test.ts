// SendBuffer (src/transport/streams/send-buffer.ts) against a byte-level model:
// random sends, acknowledgements (in order, out of order, duplicated,
// overlapping) and losses. After every step the acked prefix, the unacked count
// and the retransmit queue agree with the model, and every byte handed out
// equals the byte written at that offset, as a view of the write holding it
// (ranges stop at write boundaries, no copies). Covers the in-order fast path of
// onAck and its fall-back to the general path once anything else is acked or lost.
import { describe, it, expect } from 'vitest';
import { SendBuffer } from '../../src/transport/streams/send-buffer.ts';
import { prng } from '../wire/fixtures.ts';

const byteAt = (off: number): number => (off * 31 + 7) & 0xff;
/** First offset whose byte differs from what was written there, or -1. */
const bad = (offset: number, data: Uint8Array): number => { for (let i = 0; i < data.length; i++) if (data[i] !== byteAt(offset + i)) return offset + i; return -1; };

describe('SendBuffer', () => {
  it('an out-of-order first acknowledgement is remembered when the gap before it is acknowledged', () => {
    const buf = new SendBuffer();
    buf.write(new Uint8Array(5000));
    const a = buf.next(1000)!, b = buf.next(1000)!, c = buf.next(1000)!;
    buf.onAck(b.offset, 1000);
    expect(buf.ackedPrefix).toBe(0);
    buf.onAck(a.offset, 1000);
    expect(buf.ackedPrefix).toBe(2000);
    buf.onAck(c.offset, 1000);
    expect(buf.ackedPrefix).toBe(3000);
    expect(buf.unacked).toBe(2000);
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`matches a byte-level model under random acks and losses (seed ${seed})`, () => {
      const rand = prng(seed);
      const buf = new SendBuffer();
      const acked = new Uint8Array(200_000); // model: 1 = acknowledged
      const sent: { offset: number; len: number }[] = []; // in flight (not acked or lost)
      let written = 0, prefix = 0;
      const writes: { offset: number; data: Uint8Array }[] = [];
      const ctx = `seed ${seed}`;
      for (let step = 0; step < 3000; step++) {
        const r = rand();
        if (r < 0.3 && written < 190_000) {
          const n = 1 + Math.floor(rand() * 3000);
          const data = new Uint8Array(n);
          for (let i = 0; i < n; i++) data[i] = byteAt(written + i);
          buf.write(data);
          writes.push({ offset: written, data });
          written += n;
        } else if (r < 0.6) {
          const c = buf.next(1 + Math.floor(rand() * 1400));
          if (c) {
            expect(bad(c.offset, c.data), ctx).toBe(-1);
            // never a copy: a view of the one application write that holds it
            const w = writes.find((x) => x.offset <= c.offset && c.offset < x.offset + x.data.length)!;
            expect(c.data.buffer === w.data.buffer && c.offset + c.data.length <= w.offset + w.data.length, ctx).toBe(true);
            sent.push({ offset: c.offset, len: c.data.length });
          }
        } else if (sent.length) {
          // mostly the oldest (in-order acks), sometimes any; sometimes lost; sometimes acked twice
          const i = rand() < 0.7 ? 0 : Math.floor(rand() * sent.length);
          const f = sent[i];
          if (rand() < 0.15) { sent.splice(i, 1); buf.onLost(f.offset, f.len); } else {
            if (rand() < 0.9) sent.splice(i, 1);
            buf.onAck(f.offset, f.len);
            acked.fill(1, f.offset, f.offset + f.len);
          }
        }
        while (prefix < written && acked[prefix]) prefix++;
        expect(buf.ackedPrefix, ctx).toBe(prefix);
        expect(buf.unacked, ctx).toBe(written - prefix);
      }
      // drain: everything sent or re-sent until acknowledged
      for (let guard = 0; guard < 100_000 && buf.unacked > 0; guard++) {
        const c = buf.next(1200);
        if (c) {
          expect(bad(c.offset, c.data), ctx).toBe(-1);
          buf.onAck(c.offset, c.data.length);
        } else {
          for (const f of sent.splice(0)) buf.onAck(f.offset, f.len);
        }
      }
      expect(buf.unacked, ctx).toBe(0);
      expect(buf.hasRetransmit(), ctx).toBe(false);
    });
  }
});
