// StunBindings: a success response counts only for a transaction we sent, from the
// address we sent it to; each answer is taken once.
import { describe, it, expect } from 'vitest';
import { StunBindings } from '../../src/overlay/stun-bindings.ts';
import { decodeStun, encodeStun, STUN_METHOD_BINDING } from '../../src/wire/stun.ts';

const server = { address: '198.51.100.10', port: 3478 };
const tx = '000102030405060708090a0b';

function answer(txHex: string, mapped = { address: '198.51.100.2', port: 40000 }): Uint8Array {
  return encodeStun({ method: STUN_METHOD_BINDING, class: 'success', transactionId: Buffer.from(txHex, 'hex'), attributes: [{ type: 'xor-mapped-address', address: { family: 4, ...mapped } }] }, { fingerprint: true });
}

describe('StunBindings', () => {
  it('encodes a Binding request with the given transaction id and matches its answer once', () => {
    const b = new StunBindings();
    const req = decodeStun(b.encode(tx, server));
    expect(req).toMatchObject({ method: STUN_METHOD_BINDING, class: 'request' });
    expect(Buffer.from(req.transactionId).toString('hex')).toBe(tx);
    expect(b.handle({ address: '198.51.100.99', port: 3478 }, answer(tx))).toBeUndefined(); // wrong source
    expect(b.handle(server, answer('ff'.repeat(12)))).toBeUndefined(); // not ours
    expect(b.handle(server, new Uint8Array([1, 2, 3]))).toBeUndefined(); // not STUN
    expect(b.handle(server, answer(tx))).toEqual({ txId: tx, mapped: { address: '198.51.100.2', port: 40000 }, from: server });
    expect(b.handle(server, answer(tx))).toBeUndefined(); // duplicate
    expect(() => b.encode('xyz', server)).toThrow(RangeError);
  });

  it('remembers at most maxPending transactions', () => {
    const b = new StunBindings(2);
    const ids = ['01', '02', '03'].map((x) => x.repeat(12));
    for (const id of ids) b.encode(id, server);
    expect(b.handle(server, answer(ids[0]))).toBeUndefined();
    expect(b.handle(server, answer(ids[2]))).toBeDefined();
  });
});
