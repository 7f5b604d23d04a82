// STUN Binding server (RFC 8489) over DatagramSockets, so peers learn their
// server-reflexive address, optionally with RFC 5780 NAT behaviour discovery.
// Contract:
// - Binding request -> success response with XOR-MAPPED-ADDRESS (the source seen),
//   RESPONSE-ORIGIN (the answering socket, when bound to a concrete address),
//   OTHER-ADDRESS (when an alternate address AND port are served), SOFTWARE, FINGERPRINT.
// - RFC 5780: the server may hold up to four sockets A1:P1 (primary), A1:P2, A2:P1,
//   A2:P2. CHANGE-REQUEST "change IP"/"change port" is answered from the socket that
//   differs from the receiving one in IP and/or port; if that socket is not served
//   -> 420 Unknown Attribute. RESPONSE-PORT sends the response to that port of the
//   request's source IP (XOR-MAPPED-ADDRESS still reports the source port).
// - A request with unknown comprehension-required attributes -> 420 listing them.
//   A request of another method -> 400.
// - Malformed input: if the first 20 bytes are a valid STUN request header -> 400
//   Bad Request; anything else (not STUN, bad FINGERPRINT, indications, responses)
//   is dropped silently. Everything is counted; no input can throw out of here.
// - No authentication (MESSAGE-INTEGRITY in requests is ignored), no rate limit.
// - nudge(to): one Binding INDICATION (no attributes but FINGERPRINT, random
//   transaction id) from the primary socket — a device's NAT lets it in, as it
//   comes from where the device sends its keepalives; the directory sends it to a
//   device that did not acknowledge a rendezvous on its push channel.
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
  /** Binding indications sent by nudge(). */
  nudges?: number;
  successResponses: number;
  errorResponses: number;
  /** Datagrams dropped without an answer (not STUN, bad fingerprint, indications, responses). */
  dropped: number;
  /** Exceptions caught while handling a datagram (should stay 0). */
  internalErrors: number;
}

/** The sockets of one server. Index bits: 2 = alternate IP, 1 = alternate port. */
export interface StunServerSockets {
  /** A1:P1, the advertised STUN address. */
  primary: DatagramSocket;
  /** A1:P2 (answers "change port"). */
  altPort?: DatagramSocket;
  /** A2:P1 (answers "change IP"). */
  altIp?: DatagramSocket;
  /** A2:P2 (answers "change IP and port"; its address is OTHER-ADDRESS of A1:P1). */
  altBoth?: DatagramSocket;
}

export class StunServer {
  readonly counters: StunServerCounters = { requests: 0, successResponses: 0, errorResponses: 0, dropped: 0, internalErrors: 0 };
  private readonly software: string;
  /** [A1:P1, A1:P2, A2:P1, A2:P2]; index = (alternate IP ? 2 : 0) | (alternate port ? 1 : 0). */
  private readonly sockets: (DatagramSocket | undefined)[];

  constructor(sockets: DatagramSocket | StunServerSockets, opts: { software?: string } = {}) {
    this.software = opts.software ?? DEFAULT_STUN_SOFTWARE;
    const set: StunServerSockets = 'primary' in sockets ? sockets : { primary: sockets };
    this.sockets = [set.primary, set.altPort, set.altIp, set.altBoth];
    this.sockets.forEach((socket, index) => socket?.onDatagram((from, bytes) => this.handleDatagramOn(index, from, bytes)));
  }

  get local(): UdpAddress {
    return this.sockets[0]!.local;
  }

  /** True when all four sockets are served (full RFC 5780 behaviour discovery). */
  get supportsBehaviorDiscovery(): boolean {
    return this.sockets.every((s) => s !== undefined);
  }

  /** Sends `to` one Binding indication from the primary socket ("check your push channel"). Never throws. */
  nudge(to: UdpAddress): void {
    try {
      const bytes = encodeStun({ method: STUN_METHOD_BINDING, class: 'indication', transactionId: new Uint8Array(randomBytes(12)), attributes: [] }, { fingerprint: true });
      this.sockets[0]!.send(to, bytes);
      this.counters.nudges = (this.counters.nudges ?? 0) + 1;
    } catch {
      this.counters.internalErrors++;
    }
  }

  /** One datagram in on the primary socket; at most one datagram out to `from`. Never throws. */
  handleDatagram(from: UdpAddress, bytes: Uint8Array): void {
    this.handleDatagramOn(0, from, bytes);
  }

  private handleDatagramOn(index: number, from: UdpAddress, bytes: Uint8Array): void {
    try {
      const reply = this.answer(index, from, bytes);
      if (reply) this.sockets[reply.via]!.send(reply.to ?? from, reply.bytes);
      else this.counters.dropped++;
    } catch {
      this.counters.internalErrors++;
    }
  }

