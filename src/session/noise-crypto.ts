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
import { sodium } from './noise/sodium.ts';
import type { CryptoHandshake, CryptoProvider, HandshakeResult } from '../transport/crypto.ts';
import type { Millis } from '../wire/socket.ts';
import { SessionError } from './errors.ts';
import { frameFirst, parseFirst, prologueFor, type HandshakeKind } from './framing.ts';
import type { DeviceIdentity } from './identity.ts';
import { HandshakeState } from './noise/handshake-state.ts';
import { PATTERNS } from './noise/patterns.ts';
import type { KeyPair } from './noise/primitives.ts';
import { DEFAULT_KEY_UPDATE, newPacketStats, NoisePacketKeys, type KeyUpdateLimits, type PacketStats } from './packet-keys.ts';

export interface NoiseStats extends PacketStats {
  /** X25519 operations performed (GENERATE_KEYPAIR not counted). */
  dh: number;
  handshakesStarted: number;
  handshakesCompleted: number;
  handshakesFailed: number;
}

export interface NoiseCryptoOptions {
  /** Source of ephemeral keys (default: libsodium's CSPRNG). Inject a seeded one in tests. */
  random?: (out: Uint8Array) => Uint8Array;
  /** Called with the peer's static key once it is known; return false to abort the handshake. */
  acceptPeer?: (peerStatic: Uint8Array, kind: HandshakeKind) => boolean;
  /** When send keys ask for a key update (PacketKeys.shouldUpdate). */
  keyUpdate?: Partial<KeyUpdateLimits>;
  /** Counters to add to (default: a fresh object, exposed as `provider.stats`). */
  stats?: NoiseStats;
}

export interface NoiseCryptoProvider extends CryptoProvider {
  /** Counters summed over every handshake and packet of this provider. */
  readonly stats: NoiseStats;
}

export const newNoiseStats = (): NoiseStats => ({ ...newPacketStats(), dh: 0, handshakesStarted: 0, handshakesCompleted: 0, handshakesFailed: 0 });

const systemRandom = (out: Uint8Array): Uint8Array => {
  sodium.randombytes_buf(out);
  return out;
};

interface Ctx {
  s: KeyPair;
  random: (out: Uint8Array) => Uint8Array;
  accept: ((k: Uint8Array, kind: HandshakeKind) => boolean) | undefined;
  limits: KeyUpdateLimits;
  stats: NoiseStats;
}

/** A CryptoProvider running Noise with this device's identity. */
export function noiseCrypto(identity: DeviceIdentity, opts: NoiseCryptoOptions = {}): NoiseCryptoProvider {
  const ctx: Ctx = {
    s: { publicKey: identity.publicKey, secretKey: identity.secretKey },
    random: opts.random ?? systemRandom,
    accept: opts.acceptPeer,
    limits: { ...DEFAULT_KEY_UPDATE, ...opts.keyUpdate },
    stats: opts.stats ?? newNoiseStats(),
  };
  if (ctx.s.secretKey?.length !== 32 || ctx.s.publicKey?.length !== 32) throw new SessionError('bad-key', 'identity needs a 32-byte publicKey and secretKey');
  return {
    stats: ctx.stats,
    client: ({ serverStatic, clientCid }) => new NoiseClient(ctx, serverStatic, prologueFor(clientCid)),
    server: (o = {}) => new NoiseServer(ctx, prologueFor(o.clientCid)),
  };
}

/** Common end of both sides: Split into packet keys, check the peer, count. */
function finish(ctx: Ctx, hs: HandshakeState, send?: Uint8Array): HandshakeResult {
  const peerStatic = hs.remoteStatic()!;
  const { send: cs, recv: cr } = hs.split();
  const keys = {
    send: NoisePacketKeys.create(cs.key()!, 'send', [ctx.stats], ctx.limits),
    recv: NoisePacketKeys.create(cr.key()!, 'recv', [ctx.stats], ctx.limits),
  };
  cs.destroy(); cr.destroy();
  ctx.stats.handshakesCompleted++;
  return send ? { send, keys, peerStatic } : { keys, peerStatic };
}

function checkPeer(ctx: Ctx, hs: HandshakeState, kind: HandshakeKind): void {
  const rs = hs.remoteStatic();
  if (rs && ctx.accept && !ctx.accept(rs.slice(), kind)) throw new SessionError('rejected', 'peer static key not accepted');
}

abstract class NoiseSide implements CryptoHandshake {
  protected done = false;
  protected failed = false;
  constructor(protected readonly ctx: Ctx) {}
  abstract handlePayload(now: Millis, payload: Uint8Array): HandshakeResult;
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
  private readonly hs: HandshakeState;
  private readonly kind: HandshakeKind;
  private started = false;

  constructor(ctx: Ctx, serverStatic: Uint8Array | undefined, prologue: Uint8Array) {
    super(ctx);
    this.kind = serverStatic ? 'IK' : 'XX';
    if (serverStatic && serverStatic.length !== 32) throw new SessionError('bad-key', `serverStatic must be 32 bytes, got ${serverStatic.length}`);
    this.hs = new HandshakeState({ pattern: PATTERNS[this.kind], initiator: true, prologue, s: ctx.s, rs: serverStatic, random: ctx.random, counter: ctx.stats });
  }

  start(_now: Millis): Uint8Array {
    if (this.started) throw new SessionError('state', 'start() called twice');
    this.started = true;
    this.ctx.stats.handshakesStarted++;
    return frameFirst(this.kind, this.hs.writeMessage());
  }

  handlePayload(_now: Millis, payload: Uint8Array): HandshakeResult {
    return this.guard(() => {
      if (!this.started) throw new SessionError('state', 'handshake message before start()');
      this.hs.readMessage(payload);
      checkPeer(this.ctx, this.hs, this.kind);
      const m3 = this.kind === 'XX' ? this.hs.writeMessage() : undefined;
      this.done = true;
      return finish(this.ctx, this.hs, m3);
    });
  }
}

class NoiseServer extends NoiseSide {
  private hs: HandshakeState | undefined;
  private kind: HandshakeKind | undefined;

  constructor(ctx: Ctx, private readonly prologue: Uint8Array) { super(ctx); }

  handlePayload(_now: Millis, payload: Uint8Array): HandshakeResult {
    return this.guard(() => {
      if (!this.hs) {
        const { kind, message } = parseFirst(payload);
        this.kind = kind;
        this.ctx.stats.handshakesStarted++;
        this.hs = new HandshakeState({ pattern: PATTERNS[kind], initiator: false, prologue: this.prologue, s: this.ctx.s, random: this.ctx.random, counter: this.ctx.stats });
        this.hs.readMessage(message);
        checkPeer(this.ctx, this.hs, kind);
        const m2 = this.hs.writeMessage();
        if (kind === 'XX') return { send: m2 };
        this.done = true;
        return finish(this.ctx, this.hs, m2);
      }
      this.hs.readMessage(payload);
      checkPeer(this.ctx, this.hs, this.kind!);
      this.done = true;
      return finish(this.ctx, this.hs);
    });
  }
}
