// STUN messages (RFC 8489) plus the RFC 5780 attributes used for NAT behaviour
// discovery. Pure codec, hostile-input safe: decodeStun throws only DecodeError
// and bounds everything by the datagram's own length.
//
// Decoding rules: 20-byte header (top two bits 0, magic cookie 0x2112A442,
// length a multiple of 4 equal to the bytes that follow); attributes are TLVs
// padded to 4 bytes (padding content ignored); after MESSAGE-INTEGRITY only
// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are kept (others ignored, RFC 8489
// 14.5); FINGERPRINT must be last. For a repeated attribute the first one
// counts. Known attributes are decoded into typed fields; unknown
// comprehension-required types (< 0x8000) are listed in `unknownRequired` so a
// server can answer 420. Integrity/fingerprint are verified by separate calls
// (they need the raw bytes and, for integrity, a key).
//
// Credentials: short-term key = the password's UTF-8 bytes; long-term key =
// MD5(username ":" realm ":" password). SASLprep/OpaqueString is NOT applied:
// callers pass already-prepared strings.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { crc32 } from './crc32.ts';
import { DecodeError, EncodeError } from './errors.ts';
import { bytesToIp, ipFamilyOf, ipToBytes, type IpFamily } from './ip-address.ts';

export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_HEADER_LEN = 20;
export const STUN_TRANSACTION_ID_LEN = 12;
export const STUN_FINGERPRINT_XOR = 0x5354554e;
/** Largest STUN message a UDP datagram can carry over IPv4 (65,507), rounded down to 4. */
export const STUN_MAX_MESSAGE = 65504;

export const STUN_METHOD_BINDING = 0x001;

/** Attribute types (RFC 8489 section 18.3, RFC 5780 section 7, RFC 8445 for the ICE ones). */
export const StunAttr = {
  MAPPED_ADDRESS: 0x0001,
  CHANGE_REQUEST: 0x0003,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  PADDING: 0x0026,
  RESPONSE_PORT: 0x0027,
  PASSWORD_ALGORITHMS: 0x8002,
  ALTERNATE_DOMAIN: 0x8003,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
  RESPONSE_ORIGIN: 0x802b,
  OTHER_ADDRESS: 0x802c,
} as const;

/** Comprehension-required types this codec knows (decodes or deliberately carries as raw). */
const KNOWN_REQUIRED = new Set<number>([
  StunAttr.MAPPED_ADDRESS, StunAttr.CHANGE_REQUEST, StunAttr.USERNAME, StunAttr.MESSAGE_INTEGRITY, StunAttr.ERROR_CODE,
  StunAttr.UNKNOWN_ATTRIBUTES, StunAttr.REALM, StunAttr.NONCE, StunAttr.MESSAGE_INTEGRITY_SHA256,
  StunAttr.PASSWORD_ALGORITHM, StunAttr.USERHASH, StunAttr.XOR_MAPPED_ADDRESS, StunAttr.PRIORITY,
  StunAttr.USE_CANDIDATE, StunAttr.PADDING, StunAttr.RESPONSE_PORT,
]);

export type StunClass = 'request' | 'indication' | 'success' | 'error';
const CLASS_BITS: Record<StunClass, number> = { request: 0, indication: 1, success: 2, error: 3 };
const CLASS_NAMES: StunClass[] = ['request', 'indication', 'success', 'error'];

export interface StunAddress {
  family: IpFamily;
  address: string;
  port: number;
}

export interface StunErrorCode {
  /** 300..699 */
  code: number;
  reason: string;
}

export interface StunRawAttribute {
  type: number;
  /** Value bytes (subarray of the message, padding excluded). */
  value: Uint8Array;
  /** Offset of the attribute's type field within the message. */
  offset: number;
}

