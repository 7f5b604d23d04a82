// STUN encoding of the NAT classifier's probes (nat-classify.ts) with the wire
// codec (src/wire/stun.ts): each probe becomes a Binding request (RFC 8489), with
// CHANGE-REQUEST (RFC 5780 §7.2) when the probe asks for an answer from another
// IP/port; a Binding success response is turned back into the classifier's fact
// { mapped (XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS), from (the datagram's source) }.
// Retransmissions of one probe reuse its transaction id (RFC 8489 §6.2.1). Pure:
// transaction ids come from an injected random source; at most `maxPending` ids are
// remembered (oldest forgotten first).
import type { UdpAddress } from '../wire/socket.ts';
import { decodeStun, encodeStun, isStunMessage, STUN_METHOD_BINDING, STUN_TRANSACTION_ID_LEN, type StunAttributeInput } from '../wire/stun.ts';
import { DecodeError } from '../wire/errors.ts';
import type { BindingFact, Probe } from './nat-classify.ts';

/** A STUN Binding message of the given class, or undefined for anything else (other methods, non-STUN, malformed). */
function decodeBinding(bytes: Uint8Array, cls: 'success' | 'error'): ReturnType<typeof decodeStun> | undefined {
  let msg;
  try {
    msg = decodeStun(bytes);
  } catch (e) {
    if (e instanceof DecodeError) return undefined;
    throw e;
  }
  return msg.method === STUN_METHOD_BINDING && msg.class === cls ? msg : undefined;
}

export class StunProbeCodec {
  private readonly byTx = new Map<string, number>(); // tx hex -> probe id
  private readonly byProbe = new Map<number, Uint8Array>();

  constructor(private readonly randomBytes: (n: number) => Uint8Array, private readonly maxPending = 64) {}

  /** The Binding request datagram for this transmission of `probe`. */
  encodeProbe(probe: Probe): Uint8Array {
    let tx = this.byProbe.get(probe.id);
    if (!tx) {
      tx = this.randomBytes(STUN_TRANSACTION_ID_LEN);
      if (tx.length !== STUN_TRANSACTION_ID_LEN) throw new RangeError('randomBytes returned the wrong length');
      this.byProbe.set(probe.id, tx);
      this.byTx.set(Buffer.from(tx).toString('hex'), probe.id);
      if (this.byProbe.size > this.maxPending) {
        const [oldId, oldTx] = this.byProbe.entries().next().value!;
        this.byProbe.delete(oldId);
        this.byTx.delete(Buffer.from(oldTx).toString('hex'));
      }
    }
    const attributes: StunAttributeInput[] = probe.change === 'none' ? [] : [{ type: 'change-request', changeIp: probe.change === 'ip-and-port', changePort: true }];
    return encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: tx, attributes }, { fingerprint: true });
  }

  /** True if `bytes` looks like STUN (for demultiplexing a shared socket). */
  static isStun(bytes: Uint8Array): boolean {
    return isStunMessage(bytes);
  }

  /** A Binding error response (e.g. 420 to CHANGE-REQUEST) answering one of our probes -> its probe id. */
  decodeError(bytes: Uint8Array): number | undefined {
    const msg = decodeBinding(bytes, 'error');
    if (!msg) return undefined;
    return this.byTx.get(Buffer.from(msg.transactionId).toString('hex'));
  }

  /** A Binding success answering one of our probes -> (probe id, fact); anything else -> undefined. */
  decodeResponse(bytes: Uint8Array, from: UdpAddress): { probeId: number; fact: BindingFact } | undefined {
    const msg = decodeBinding(bytes, 'success');
    if (!msg) return undefined;
    const probeId = this.byTx.get(Buffer.from(msg.transactionId).toString('hex'));
    const mapped = msg.xorMappedAddress ?? msg.mappedAddress;
    if (probeId === undefined || !mapped || mapped.family !== 4) return undefined;
    return { probeId, fact: { mapped: { address: mapped.address, port: mapped.port }, from } };
  }
}
