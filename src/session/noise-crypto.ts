// The transport's CryptoProvider backed by Noise (docs/protocol/session.md):
// client({ serverStatic }) runs Noise_IK_25519_ChaChaPoly_BLAKE2s (2 messages,
// server keys after message 1), client({}) runs Noise_XX_25519_ChaChaPoly_BLAKE2s
// (3 messages); server() accepts both, told apart by message 1's first byte.
// Either way the client has keys after 1 RTT. `peerStatic` is the peer's
// authenticated static key. Packet keys: Split() keys used with the packet
// number as nonce (packet-keys.ts). Sans-IO: ephemeral keys come from `random`.
// The prologue binds the handshake to the connection: prologueFor(clientCid),
// with the client's source connection ID the transport passes to client()
// and server() (both sides must agree, or message 1/2 fails authentication).
// The server's connection ID (server({ serverCid })) travels inside message 2's
// encrypted payload (extension EXT_SERVER_CID); the client compares it with the
// ID the transport adopted from the server's packets (handlePayload ctx).
// IK -> XX fallback (stale cached server key): a server that cannot decrypt an
// IK message 1 answers FALLBACK; the client restarts as XX on the same
// connection (1 extra RTT) with a prologue bound to that IK message 1. XX
// authenticates both statics, and before the client sends its own static
// (XX message 3) the server's new static must equal the expected key or be
// approved by `acceptPeer` (info.fallback) — otherwise 'key-changed'. So a
// forged FALLBACK cannot downgrade authentication (docs/protocol/session.md).
import { sodium } from './noise/sodium.ts';
import type { CryptoHandshake, CryptoProvider, HandshakeContext, HandshakeResult } from '../transport/crypto.ts';
import type { Millis } from '../wire/socket.ts';
import { SessionError } from './errors.ts';
import { decodeExtensions, encodeExtensions, EXT_SERVER_CID, fallbackPrologue, FALLBACK, frameFirst, isFallbackRequest, parseFirst, prologueFor, type HandshakeKind } from './framing.ts';
import { fingerprint } from './identity.ts';
import type { DeviceIdentity } from './identity.ts';
import { HandshakeState } from './noise/handshake-state.ts';
import { PATTERNS } from './noise/patterns.ts';
import type { KeyPair } from './noise/primitives.ts';
import { DEFAULT_KEY_UPDATE, newPacketStats, NoisePacketKeys, type KeyUpdateLimits, type PacketAeadChoice, type PacketStats } from './packet-keys.ts';
import { PACKET_AEAD_BACKEND } from './noise/packet-aead.ts';

export interface PeerInfo {
  /** The handshake is XX after an IK message 1 the server could not decrypt. */
  fallback: boolean;
  /** Client, after a fallback: the static key the IK attempt expected. */
  expected?: Uint8Array;
}

export interface NoiseStats extends PacketStats {
  /** X25519 operations performed (GENERATE_KEYPAIR not counted). */
  dh: number;
  handshakesStarted: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  /** IK -> XX fallbacks (client: FALLBACK received and followed; server: FALLBACK sent). */
  fallbacks: number;
}

export interface NoiseCryptoOptions {
  /** Source of ephemeral keys (default: libsodium's CSPRNG). Inject a seeded one in tests. */
  random?: (out: Uint8Array) => Uint8Array;
  /**
   * Called with the peer's static key once it is known; return false to abort
   * the handshake. `info.fallback`: the handshake is XX after a refused IK
   * message 1; on the client `info.expected` is the (stale) key IK was started
   * with. Without this callback a client accepts a fallback only when the
   * server proves the expected key.
   */
  acceptPeer?: (peerStatic: Uint8Array, kind: HandshakeKind, info: PeerInfo) => boolean;
  /** When send keys ask for a key update (PacketKeys.shouldUpdate). */
  keyUpdate?: Partial<KeyUpdateLimits>;
  /** Counters to add to (default: a fresh object, exposed as `provider.stats`). */
  stats?: NoiseStats;
  /**
   * Packet AEAD implementation (same bytes on the wire either way): 'auto'
   * (default) = the OpenSSL addon when built and self-checked, else libsodium;
   * 'libsodium' forces libsodium (benchmarks compare both in one run).
   */
  packetAead?: PacketAeadChoice;
}

export interface NoiseCryptoProvider extends CryptoProvider {
  /** Counters summed over every handshake and packet of this provider. */
  readonly stats: NoiseStats;
  /** The packet AEAD implementation this provider's connections use. */
  readonly packetAead: 'openssl' | 'libsodium';
}

export const newNoiseStats = (): NoiseStats => ({ ...newPacketStats(), dh: 0, handshakesStarted: 0, handshakesCompleted: 0, handshakesFailed: 0, fallbacks: 0 });