export interface StunMessage {
  method: number;
  class: StunClass;
  /** 12 bytes (a copy). */
  transactionId: Uint8Array;
  /** Every attribute kept, in order (see the header comment for what is dropped). */
  attributes: StunRawAttribute[];
  xorMappedAddress?: StunAddress;
  mappedAddress?: StunAddress;
  responseOrigin?: StunAddress;
  otherAddress?: StunAddress;
  alternateServer?: StunAddress;
  changeRequest?: { changeIp: boolean; changePort: boolean };
  /** RFC 5780 RESPONSE-PORT: the client asks for the response on this port of its address. */
  responsePort?: number;
  software?: string;
  username?: string;
  realm?: string;
  nonce?: string;
  errorCode?: StunErrorCode;
  unknownAttributes?: number[];
  /** Offset of the MESSAGE-INTEGRITY attribute, when present. */
  integrityOffset?: number;
  /** Offset of the FINGERPRINT attribute, when present. */
  fingerprintOffset?: number;
  /** Comprehension-required attribute types (< 0x8000) this codec does not know. */
  unknownRequired: number[];
}

/** Attributes accepted by encodeStun. MESSAGE-INTEGRITY and FINGERPRINT are added through options. */
export type StunAttributeInput =
  | { type: 'xor-mapped-address'; address: StunAddress }
  | { type: 'mapped-address'; address: StunAddress }
  | { type: 'response-origin'; address: StunAddress }
  | { type: 'other-address'; address: StunAddress }
  | { type: 'alternate-server'; address: StunAddress }
  | { type: 'change-request'; changeIp: boolean; changePort: boolean }
  | { type: 'response-port'; port: number }
  | { type: 'software'; value: string }
  | { type: 'username'; value: string }
  | { type: 'realm'; value: string }
  | { type: 'nonce'; value: string }
  | { type: 'error-code'; code: number; reason: string }
  | { type: 'unknown-attributes'; types: number[] }
  | { type: 'raw'; attrType: number; value: Uint8Array };

export interface StunMessageInput {
  method: number;
  class: StunClass;
  transactionId: Uint8Array;
  attributes?: StunAttributeInput[];
}

export interface StunEncodeOptions {
  /** Append MESSAGE-INTEGRITY (HMAC-SHA1) with this key (shortTermKey / longTermKey). */
  integrityKey?: Uint8Array;
  /** Append FINGERPRINT (last). */
  fingerprint?: boolean;
}

const LAYER = 'stun';
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** 14-bit message type from method (12 bits) and class: M11..M7 C1 M6..M4 C0 M3..M0. */
export function stunMessageType(method: number, cls: StunClass): number {
  const c = CLASS_BITS[cls];
  return ((method & 0xf80) << 2) | ((method & 0x070) << 1) | (method & 0x00f) | ((c & 2) << 7) | ((c & 1) << 4);
}

/**
 * Cheap demultiplexing test (RFC 8489 section 6.3 / RFC 7983): top two bits 0, magic
 * cookie present, length field a multiple of 4 that fits. Does not validate attributes.
 */
export function isStunMessage(bytes: Uint8Array): boolean {
  return bytes.length >= STUN_HEADER_LEN && (bytes[0] & 0xc0) === 0 && u32(bytes, 4) === STUN_MAGIC_COOKIE
    && (u16(bytes, 2) & 3) === 0 && u16(bytes, 2) + STUN_HEADER_LEN === bytes.length;
}

