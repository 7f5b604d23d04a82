// 1-RTT packet protection (docs/protocol/session.md §Packet protection):
// ChaCha20-Poly1305 IETF (libsodium) with the Noise nonce encoding of the
// packet number (4 zero bytes || pn as little-endian u64) and the packet's
// short header as associated data. Receive keys reject packet numbers outside
// the anti-replay window or already seen (checked before, recorded after
// authentication) and count every drop. `next()` is Noise REKEY of the key,
// memoized, sharing the direction's replay window and counters, so the
// transport's key update does not interrupt anything. `shouldUpdate(now)`
// says when the send keys reached their packet-count or age limit.
// Hot path: `sealInto` seals in place in the transport's packet buffer and
// `openInPlaceLength` / `openInPlace` open in place in the received datagram
// (no allocation; openInPlace adds the returned view); `seal`/`open` allocate
// only their output; one native AEAD call per packet (noise/packet-aead.ts:
// OpenSSL through our addon when built, else libsodium; same bytes), the nonce
// built from pn natively. Per packet no loop, no allocation and no `.buffer`
// read (~30 ns each in V8): sealInto remembers the last (plaintext, out,
// offset) it validated as in place (the transport passes the same views for
// every full packet), counters go to one stats object when there is one, and
// the update limits are read from fields.
// Old generations are wiped (sodium_memzero) as soon as the transport can no
// longer use them: send keys of generation g when g+1 seals its first packet
// (the transport never goes back), receive keys of generation g when g+2
// opens its first packet (the transport keeps only the previous generation
// for in-flight packets). Wiped keys refuse to seal (throw) or open (drop,
// counted as too old); `destroy()` (the transport, once the connection is
// closed) wipes a generation and everything derived from it.
import { packetAead, sodiumPacketAead, type KeyedPacketAead } from './noise/packet-aead.ts';
import type { PacketKeys } from '../transport/crypto.ts';
import type { Millis } from '../wire/socket.ts';
import { KEYLEN, rekey, TAGLEN, wipe } from './noise/primitives.ts';
import { REPLAY_WINDOW, ReplayWindow } from './replay-window.ts';
import { SessionError } from './errors.ts';

export interface PacketStats {
  /** Packets sealed (send keys). */
  sealed: number;
  /** Packets opened and delivered (receive keys). */
  opened: number;
  /** Dropped: authentication failed (tampered, forged, or wrong key generation). */
  authFailures: number;
  /** Dropped: packet number already received (replay / duplicate). */
  replays: number;
  /** Dropped: packet number behind the replay window. */
  tooOld: number;
  /** Key generations derived with next() in this direction. */
  keyUpdates: number;
}

export const newPacketStats = (): PacketStats => ({ sealed: 0, opened: 0, authFailures: 0, replays: 0, tooOld: 0, keyUpdates: 0 });

export interface KeyUpdateLimits {
  /** Update after this many packets sealed with one generation (default 2^20). */
  packets: number;
  /** Update after one generation has been in use this long (default 10 min). */
  ageMs: Millis;
}

export const DEFAULT_KEY_UPDATE: KeyUpdateLimits = { packets: 1 << 20, ageMs: 10 * 60_000 };

/** Which packet AEAD implementation to use: 'auto' = the OpenSSL addon when it is in use, else libsodium (noise/packet-aead.ts). */
export type PacketAeadChoice = 'auto' | 'libsodium';

interface Shared {
  readonly window: ReplayWindow | undefined;
  readonly stats: PacketStats[];
  readonly limits: KeyUpdateLimits;
  readonly aead: PacketAeadChoice;
}

export class NoisePacketKeys implements PacketKeys {
  readonly overhead = TAGLEN;
  /** The key itself, kept for next() (REKEY); the AEAD holds its own copy / key schedule. */
  private readonly key: Buffer;
  private readonly aead: KeyedPacketAead;
  private successor: NoisePacketKeys | undefined;
  private sealedHere = 0;
  private openedHere = 0;
  private firstUse: Millis | undefined;
  /** The generation before this one, until it is wiped. */
  private prev: NoisePacketKeys | undefined;
  private destroyed = false;
  /** The direction's replay window (receive keys), shared by its generations. */
  private readonly window: ReplayWindow | undefined;
  /** The only stats object, when there is exactly one (no loop per packet); else undefined and `shared.stats` is walked. */
  private readonly oneStats: PacketStats | undefined;
  private readonly packetLimit: number;
  private readonly ageLimit: Millis;
  /** The last sealInto arguments validated as sealing in place (same objects and offset: same checks, skipped). */
  private inPlacePlain: Uint8Array | undefined;
  private inPlaceOut: Uint8Array | undefined;
  private inPlaceOffset = -1;

