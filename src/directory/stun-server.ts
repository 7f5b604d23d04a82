// STUN Binding server (RFC 8489) over any DatagramSocket, so peers learn their
// server-reflexive address. Contract:
// - Binding request -> success response with XOR-MAPPED-ADDRESS (the source seen),
//   RESPONSE-ORIGIN (when bound to a concrete address), SOFTWARE and FINGERPRINT.
// - A request with unknown comprehension-required attributes -> 420 listing them;
//   CHANGE-REQUEST asking to change IP/port or RESPONSE-PORT -> 420 too (this server
//   has one address; RFC 5780 section 6.1). A request of another method -> 400.
// - Malformed input: if the first 20 bytes are a valid STUN request header -> 400
//   Bad Request; anything else (not STUN, bad FINGERPRINT, indications, responses)
//   is dropped silently. Everything is counted; no input can throw out of here.
// - No authentication (MESSAGE-INTEGRITY in requests is ignored), no rate limit.
// `directory` may import only `wire` (docs/architecture.md), so startStunServer binds
// with node:dgram through a few lines of glue here unless a `bind` is injected
// (e.g. the datagram layer's bindUdp, from the CLI).
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { DecodeError } from '../wire/errors.ts';
import type { DatagramSocket, UdpAddress } from '../wire/socket.ts';
import { isIpv4 } from '../wire/ipv4-address.ts';
import {
  decodeStun, encodeStun, STUN_HEADER_LEN, STUN_MAGIC_COOKIE, STUN_METHOD_BINDING, StunAttr, verifyStunFingerprint,
  type StunAttributeInput, type StunMessage,
} from '../wire/stun.ts';

export const DEFAULT_STUN_SOFTWARE = 'tincan-stun';

export interface StunServerCounters {
  requests: number;
  successResponses: number;
  errorResponses: number;
  /** Datagrams dropped without an answer (not STUN, bad fingerprint, indications, responses). */
  dropped: number;
  /** Exceptions caught while handling a datagram (should stay 0). */
  internalErrors: number;
}

export class StunServer {
  readonly counters: StunServerCounters = { requests: 0, successResponses: 0, errorResponses: 0, dropped: 0, internalErrors: 0 };
  private readonly software: string;

  constructor(private readonly socket: DatagramSocket, opts: { software?: string } = {}) {
    this.software = opts.software ?? DEFAULT_STUN_SOFTWARE;
    socket.onDatagram((from, bytes) => this.handleDatagram(from, bytes));
  }

  get local(): UdpAddress {
    return this.socket.local;
  }

  /** One datagram in; at most one datagram out to `from`. Never throws. */
  handleDatagram(from: UdpAddress, bytes: Uint8Array): void {
    try {
      const reply = this.answer(from, bytes);
      if (reply) this.socket.send(from, reply);
      else this.counters.dropped++;
    } catch {
      this.counters.internalErrors++;
    }
  }