/** Decode one STUN message that fills `bytes` exactly (one UDP datagram). Throws DecodeError. */
export function decodeStun(bytes: Uint8Array): StunMessage {
  const n = bytes.length;
  if (n < STUN_HEADER_LEN) throw new DecodeError(LAYER, `truncated: ${n} bytes, the header needs 20`);
  if ((bytes[0] & 0xc0) !== 0) throw new DecodeError(LAYER, 'not STUN: the top two bits of the message type are not zero');
  const cookie = u32(bytes, 4);
  if (cookie !== STUN_MAGIC_COOKIE) {
    throw new DecodeError(LAYER, `bad magic cookie 0x${cookie.toString(16).padStart(8, '0')} (RFC 3489 messages are not supported)`);
  }
  const length = u16(bytes, 2);
  if (length % 4 !== 0) throw new DecodeError(LAYER, `message length ${length} is not a multiple of 4`);
  if (length + STUN_HEADER_LEN !== n) throw new DecodeError(LAYER, `message length ${length} does not match the ${n - STUN_HEADER_LEN} bytes after the header`);
  const type = u16(bytes, 0);
  const method = (type & 0x000f) | ((type & 0x00e0) >>> 1) | ((type & 0x3e00) >>> 2);
  const cls = CLASS_NAMES[((type >>> 7) & 2) | ((type >>> 4) & 1)];
  const msg: StunMessage = {
    method,
    class: cls,
    transactionId: bytes.slice(8, 20),
    attributes: [],
    unknownRequired: [],
  };
  let o = STUN_HEADER_LEN;
  let afterIntegrity = false;
  const seen = new Set<number>();
  while (o < n) {
    if (n - o < 4) throw new DecodeError(LAYER, `truncated attribute header at offset ${o}`);
    const at = u16(bytes, o);
    const len = u16(bytes, o + 2);
    const valueStart = o + 4;
    if (len > n - valueStart) throw new DecodeError(LAYER, `attribute 0x${hex4(at)} at offset ${o} has length ${len}, beyond the message end`);
    const padded = (len + 3) & ~3;
    if (padded > n - valueStart) throw new DecodeError(LAYER, `attribute 0x${hex4(at)} at offset ${o}: padding runs past the message end`);
    if (msg.fingerprintOffset !== undefined) throw new DecodeError(LAYER, `attribute 0x${hex4(at)} follows FINGERPRINT, which must be last`);
    const value = bytes.subarray(valueStart, valueStart + len);
    const keep = !afterIntegrity || at === StunAttr.FINGERPRINT || at === StunAttr.MESSAGE_INTEGRITY_SHA256;
    if (keep) {
      msg.attributes.push({ type: at, value, offset: o });
      if (!seen.has(at)) {
        seen.add(at); // for a repeated attribute only the first is interpreted
        decodeKnown(msg, at, value, o);
      }
      if (at === StunAttr.MESSAGE_INTEGRITY) afterIntegrity = true;
    }
    o = valueStart + padded;
  }
  return msg;
}

/** The first kept attribute of `type`, if any. */
export function getStunAttribute(msg: StunMessage, type: number): StunRawAttribute | undefined {
  return msg.attributes.find((a) => a.type === type);
}