const systemRandom = (out: Uint8Array): Uint8Array => {
  sodium.randombytes_buf(out);
  return out;
};

interface Ctx {
  s: KeyPair;
  random: (out: Uint8Array) => Uint8Array;
  accept: NoiseCryptoOptions['acceptPeer'];
  limits: KeyUpdateLimits;
  stats: NoiseStats;
  aead: PacketAeadChoice;
}

/** A CryptoProvider running Noise with this device's identity. */
export function noiseCrypto(identity: DeviceIdentity, opts: NoiseCryptoOptions = {}): NoiseCryptoProvider {
  const ctx: Ctx = {
    s: { publicKey: identity.publicKey, secretKey: identity.secretKey },
    random: opts.random ?? systemRandom,
    accept: opts.acceptPeer,
    limits: { ...DEFAULT_KEY_UPDATE, ...opts.keyUpdate },
    stats: opts.stats ?? newNoiseStats(),
    aead: opts.packetAead ?? 'auto',
  };
  if (ctx.s.secretKey?.length !== 32 || ctx.s.publicKey?.length !== 32) throw new SessionError('bad-key', 'identity needs a 32-byte publicKey and secretKey');
  return {
    stats: ctx.stats,
    packetAead: ctx.aead === 'libsodium' ? 'libsodium' : PACKET_AEAD_BACKEND,
    client: ({ serverStatic, clientCid }) => new NoiseClient(ctx, serverStatic, prologueFor(clientCid)),
    server: (o = {}) => new NoiseServer(ctx, prologueFor(o.clientCid), o.serverCid ? encodeExtensions([[EXT_SERVER_CID, o.serverCid]]) : new Uint8Array(0)),
  };
}

/** Common end of both sides: Split into packet keys, check the peer, count. */
function finish(ctx: Ctx, hs: HandshakeState, send?: Uint8Array): HandshakeResult {
  const peerStatic = hs.remoteStatic()!;
  const { send: cs, recv: cr } = hs.split();
  const keys = {
    send: NoisePacketKeys.create(cs.key()!, 'send', [ctx.stats], ctx.limits, ctx.aead),
    recv: NoisePacketKeys.create(cr.key()!, 'recv', [ctx.stats], ctx.limits, ctx.aead),
  };
  cs.destroy(); cr.destroy();
  ctx.stats.handshakesCompleted++;
  return send ? { send, keys, peerStatic } : { keys, peerStatic };
}