  private answer(index: number, from: UdpAddress, bytes: Uint8Array): { via: number; bytes: Uint8Array; to?: UdpAddress } | undefined {
    let msg: StunMessage;
    try {
      msg = decodeStun(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      const tid = requestHeaderTransactionId(bytes);
      return tid ? { via: index, bytes: this.error(methodOfHeader(bytes), tid, 400, 'Bad Request') } : undefined;
    }
    if (msg.fingerprintOffset !== undefined && !verifyStunFingerprint(bytes, msg)) return undefined;
    if (msg.class !== 'request') return undefined;
    this.counters.requests++;
    const reply = (b: Uint8Array, via = index) => ({ via, bytes: b });
    if (msg.method !== STUN_METHOD_BINDING) return reply(this.error(msg.method, msg.transactionId, 400, 'Bad Request: unsupported method'));
    const unknown = [...msg.unknownRequired];
    const change = msg.changeRequest ? (msg.changeRequest.changeIp ? 2 : 0) | (msg.changeRequest.changePort ? 1 : 0) : 0;
    const via = index ^ change;
    if (this.sockets[via] === undefined) unknown.push(StunAttr.CHANGE_REQUEST);
    if (unknown.length > 0) {
      return reply(this.error(msg.method, msg.transactionId, 420, 'Unknown Attribute', [{ type: 'unknown-attributes', types: unknown.slice(0, 32) }]));
    }
    const family = isIpv4(from.address) ? 4 : 6;
    const attributes: StunAttributeInput[] = [{ type: 'xor-mapped-address', address: { family, address: from.address, port: from.port } }];
    const origin = this.sockets[via]!.local;
    if (concrete(origin)) attributes.push({ type: 'response-origin', address: { family: 4, address: origin.address, port: origin.port } });
    const other = this.sockets[index ^ 3]?.local;
    if (other && concrete(other)) attributes.push({ type: 'other-address', address: { family: 4, address: other.address, port: other.port } });
    attributes.push({ type: 'software', value: this.software });
    this.counters.successResponses++;
    const response = encodeStun({ method: STUN_METHOD_BINDING, class: 'success', transactionId: msg.transactionId, attributes }, { fingerprint: true });
    const to = msg.responsePort !== undefined && msg.responsePort !== 0 ? { address: from.address, port: msg.responsePort } : undefined;
    return { via, bytes: response, to };
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

const concrete = (a: UdpAddress) => isIpv4(a.address) && a.address !== '0.0.0.0';

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
  /**
   * RFC 5780: a second local IPv4 address. When set, four sockets are bound
   * (address:port, address:altPort, alternateAddress:port, alternateAddress:altPort).
   */
  alternateAddress?: string;
  /** The second port for RFC 5780 (default: any free port usable on both addresses). */
  alternatePort?: number;
  software?: string;
  /** Socket factory; default: node:dgram udp4. */
  bind?: (opts: { address: string; port: number }) => Promise<DatagramSocket>;
}

export interface RunningStunServer {
  port: number;
  address: string;
  /** RFC 5780 alternate address and port, when served. */
  other?: UdpAddress;
  server: StunServer;
  close(): Promise<void>;
}

/** Bind the UDP socket(s) and serve STUN on them. */
export async function startStunServer(opts: StartStunServerOptions = {}): Promise<RunningStunServer> {
  const address = opts.address ?? '0.0.0.0';
  const port = opts.port ?? 3478;
  const bind = opts.bind ?? bindDgram;
  const opened: DatagramSocket[] = [];
  const closeAll = async () => {
    for (const s of opened) s.close();
    await new Promise<void>((r) => setImmediate(r));
  };
  try {
    let sockets: StunServerSockets;
    if (opts.alternateAddress === undefined) {
      const primary = await bind({ address, port });
      opened.push(primary);
      sockets = { primary };
    } else {
      const [primary, altIp] = await bindPortOnBoth(bind, address, opts.alternateAddress, port, opened);
      const [altPort, altBoth] = await bindPortOnBoth(bind, address, opts.alternateAddress, opts.alternatePort ?? 0, opened);
      sockets = { primary, altPort, altIp, altBoth };
    }
    const server = new StunServer(sockets, { software: opts.software });
    return {
      port: sockets.primary.local.port,
      address: sockets.primary.local.address,
      other: sockets.altBoth ? { ...sockets.altBoth.local } : undefined,
      server,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** Bind the same port on two addresses; with port 0, retry a few kernel-chosen ports (bounded). */
async function bindPortOnBoth(
  bind: NonNullable<StartStunServerOptions['bind']>, a: string, b: string, port: number, opened: DatagramSocket[],
): Promise<[DatagramSocket, DatagramSocket]> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const first = await bind({ address: a, port });
    opened.push(first);
    try {
      const second = await bind({ address: b, port: first.local.port });
      opened.push(second);
      return [first, second];
    } catch (e) {
      first.close();
      opened.pop();
      if (port !== 0) throw e;
    }
  }
  throw new Error(`startStunServer: could not bind one port on both ${a} and ${b}`);
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