function decodeKnown(msg: StunMessage, type: number, v: Uint8Array, offset: number): void {
  switch (type) {
    case StunAttr.XOR_MAPPED_ADDRESS:
      msg.xorMappedAddress = decodeAddressValue(v, 'XOR-MAPPED-ADDRESS', msg.transactionId);
      break;
    case StunAttr.MAPPED_ADDRESS:
      msg.mappedAddress = decodeAddressValue(v, 'MAPPED-ADDRESS');
      break;
    case StunAttr.RESPONSE_ORIGIN:
      msg.responseOrigin = decodeAddressValue(v, 'RESPONSE-ORIGIN');
      break;
    case StunAttr.OTHER_ADDRESS:
      msg.otherAddress = decodeAddressValue(v, 'OTHER-ADDRESS');
      break;
    case StunAttr.ALTERNATE_SERVER:
      msg.alternateServer = decodeAddressValue(v, 'ALTERNATE-SERVER');
      break;
    case StunAttr.CHANGE_REQUEST: {
      if (v.length !== 4) throw new DecodeError(LAYER, `CHANGE-REQUEST has length ${v.length}, expected 4`);
      const flags = u32(v, 0);
      msg.changeRequest = { changeIp: (flags & 4) !== 0, changePort: (flags & 2) !== 0 };
      break;
    }
    case StunAttr.RESPONSE_PORT:
      if (v.length !== 4) throw new DecodeError(LAYER, `RESPONSE-PORT has length ${v.length}, expected 4`);
      msg.responsePort = u16(v, 0);
      break;
    case StunAttr.SOFTWARE:
      msg.software = decodeText(v, 'SOFTWARE', 763);
      break;
    case StunAttr.USERNAME:
      msg.username = decodeText(v, 'USERNAME', 513);
      break;
    case StunAttr.REALM:
      msg.realm = decodeText(v, 'REALM', 763);
      break;
    case StunAttr.NONCE:
      msg.nonce = decodeText(v, 'NONCE', 763);
      break;
    case StunAttr.ERROR_CODE: {
      if (v.length < 4) throw new DecodeError(LAYER, `ERROR-CODE has length ${v.length}, needs at least 4`);
      const cls = v[2] & 7;
      const number = v[3];
      if (cls < 3 || cls > 6 || number > 99) throw new DecodeError(LAYER, `ERROR-CODE class ${cls} number ${number} is not a valid code`);
      msg.errorCode = { code: cls * 100 + number, reason: decodeText(v.subarray(4), 'ERROR-CODE reason', 763) };
      break;
    }
    case StunAttr.UNKNOWN_ATTRIBUTES: {
      if (v.length % 2 !== 0) throw new DecodeError(LAYER, `UNKNOWN-ATTRIBUTES has odd length ${v.length}`);
      const types: number[] = [];
      for (let i = 0; i < v.length; i += 2) types.push(u16(v, i));
      msg.unknownAttributes = types;
      break;
    }
    case StunAttr.MESSAGE_INTEGRITY:
      if (v.length !== 20) throw new DecodeError(LAYER, `MESSAGE-INTEGRITY has length ${v.length}, expected 20`);
      msg.integrityOffset = offset;
      break;
    case StunAttr.FINGERPRINT:
      if (v.length !== 4) throw new DecodeError(LAYER, `FINGERPRINT has length ${v.length}, expected 4`);
      msg.fingerprintOffset = offset;
      break;
    default:
      if (type < 0x8000 && !KNOWN_REQUIRED.has(type)) msg.unknownRequired.push(type); // once: callers see each type first time only
  }
}

function decodeText(v: Uint8Array, name: string, maxBytes: number): string {
  if (v.length > maxBytes) throw new DecodeError(LAYER, `${name} is ${v.length} bytes, the limit is ${maxBytes}`);
  try {
    return utf8Strict.decode(v);
  } catch {
    throw new DecodeError(LAYER, `${name} is not valid UTF-8`);
  }
}

/** Address attribute value: 0, family (1 = IPv4, 2 = IPv6), port, address; XORed when `transactionId` is given. */
function decodeAddressValue(v: Uint8Array, name: string, transactionId?: Uint8Array): StunAddress {
  if (v.length < 4) throw new DecodeError(LAYER, `${name} has length ${v.length}, too short`);
  const familyCode = v[1];
  const expected = familyCode === 1 ? 8 : familyCode === 2 ? 20 : -1;
  if (expected < 0) throw new DecodeError(LAYER, `${name} has unknown address family ${familyCode}`);
  if (v.length !== expected) throw new DecodeError(LAYER, `${name} has length ${v.length}, expected ${expected} for family ${familyCode}`);
  let port = u16(v, 2);
  const addr = v.slice(4);
  if (transactionId) {
    port ^= STUN_MAGIC_COOKIE >>> 16;
    const mask = xorMask(transactionId);
    for (let i = 0; i < addr.length; i++) addr[i] ^= mask[i];
  }
  return { family: familyCode === 1 ? 4 : 6, address: bytesToIp(addr), port };
}

/** Magic cookie followed by the transaction id: the XOR mask for X-ADDRESS (RFC 8489 14.2). */
function xorMask(transactionId: Uint8Array): Uint8Array {
  const m = new Uint8Array(16);
  put32(m, 0, STUN_MAGIC_COOKIE);
  m.set(transactionId.subarray(0, 12), 4);
  return m;
}

// ---------------------------------------------------------------- encoding

