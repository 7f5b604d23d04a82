// Connectivity checks on the wire (RFC 8445 §7.1 / §7.3 style), on the STUN codec
// (src/wire/stun.ts). A check is a STUN Binding request with
//   USERNAME "<remote ufrag>:<local ufrag>", PRIORITY (u32), ICE-CONTROLLING or
//   ICE-CONTROLLED (u64 tie-breaker), USE-CANDIDATE when nominating,
//   MESSAGE-INTEGRITY keyed with the REMOTE password, FINGERPRINT;
// the answer is a Binding success with XOR-MAPPED-ADDRESS (the source the responder
// saw), MESSAGE-INTEGRITY keyed with the responder's own password, FINGERPRINT.
// A device that refuses the session (it has another key pinned for the caller, or is not
// accepting) answers checks with a Binding error response: ERROR-CODE 403 with the reason
// as text ('key-changed', 'not-accepting'), MESSAGE-INTEGRITY keyed with its own password
// (so only the rendezvous' other device can produce it), FINGERPRINT.
// Ufrags and passwords are exchanged through the directory's rendezvous. decodeCheck
// verifies fingerprint, integrity and username; anything that fails is 'invalid' with
// the reason (never an exception). Transaction ids are 24 hex digits (12 bytes), the
// form CheckAgent's newTxId must produce. Documented in docs/protocol/checks.md.
import type { UdpAddress } from '../wire/socket.ts';
import {
  decodeStun, encodeStun, getStunAttribute, isStunMessage, shortTermKey, StunAttr, STUN_METHOD_BINDING,
  verifyStunFingerprint, verifyStunIntegrity, type StunAttributeInput,
} from '../wire/stun.ts';
import { DecodeError } from '../wire/errors.ts';

export interface IceCredentials {
  readonly localUfrag: string;
  readonly localPassword: string;
  readonly remoteUfrag: string;
  readonly remotePassword: string;
}

export type DecodedCheck =
  | { readonly kind: 'request'; readonly txId: string; readonly priority: number; readonly controlling: boolean; readonly tieBreaker: bigint; readonly nominate: boolean }
  | { readonly kind: 'response'; readonly txId: string; readonly mapped: UdpAddress }
  | { readonly kind: 'refusal'; readonly txId: string; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string };

const txBytes = (txId: string): Uint8Array => {
  if (!/^[0-9a-f]{24}$/.test(txId)) throw new RangeError(`check transaction id must be 24 lowercase hex digits, got ${JSON.stringify(txId)}`);
  return Uint8Array.from(Buffer.from(txId, 'hex'));
};
const txHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u32 = (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n >>> 0); return b; };
const u64 = (n: bigint) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n)); return b; };

export function encodeCheckRequest(c: IceCredentials, r: { txId: string; priority: number; controlling: boolean; tieBreaker: bigint; nominate: boolean }): Uint8Array {
  const attributes: StunAttributeInput[] = [
    { type: 'username', value: `${c.remoteUfrag}:${c.localUfrag}` },
    { type: 'raw', attrType: StunAttr.PRIORITY, value: u32(r.priority) },
    { type: 'raw', attrType: r.controlling ? StunAttr.ICE_CONTROLLING : StunAttr.ICE_CONTROLLED, value: u64(r.tieBreaker) },
  ];
  if (r.nominate) attributes.push({ type: 'raw', attrType: StunAttr.USE_CANDIDATE, value: new Uint8Array(0) });
  return encodeStun({ method: STUN_METHOD_BINDING, class: 'request', transactionId: txBytes(r.txId), attributes },
    { integrityKey: shortTermKey(c.remotePassword), fingerprint: true });
}