function checkPeer(ctx: Ctx, hs: HandshakeState, kind: HandshakeKind, info: PeerInfo = { fallback: false }): void {
  const rs = hs.remoteStatic();
  if (!rs) return;
  if (ctx.accept) {
    if (!ctx.accept(rs.slice(), kind, info)) throw new SessionError('rejected', 'peer static key not accepted');
    return;
  }
  if (info.expected && !equalBytes(rs, info.expected)) {
    throw new SessionError('key-changed', `IK fell back to XX and the server proved another static key (fingerprint ${fingerprint(rs)}), not the expected one; nothing approved it (acceptPeer)`);
  }
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && sodium.sodium_memcmp(a, b);

/** Client, message 2: the server CID it authenticated must be the one its packets carry (when the transport says which). */
function checkServerCid(payload: Uint8Array, adopted: Uint8Array | undefined): void {
  const claimed = decodeExtensions(payload).get(EXT_SERVER_CID);
  if (!adopted) return;
  if (!claimed) throw new SessionError('connection-id', 'the server did not authenticate its connection ID');
  if (!equalBytes(claimed, adopted)) throw new SessionError('connection-id', 'the server authenticated another connection ID than the one its packets carry');
}

abstract class NoiseSide implements CryptoHandshake {
  protected done = false;
  protected failed = false;
  constructor(protected readonly ctx: Ctx) {}
  abstract handlePayload(now: Millis, payload: Uint8Array, hctx?: HandshakeContext): HandshakeResult;
  /** Runs one step; a failure is counted once and rethrown (the transport closes with CRYPTO_ERROR). */
  protected guard(step: () => HandshakeResult): HandshakeResult {
    if (this.failed) throw new SessionError('state', 'handshake already failed');
    if (this.done) throw new SessionError('state', 'unexpected handshake message after completion');
    try { return step(); } catch (e) {
      this.failed = true;
      this.ctx.stats.handshakesFailed++;
      throw e;
    }
  }
}

class NoiseClient extends NoiseSide {
  private hs: HandshakeState;
  private kind: HandshakeKind;
  private started = false;
  /** IK only, until answered: message 1 as sent (the fallback prologue binds it). */
  private ikMessage1: Uint8Array | undefined;
  /** Set once the server asked for the fallback: the key IK expected. */
  private expected: Uint8Array | undefined;

  constructor(ctx: Ctx, private readonly serverStatic: Uint8Array | undefined, private readonly prologue: Uint8Array) {
    super(ctx);
    this.kind = serverStatic ? 'IK' : 'XX';
    if (serverStatic && serverStatic.length !== 32) throw new SessionError('bad-key', `serverStatic must be 32 bytes, got ${serverStatic.length}`);
    this.hs = new HandshakeState({ pattern: PATTERNS[this.kind], initiator: true, prologue, s: ctx.s, rs: serverStatic, random: ctx.random, counter: ctx.stats });
  }

  start(_now: Millis): Uint8Array {
    if (this.started) throw new SessionError('state', 'start() called twice');
    this.started = true;
    this.ctx.stats.handshakesStarted++;
    const m1 = frameFirst(this.kind, this.hs.writeMessage());
    if (this.kind === 'IK') this.ikMessage1 = m1;
    return m1;
  }

  handlePayload(_now: Millis, payload: Uint8Array, hctx?: HandshakeContext): HandshakeResult {
    return this.guard(() => {
      if (!this.started) throw new SessionError('state', 'handshake message before start()');
      if (this.ikMessage1 && isFallbackRequest(payload)) return this.fallBack(this.ikMessage1);
      this.ikMessage1 = undefined;
      checkServerCid(this.hs.readMessage(payload), hctx?.serverCid);
      const info: PeerInfo = this.expected ? { fallback: true, expected: this.expected.slice() } : { fallback: false };
      checkPeer(this.ctx, this.hs, this.kind, info); // before message 3: our static goes only to an accepted server
      const m3 = this.kind === 'XX' ? this.hs.writeMessage() : undefined;
      this.done = true;
      return finish(this.ctx, this.hs, m3);
    });
  }

  /** The server could not decrypt our IK message 1: start XX, bound to that message. Once. */
  private fallBack(ikMessage1: Uint8Array): HandshakeResult {
    this.ikMessage1 = undefined;
    this.expected = this.serverStatic;
    this.kind = 'XX';
    this.hs = new HandshakeState({ pattern: PATTERNS.XX, initiator: true, prologue: fallbackPrologue(this.prologue, ikMessage1), s: this.ctx.s, random: this.ctx.random, counter: this.ctx.stats });
    this.ctx.stats.fallbacks++;
    return { send: frameFirst('XX-fallback', this.hs.writeMessage()) };
  }
}

class NoiseServer extends NoiseSide {
  private hs: HandshakeState | undefined;
  private kind: HandshakeKind | undefined;
  /** After sending FALLBACK: the refused IK message 1 (framed), which the XX prologue binds. */
  private refusedIk: Uint8Array | undefined;
  private fallback = false;

  /** @param m2Payload message 2's payload: the server CID extension (or empty). */
  constructor(ctx: Ctx, private readonly prologue: Uint8Array, private readonly m2Payload: Uint8Array) { super(ctx); }

  handlePayload(_now: Millis, payload: Uint8Array): HandshakeResult {
    return this.guard(() => {
      if (!this.hs) {
        const { kind, message } = parseFirst(payload);
        let prologue = this.prologue;
        if (this.refusedIk) {
          if (kind !== 'XX-fallback') throw new SessionError('framing', `expected the XX fallback message 1 after FALLBACK, got ${kind}`);
          prologue = fallbackPrologue(this.prologue, this.refusedIk);
          this.refusedIk = undefined;
          this.fallback = true;
        } else {
          if (kind === 'XX-fallback') throw new SessionError('framing', 'XX fallback message 1 without a refused IK message 1 (FALLBACK was not sent)');
          this.ctx.stats.handshakesStarted++;
        }
        const pattern = kind === 'IK' ? 'IK' : 'XX';
        this.kind = pattern;
        this.hs = new HandshakeState({ pattern: PATTERNS[pattern], initiator: false, prologue, s: this.ctx.s, random: this.ctx.random, counter: this.ctx.stats });
        try {
          this.hs.readMessage(message);
        } catch (e) {
          // IK message 1 we cannot decrypt: most likely encrypted to a static key we no longer have
          if (kind !== 'IK' || !(e instanceof SessionError) || e.code !== 'decrypt') throw e;
          this.hs = undefined;
          this.refusedIk = payload.slice();
          this.ctx.stats.fallbacks++;
          return { send: FALLBACK };
        }
        checkPeer(this.ctx, this.hs, pattern, { fallback: this.fallback });
        const m2 = this.hs.writeMessage(this.m2Payload);
        if (pattern === 'XX') return { send: m2 };
        this.done = true;
        return finish(this.ctx, this.hs, m2);
      }
      this.hs.readMessage(payload);
      checkPeer(this.ctx, this.hs, this.kind!, { fallback: this.fallback });
      this.done = true;
      return finish(this.ctx, this.hs);
    });
  }
}