/** Encode a message; allocates once. Throws EncodeError on values the format cannot carry. */
export function encodeStun(input: StunMessageInput, options: StunEncodeOptions = {}): Uint8Array {
  if (!(input.transactionId instanceof Uint8Array) || input.transactionId.length !== STUN_TRANSACTION_ID_LEN) {
    throw new EncodeError(LAYER, 'transaction id must be 12 bytes');
  }
  if (!Number.isInteger(input.method) || input.method < 0 || input.method > 0xfff) throw new EncodeError(LAYER, `method ${input.method} is outside 0..0xfff`);
  if (!(input.class in CLASS_BITS)) throw new EncodeError(LAYER, `unknown class ${String(input.class)}`);
  const values = (input.attributes ?? []).map((a) => encodeAttributeValue(a, input.transactionId));
  let size = STUN_HEADER_LEN;
  for (const [, v] of values) size += 4 + ((v.length + 3) & ~3);
  if (options.integrityKey) size += 24;
  if (options.fingerprint) size += 8;
  if (size > STUN_MAX_MESSAGE) throw new EncodeError(LAYER, `message of ${size} bytes exceeds ${STUN_MAX_MESSAGE}`);
  const out = new Uint8Array(size);
  put16(out, 0, stunMessageType(input.method, input.class));
  put32(out, 4, STUN_MAGIC_COOKIE);
  out.set(input.transactionId, 8);
  let o = STUN_HEADER_LEN;
  for (const [type, v] of values) {
    put16(out, o, type);
    put16(out, o + 2, v.length);
    out.set(v, o + 4);
    o += 4 + ((v.length + 3) & ~3);
  }
  if (options.integrityKey) {
    put16(out, 2, o + 24 - STUN_HEADER_LEN);
    const mac = createHmac('sha1', options.integrityKey).update(out.subarray(0, o)).digest();
    put16(out, o, StunAttr.MESSAGE_INTEGRITY);
    put16(out, o + 2, 20);
    out.set(mac, o + 4);
    o += 24;
  }
  if (options.fingerprint) {
    put16(out, 2, o + 8 - STUN_HEADER_LEN);
    put16(out, o, StunAttr.FINGERPRINT);
    put16(out, o + 2, 4);
    put32(out, o + 4, (crc32(out, 0, o) ^ STUN_FINGERPRINT_XOR) >>> 0);
    o += 8;
  }
  put16(out, 2, o - STUN_HEADER_LEN);
  return out;
}

function encodeAttributeValue(a: StunAttributeInput, transactionId: Uint8Array): [number, Uint8Array] {
  switch (a.type) {
    case 'xor-mapped-address':
      return [StunAttr.XOR_MAPPED_ADDRESS, encodeAddressValue(a.address, transactionId)];
    case 'mapped-address':
      return [StunAttr.MAPPED_ADDRESS, encodeAddressValue(a.address)];
    case 'response-origin':
      return [StunAttr.RESPONSE_ORIGIN, encodeAddressValue(a.address)];
    case 'other-address':
      return [StunAttr.OTHER_ADDRESS, encodeAddressValue(a.address)];
    case 'alternate-server':
      return [StunAttr.ALTERNATE_SERVER, encodeAddressValue(a.address)];
    case 'change-request': {
      const v = new Uint8Array(4);
      v[3] = (a.changeIp ? 4 : 0) | (a.changePort ? 2 : 0);
      return [StunAttr.CHANGE_REQUEST, v];
    }
    case 'response-port': {
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new EncodeError(LAYER, `port ${a.port} is outside 0..65535`);
      return [StunAttr.RESPONSE_PORT, Uint8Array.of(a.port >>> 8, a.port & 0xff, 0, 0)];
    }
    case 'software':
      return [StunAttr.SOFTWARE, encodeText(a.value, 'SOFTWARE', 763)];
    case 'username':
      return [StunAttr.USERNAME, encodeText(a.value, 'USERNAME', 513)];
    case 'realm':
      return [StunAttr.REALM, encodeText(a.value, 'REALM', 763)];
    case 'nonce':
      return [StunAttr.NONCE, encodeText(a.value, 'NONCE', 763)];
    case 'error-code': {
      if (!Number.isInteger(a.code) || a.code < 300 || a.code > 699) throw new EncodeError(LAYER, `error code ${a.code} is outside 300..699`);
      const reason = encodeText(a.reason, 'ERROR-CODE reason', 763);
      const v = new Uint8Array(4 + reason.length);
      v[2] = Math.floor(a.code / 100);
      v[3] = a.code % 100;
      v.set(reason, 4);
      return [StunAttr.ERROR_CODE, v];
    }
    case 'unknown-attributes': {
      const v = new Uint8Array(2 * a.types.length);
      a.types.forEach((t, i) => put16(v, 2 * i, t));
      return [StunAttr.UNKNOWN_ATTRIBUTES, v];
    }
    case 'raw':
      if (!Number.isInteger(a.attrType) || a.attrType < 0 || a.attrType > 0xffff) throw new EncodeError(LAYER, `attribute type ${a.attrType} is outside 0..0xffff`);
      if (a.value.length > 0xffff) throw new EncodeError(LAYER, `attribute value of ${a.value.length} bytes is too long`);
      return [a.attrType, a.value];
  }
}

