// Plain STUN Binding transactions for a peer's shared socket (no retransmission: the
// callers repeat on their own schedule): supernode RTT probes (SupernodePicker) and the
// NAT keepalive toward the directory's STUN endpoint, which also notices a changed
// mapping. Pure bookkeeping: `encode` makes the request for a transaction id (24 hex
// digits), `handle` recognises a success response to one we sent (matched by
// transaction id AND the address we sent it to) and returns what it told us. At most
// `maxPending` transactions are remembered (oldest forgotten first).
import type { UdpAddress } from '../wire/socket.ts';
import { sameAddress } from '../wire/socket.ts';
import { decodeStun, encodeStun, isStunMessage, STUN_METHOD_BINDING } from '../wire/stun.ts';
import { DecodeError } from '../wire/errors.ts';

export interface BindingAnswer {
  readonly txId: string;
  readonly mapped: UdpAddress;
  readonly from: UdpAddress;
  /** OTHER-ADDRESS (RFC 5780): the server's alternate address and port, when it has them. */
  readonly other?: UdpAddress;
}

export class StunBindings {
  private readonly pending = new Map<string, UdpAddress>();

  constructor(private readonly maxPending = 64) {}

  /** The Binding request for transaction `txId` (24 hex digits) to `to`. */
  encode(txId: string, to: UdpAddress): Uint8Array {
    if (!/^[0-9a-f]{24}$/.test(txId)) throw new RangeError('STUN transaction id must be 24 hex digits');
    this.pending.set(txId, to);
    if (this.pending.size > this.maxPending) this.pending.delete(this.pending.keys().next().value!);
    return encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: Buffer.from(txId, 'hex'), attributes: [] }, { fingerprint: true });
  }

  /** A success response to one of our requests -> its answer (and the transaction is forgotten); else undefined. */
  handle(from: UdpAddress, bytes: Uint8Array): BindingAnswer | undefined {
    if (!isStunMessage(bytes)) return undefined;
    let msg;
    try { msg = decodeStun(bytes); } catch (e) { if (e instanceof DecodeError) return undefined; throw e; }
    if (msg.method !== STUN_METHOD_BINDING || msg.class !== 'success') return undefined;
    const txId = Buffer.from(msg.transactionId).toString('hex');
    const to = this.pending.get(txId);
    const mapped = msg.xorMappedAddress ?? msg.mappedAddress;
    if (!to || !sameAddress(to, from) || !mapped || mapped.family !== 4) return undefined;
    this.pending.delete(txId);
    const o = msg.otherAddress;
    return { txId, mapped: { address: mapped.address, port: mapped.port }, from, ...(o && o.family === 4 ? { other: { address: o.address, port: o.port } } : {}) };
  }
}