  private constructor(key: Uint8Array, readonly direction: 'send' | 'recv', readonly generation: number, private readonly shared: Shared) {
    this.key = Buffer.from(key);
    this.aead = shared.aead === 'libsodium' ? sodiumPacketAead(key) : packetAead(key, direction === 'send');
    this.window = shared.window;
    this.oneStats = shared.stats.length === 1 ? shared.stats[0] : undefined;
    this.packetLimit = shared.limits.packets;
    this.ageLimit = shared.limits.ageMs;
  }

  /** Keys for one direction from a 32-byte Split() key; `stats` objects are all incremented. */
  static create(key: Uint8Array, direction: 'send' | 'recv', stats: PacketStats[], limits: KeyUpdateLimits = DEFAULT_KEY_UPDATE, aead: PacketAeadChoice = 'auto'): NoisePacketKeys {
    if (key.length !== KEYLEN) throw new RangeError(`packet key must be ${KEYLEN} bytes`);
    return new NoisePacketKeys(key, direction, 0, { window: direction === 'recv' ? new ReplayWindow() : undefined, stats: stats.slice(), limits, aead });
  }

  /** The AEAD implementation sealing/opening this generation's packets. */
  get aeadBackend(): 'openssl' | 'libsodium' { return this.aead.backend; }

  get stats(): PacketStats { return this.shared.stats[0]; }

  seal(pn: number, header: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = Buffer.allocUnsafe(plaintext.length + TAGLEN);
    this.beforeSeal();
    this.aead.seal(out, plaintext, header, pn);
    this.afterSeal();
    return new Uint8Array(out.buffer, out.byteOffset, out.length); // a plain view: Buffer#slice would not copy
  }

  /**
   * Seal into `out` at `outOffset`: in place when `plaintext` is exactly that
   * range (libsodium allows c == m), else into bytes that must not overlap it.
   */
  sealInto(pn: number, header: Uint8Array, plaintext: Uint8Array, out: Uint8Array, outOffset: number): number {
    const len = plaintext.length + TAGLEN;
    // a view's length, offset and buffer never change: arguments validated once stay valid
    if (plaintext === this.inPlacePlain && out === this.inPlaceOut && outOffset === this.inPlaceOffset) {
      this.beforeSeal();
      this.aead.sealInPlace(out, outOffset, len - TAGLEN, header, pn);
      this.afterSeal();
      return len;
    }
    if (!(outOffset >= 0) || outOffset + len > out.length) throw new RangeError('sealInto: output buffer too small');
    const at = out.byteOffset + outOffset;
    const sameBuffer = plaintext.buffer === out.buffer;
    if (sameBuffer && plaintext.byteOffset !== at
      && plaintext.byteOffset < at + len && at < plaintext.byteOffset + plaintext.length) throw new RangeError('sealInto: plaintext partly overlaps the output');
    this.beforeSeal();
    if (sameBuffer && plaintext.byteOffset === at) {
      this.aead.sealInPlace(out, outOffset, plaintext.length, header, pn);
      this.inPlacePlain = plaintext; this.inPlaceOut = out; this.inPlaceOffset = outOffset;
    } else this.aead.seal(out.subarray(outOffset, outOffset + len), plaintext, header, pn);
    this.afterSeal();
    return len;
  }

  private beforeSeal(): void {
    if (this.sealedHere === 0 || this.destroyed) this.firstSeal();
  }

  private afterSeal(): void {
    this.sealedHere++;
    const one = this.oneStats;
    if (one !== undefined) { one.sealed++; return; }
    const st = this.shared.stats;
    for (let i = 0; i < st.length; i++) st[i].sealed++;
  }

  /** First packet of this generation: the previous send generation is dead. */
  private firstSeal(): void {
    if (this.destroyed) throw new SessionError('state', `send keys of generation ${this.generation} were wiped (superseded or destroyed)`);
    if (this.prev) { this.prev.wipeKey(); this.prev = undefined; }
  }