function encodeText(s: string, name: string, maxBytes: number): Uint8Array {
  const b = utf8.encode(s);
  if (b.length > maxBytes) throw new EncodeError(LAYER, `${name} is ${b.length} bytes, the limit is ${maxBytes}`);
  return b;
}

function encodeAddressValue(a: StunAddress, transactionId?: Uint8Array): Uint8Array {
  let addr: Uint8Array;
  try {
    addr = ipToBytes(a.address);
  } catch {
    throw new EncodeError(LAYER, `not an IP address: ${JSON.stringify(a.address)}`);
  }
  if (ipFamilyOf(a.address) !== a.family) throw new EncodeError(LAYER, `address ${a.address} is not IPv${a.family}`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new EncodeError(LAYER, `port ${a.port} is outside 0..65535`);
  const v = new Uint8Array(4 + addr.length);
  v[1] = a.family === 4 ? 1 : 2;
  let port = a.port;
  if (transactionId) {
    port ^= STUN_MAGIC_COOKIE >>> 16;
    const mask = xorMask(transactionId);
    for (let i = 0; i < addr.length; i++) addr[i] ^= mask[i];
  }
  put16(v, 2, port);
  v.set(addr, 4);
  return v;
}

// ---------------------------------------------------------------- integrity and fingerprint

/** Short-term credential key: the password's UTF-8 bytes (no SASLprep applied). */
export function shortTermKey(password: string): Uint8Array {
  return utf8.encode(password);
}

/** Long-term credential key: MD5(username ":" realm ":" password) (no SASLprep applied). */
export function longTermKey(username: string, realm: string, password: string): Uint8Array {
  return new Uint8Array(createHash('md5').update(utf8.encode(`${username}:${realm}:${password}`)).digest());
}

/**
 * True when `msg` (decoded from `bytes`) has a MESSAGE-INTEGRITY that matches HMAC-SHA1
 * over the message up to it, with the length field covering it (RFC 8489 14.5).
 */
export function verifyStunIntegrity(bytes: Uint8Array, msg: StunMessage, key: Uint8Array): boolean {
  const o = msg.integrityOffset;
  if (o === undefined || o + 24 > bytes.length) return false;
  const prefix = bytes.slice(0, o);
  put16(prefix, 2, o + 24 - STUN_HEADER_LEN);
  const mac = createHmac('sha1', key).update(prefix).digest();
  return timingSafeEqual(mac, bytes.subarray(o + 4, o + 24));
}

/** True when `msg` has a FINGERPRINT equal to CRC-32 of the bytes before it xor 0x5354554E. */
export function verifyStunFingerprint(bytes: Uint8Array, msg: StunMessage): boolean {
  const o = msg.fingerprintOffset;
  if (o === undefined || o + 8 > bytes.length) return false;
  return ((crc32(bytes, 0, o) ^ STUN_FINGERPRINT_XOR) >>> 0) === u32(bytes, o + 4);
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}