export function encodeCheckResponse(c: IceCredentials, r: { txId: string; mapped: UdpAddress }): Uint8Array {
  return encodeStun({
    method: STUN_METHOD_BINDING, class: 'success', transactionId: txBytes(r.txId),
    attributes: [{ type: 'xor-mapped-address', address: { family: 4, address: r.mapped.address, port: r.mapped.port } }],
  }, { integrityKey: shortTermKey(c.localPassword), fingerprint: true });
}

export const REFUSAL_CODE = 403;

export function encodeCheckRefusal(c: IceCredentials, r: { txId: string; reason: string }): Uint8Array {
  return encodeStun({
    method: STUN_METHOD_BINDING, class: 'error', transactionId: txBytes(r.txId),
    attributes: [{ type: 'error-code', code: REFUSAL_CODE, reason: r.reason }],
  }, { integrityKey: shortTermKey(c.localPassword), fingerprint: true });
}

export function isCheckCandidate(bytes: Uint8Array): boolean {
  return isStunMessage(bytes);
}

export function decodeCheck(c: IceCredentials, bytes: Uint8Array): DecodedCheck {
  let msg;
  try { msg = decodeStun(bytes); } catch (e) {
    if (e instanceof DecodeError) return { kind: 'invalid', reason: e.message };
    throw e;
  }
  if (msg.method !== STUN_METHOD_BINDING) return { kind: 'invalid', reason: 'not a Binding' };
  if (msg.fingerprintOffset === undefined || !verifyStunFingerprint(bytes, msg)) return { kind: 'invalid', reason: 'missing or bad FINGERPRINT' };
  if (msg.class === 'request') {
    if (msg.username !== `${c.localUfrag}:${c.remoteUfrag}`) return { kind: 'invalid', reason: 'USERNAME does not match our session' };
    if (!verifyStunIntegrity(bytes, msg, shortTermKey(c.localPassword))) return { kind: 'invalid', reason: 'bad MESSAGE-INTEGRITY' };
    const prio = getStunAttribute(msg, StunAttr.PRIORITY);
    const ctl = getStunAttribute(msg, StunAttr.ICE_CONTROLLING) ?? getStunAttribute(msg, StunAttr.ICE_CONTROLLED);
    if (!prio || prio.value.length !== 4) return { kind: 'invalid', reason: 'missing PRIORITY' };
    if (!ctl || ctl.value.length !== 8) return { kind: 'invalid', reason: 'missing ICE-CONTROLLING/ICE-CONTROLLED' };
    return {
      kind: 'request', txId: txHex(msg.transactionId), priority: new DataView(prio.value.buffer, prio.value.byteOffset, 4).getUint32(0),
      controlling: ctl.type === StunAttr.ICE_CONTROLLING, tieBreaker: new DataView(ctl.value.buffer, ctl.value.byteOffset, 8).getBigUint64(0),
      nominate: getStunAttribute(msg, StunAttr.USE_CANDIDATE) !== undefined,
    };
  }
  if (msg.class === 'success') {
    if (!verifyStunIntegrity(bytes, msg, shortTermKey(c.remotePassword))) return { kind: 'invalid', reason: 'bad MESSAGE-INTEGRITY' };
    const m = msg.xorMappedAddress;
    if (!m || m.family !== 4) return { kind: 'invalid', reason: 'missing XOR-MAPPED-ADDRESS' };
    return { kind: 'response', txId: txHex(msg.transactionId), mapped: { address: m.address, port: m.port } };
  }
  if (msg.class === 'error') {
    if (!verifyStunIntegrity(bytes, msg, shortTermKey(c.remotePassword))) return { kind: 'invalid', reason: 'bad MESSAGE-INTEGRITY' };
    if (msg.errorCode?.code !== REFUSAL_CODE) return { kind: 'invalid', reason: `unexpected error ${msg.errorCode?.code ?? 'without ERROR-CODE'}` };
    return { kind: 'refusal', txId: txHex(msg.transactionId), reason: msg.errorCode.reason };
  }
  return { kind: 'invalid', reason: `unexpected class ${msg.class}` };
}