  private answer(from: UdpAddress, bytes: Uint8Array): Uint8Array | undefined {
    let msg: StunMessage;
    try {
      msg = decodeStun(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      const tid = requestHeaderTransactionId(bytes);
      return tid ? this.error(methodOfHeader(bytes), tid, 400, 'Bad Request') : undefined;
    }
    if (msg.fingerprintOffset !== undefined && !verifyStunFingerprint(bytes, msg)) return undefined;
    if (msg.class !== 'request') return undefined;
    this.counters.requests++;
    if (msg.method !== STUN_METHOD_BINDING) return this.error(msg.method, msg.transactionId, 400, 'Bad Request: unsupported method');
    const unknown = [...msg.unknownRequired];
    if (msg.changeRequest && (msg.changeRequest.changeIp || msg.changeRequest.changePort)) unknown.push(StunAttr.CHANGE_REQUEST);
    if (msg.attributes.some((a) => a.type === StunAttr.RESPONSE_PORT)) unknown.push(StunAttr.RESPONSE_PORT);
    if (unknown.length > 0) {
      return this.error(msg.method, msg.transactionId, 420, 'Unknown Attribute', [{ type: 'unknown-attributes', types: unknown.slice(0, 32) }]);
    }
    const family = isIpv4(from.address) ? 4 : 6;
    const attributes: StunAttributeInput[] = [{ type: 'xor-mapped-address', address: { family, address: from.address, port: from.port } }];
    const local = this.socket.local;
    if (isIpv4(local.address) && local.address !== '0.0.0.0') {
      attributes.push({ type: 'response-origin', address: { family: 4, address: local.address, port: local.port } });
    }
    attributes.push({ type: 'software', value: this.software });
    this.counters.successResponses++;
    return encodeStun({ method: STUN_METHOD_BINDING, class: 'success', transactionId: msg.transactionId, attributes }, { fingerprint: true });
  }

  private error(method: number, tid: Uint8Array, code: number, reason: string, extra: StunAttributeInput[] = []): Uint8Array {
    this.counters.errorResponses++;
    return encodeStun({
      method,
      class: 'error',
      transactionId: tid,
      attributes: [{ type: 'error-code', code, reason }, ...extra, { type: 'software', value: this.software }],
    }, { fingerprint: true });
  }
}

/** Transaction id when bytes start with a well-formed STUN request header (even if the rest is broken). */
function requestHeaderTransactionId(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < STUN_HEADER_LEN || (bytes[0] & 0xc0) !== 0) return undefined;
  const cookie = ((bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7]) >>> 0;
  if (cookie !== STUN_MAGIC_COOKIE) return undefined;
  const isRequest = (bytes[0] & 0x01) === 0 && (bytes[1] & 0x10) === 0;
  return isRequest ? bytes.slice(8, 20) : undefined;
}

/** The method bits of a raw header (used to answer a malformed request in kind). */
function methodOfHeader(bytes: Uint8Array): number {
  const type = (bytes[0] << 8) | bytes[1];
  return (type & 0x000f) | ((type & 0x00e0) >>> 1) | ((type & 0x3e00) >>> 2);
}

export interface StartStunServerOptions {
  /** Default '0.0.0.0'. */
  address?: string;
  /** Default 3478; 0 = any free port. */
  port?: number;
  software?: string;
  /** Socket factory; default: node:dgram udp4. */
  bind?: (opts: { address: string; port: number }) => Promise<DatagramSocket>;
}

export interface RunningStunServer {
  port: number;
  address: string;
  server: StunServer;
  close(): Promise<void>;
}

/** Bind a UDP socket and serve STUN on it. */
export async function startStunServer(opts: StartStunServerOptions = {}): Promise<RunningStunServer> {
  const address = opts.address ?? '0.0.0.0';
  const port = opts.port ?? 3478;
  const socket = await (opts.bind ?? bindDgram)({ address, port });
  const server = new StunServer(socket, { software: opts.software });
  return {
    port: socket.local.port,
    address: socket.local.address,
    server,
    close: async () => {
      socket.close();
      await new Promise<void>((r) => setImmediate(r));
    },
  };
}

/** Minimal node:dgram DatagramSocket for startStunServer (see the header comment). */
async function bindDgram(opts: { address: string; port: number }): Promise<DatagramSocket> {
  const s = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address: opts.address, port: opts.port, exclusive: true }, () => {
      s.off('error', reject);
      resolve();
    });
  });
  s.on('error', () => undefined); // send errors (e.g. ENOBUFS) must not crash the directory
  let closed = false;
  let handler: ((from: UdpAddress, bytes: Uint8Array) => void) | undefined;
  s.on('message', (msg, rinfo) => {
    if (!closed) handler?.({ address: rinfo.address, port: rinfo.port }, new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
  });
  const a = s.address();
  return {
    local: { address: a.address, port: a.port },
    send(to, bytes) {
      if (closed || !isIpv4(to.address) || !(to.port > 0 && to.port < 65536)) return;
      try {
        s.send(Buffer.from(bytes), to.port, to.address);
      } catch {
        // never throws for network conditions
      }
    },
    onDatagram(h) {
      handler = h;
    },
    close() {
      if (closed) return;
      closed = true;
      handler = undefined;
      s.close();
    },
  };
}

/** A random 96-bit transaction id (for clients of this server). */
export function newTransactionId(): Uint8Array {
  return new Uint8Array(randomBytes(12));
}