  open(pn: number, header: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.length < TAGLEN) return this.refuse(pn);
    const w = this.shared.window;
    if (this.destroyed || (w && !w.check(pn))) return this.refuse(pn);
    const out = Buffer.allocUnsafe(sealed.length - TAGLEN);
    if (!this.aead.open(out, sealed, header, pn)) return this.refuse(pn, true);
    this.accepted(pn);
    return new Uint8Array(out.buffer, out.byteOffset, out.length); // a plain view: Buffer#slice would not copy
  }

  /**
   * Like `open`, but decrypts in place: the plaintext is returned as a view of
   * `sealed`'s first bytes. `sealed` is overwritten either way (libsodium
   * zeroes the output when authentication fails), so only a caller that owns
   * the received bytes and keeps no other use for them may call it.
   */
  openInPlace(pn: number, header: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    const n = this.openInPlaceLength(pn, header, sealed);
    return n < 0 ? undefined : sealed.subarray(0, n);
  }

  /**
   * `openInPlace` without the view: the plaintext length (the plaintext is
   * `sealed`'s first bytes), or -1 when the packet is refused (counted as by
   * open). Same overwrite rule as openInPlace.
   */
  openInPlaceLength(pn: number, header: Uint8Array, sealed: Uint8Array): number {
    const w = this.window;
    if (sealed.length < TAGLEN || this.destroyed || (w !== undefined && !w.check(pn))) { this.refuse(pn); return -1; }
    if (!this.aead.openInPlace(sealed, header, pn)) { this.refuse(pn, true); return -1; }
    this.accepted(pn);
    return sealed.length - TAGLEN;
  }

  /** Authenticated: record in the replay window and count. */
  private accepted(pn: number): void {
    this.window?.commit(pn);
    if (this.openedHere++ === 0) this.firstOpen();
    const one = this.oneStats;
    if (one !== undefined) { one.opened++; return; }
    const st = this.shared.stats;
    for (let i = 0; i < st.length; i++) st[i].opened++;
  }

  /** Count a dropped packet: too old (also: wiped generation), replayed, or failed authentication. */
  private refuse(pn: number, authFailed = false): undefined {
    const w = this.shared.window;
    const kind: keyof PacketStats = authFailed || !w ? 'authFailures'
      : this.destroyed || pn <= w.top - REPLAY_WINDOW || !Number.isSafeInteger(pn) || pn < 0 ? 'tooOld'
        : w.check(pn) ? 'authFailures' : 'replays';
    for (const s of this.shared.stats) s[kind]++;
    return undefined;
  }

  /** First packet opened with this generation: the transport has rotated past generation - 1, so generation - 2 is dead. */
  private firstOpen(): void {
    const p = this.prev;
    if (p?.prev) { p.prev.wipeKey(); p.prev = undefined; }
  }

  /** The next key generation (Noise REKEY); the same object on every call. */
  next(): NoisePacketKeys {
    if (!this.successor) {
      if (this.destroyed) throw new SessionError('state', `keys of generation ${this.generation} were wiped: no next generation`);
      const k = rekey(this.key);
      this.successor = new NoisePacketKeys(k, this.direction, this.generation + 1, this.shared);
      this.successor.prev = this;
      wipe(k);
      for (const s of this.shared.stats) s.keyUpdates++;
    }
    return this.successor;
  }

  /** Send keys: true once this generation sealed `limits.packets` packets or is `limits.ageMs` old. */
  shouldUpdate(now: Millis): boolean {
    const first = this.firstUse;
    if (first === undefined) { this.firstUse = now; return this.sealedHere >= this.packetLimit || this.ageLimit <= 0; }
    return this.sealedHere >= this.packetLimit || now - first >= this.ageLimit;
  }

  /** True once this generation's key was wiped. */
  get wiped(): boolean { return this.destroyed; }

  /**
   * Connection end (the transport calls it once closed): wipe this generation
   * and every generation derived from it (a speculative next() included);
   * later seals throw, opens drop. Idempotent.
   */
  destroy(): void {
    this.wipeKey();
    this.successor?.destroy();
  }

  /** Wipe this generation only (sodium_memzero); its successors stay live. */
  private wipeKey(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.aead.destroy();
    wipe(this.key);
    this.prev = undefined;
  }
}
