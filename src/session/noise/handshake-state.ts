// Noise HandshakeState (rev 34 §5.3) as a sans-IO state machine: bytes in,
// bytes out. `writeMessage(payload)` returns the next message to send;
// `readMessage(message)` returns the peer's payload. After the last message
// `isComplete()` holds and `split()` hands out the transport CipherStates.
// Ephemeral keys come from the injected `random` (so test vectors are
// reproducible). Any malformed input throws a SessionError and leaves the
// state failed: a handshake is never resumed after an error.
import { SessionError } from '../errors.ts';
import type { CipherState } from './cipher-state.ts';
import type { HandshakePattern, Token } from './patterns.ts';
import { protocolName } from './patterns.ts';
import { dh, DHLEN, keyPairFrom, TAGLEN, wipe, type DhCounter, type KeyPair } from './primitives.ts';
import { SymmetricState } from './symmetric-state.ts';

/** Noise's maximum message length (§3). */
export const MAX_MESSAGE_LEN = 65535;

export interface HandshakeOptions {
  pattern: HandshakePattern;
  initiator: boolean;
  prologue?: Uint8Array;
  /** Our static key pair (patterns with an 's' on our side). */
  s?: KeyPair;
  /** The peer's static public key when known beforehand (IK/NK/KK/XK initiators, K*-responders). */
  rs?: Uint8Array;
  /** Fills `out` with random bytes: the source of ephemeral keys. */
  random: (out: Uint8Array) => Uint8Array;
  /** Counts DH operations, if given. */
  counter?: DhCounter;
}

export class HandshakeState {
  readonly initiator: boolean;
  readonly protocolName: string;
  private readonly pattern: HandshakePattern;
  private readonly ss: SymmetricState;
  private readonly s: KeyPair | undefined;
  private e: KeyPair | undefined;
  private rs: Uint8Array | undefined;
  private re: Uint8Array | undefined;
  private readonly random: (out: Uint8Array) => Uint8Array;
  private readonly counter: DhCounter | undefined;
  private index = 0;
  private failed = false;
  private splitDone = false;

  constructor(o: HandshakeOptions) {
    this.pattern = o.pattern;
    this.initiator = o.initiator;
    this.protocolName = protocolName(o.pattern);
    this.ss = new SymmetricState(this.protocolName);
    this.s = o.s;
    this.rs = o.rs ? Uint8Array.from(o.rs) : undefined;
    this.random = o.random;
    this.counter = o.counter;
    this.ss.mixHash(o.prologue ?? new Uint8Array(0));
    const mine = o.initiator ? o.pattern.initiatorPre : o.pattern.responderPre;
    const theirs = o.initiator ? o.pattern.responderPre : o.pattern.initiatorPre;
    if (mine.includes('s') && !o.s) throw new SessionError('state', `${this.protocolName}: our static key is required`);
    if (theirs.includes('s') && !this.rs) throw new SessionError('state', `${this.protocolName}: the peer's static key is required`);
    if (this.rs && this.rs.length !== DHLEN) throw new SessionError('bad-key', `peer static key must be ${DHLEN} bytes, got ${this.rs.length}`);
    // pre-messages: the initiator's first, then the responder's
    for (const [who, keys] of [['i', o.pattern.initiatorPre], ['r', o.pattern.responderPre]] as const) {
      for (const k of keys) {
        if (k !== 's') throw new SessionError('pattern', `pre-message '${k}' is not supported`);
        const ours = (who === 'i') === o.initiator;
        this.ss.mixHash(ours ? o.s!.publicKey : this.rs!);
      }
    }
    const needS = o.pattern.messages.some((m, i) => (i % 2 === 0) === o.initiator && m.includes('s'));
    if (needS && !o.s) throw new SessionError('state', `${this.protocolName}: our static key is required`);
  }

  /** True when it is our turn to write. */
  get myTurn(): boolean { return !this.isComplete() && (this.index % 2 === 0) === this.initiator; }
  isComplete(): boolean { return this.index >= this.pattern.messages.length; }
  /** Messages processed so far (written or read). */
  get messageIndex(): number { return this.index; }
  handshakeHash(): Uint8Array { return this.ss.handshakeHash(); }
  remoteStatic(): Uint8Array | undefined { return this.rs?.slice(); }

  writeMessage(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    this.check(true);
    const parts: Uint8Array[] = [];
    try {
      for (const t of this.pattern.messages[this.index]) {
        if (t === 'e') {
          const seed = this.random(new Uint8Array(DHLEN));
          this.e = keyPairFrom(seed);
          wipe(seed);
          parts.push(this.e.publicKey);
          this.ss.mixHash(this.e.publicKey);
        } else if (t === 's') {
          parts.push(this.ss.encryptAndHash(this.s!.publicKey));
        } else this.mixDh(t);
      }
      parts.push(this.ss.encryptAndHash(payload));
    } catch (e) { this.failed = true; throw e; }
    this.index++;
    let n = 0;
    for (const x of parts) n += x.length;
    if (n > MAX_MESSAGE_LEN) { this.failed = true; throw new SessionError('too-long', `handshake message of ${n} bytes exceeds ${MAX_MESSAGE_LEN}`); }
    const out = new Uint8Array(n);
    let o = 0;
    for (const x of parts) { out.set(x, o); o += x.length; }
    return out;
  }

  readMessage(message: Uint8Array): Uint8Array {
    this.check(false);
    if (message.length > MAX_MESSAGE_LEN) { this.failed = true; throw new SessionError('too-long', `handshake message of ${message.length} bytes exceeds ${MAX_MESSAGE_LEN}`); }
    let off = 0;
    const take = (n: number, what: string): Uint8Array => {
      if (message.length - off < n) throw new SessionError('truncated', `handshake message ${this.index + 1} of ${this.protocolName} truncated: ${what} needs ${n} bytes, ${message.length - off} left`);
      const b = message.subarray(off, off + n);
      off += n;
      return b;
    };
    let payload: Uint8Array;
    try {
      for (const t of this.pattern.messages[this.index]) {
        if (t === 'e') {
          this.re = take(DHLEN, "ephemeral key 'e'").slice();
          this.ss.mixHash(this.re);
        } else if (t === 's') {
          const ct = take(DHLEN + (this.ss.cipher.hasKey() ? TAGLEN : 0), "static key 's'");
          this.rs = this.ss.decryptAndHash(ct).slice();
        } else this.mixDh(t);
      }
      const rest = message.subarray(off);
      if (this.ss.cipher.hasKey() && rest.length < TAGLEN) take(TAGLEN, 'payload tag');
      payload = this.ss.decryptAndHash(rest).slice();
    } catch (e) { this.failed = true; throw e; }
    this.index++;
    return payload;
  }

  /** After the last message: [send, recv] CipherStates for this side. Once only. */
  split(): { send: CipherState; recv: CipherState } {
    if (!this.isComplete() || this.failed) throw new SessionError('state', 'split() before the handshake completed');
    if (this.splitDone) throw new SessionError('state', 'split() called twice');
    this.splitDone = true;
    const [c1, c2] = this.ss.split();
    wipe(this.e?.secretKey);
    return this.initiator ? { send: c1, recv: c2 } : { send: c2, recv: c1 };
  }

  private check(writing: boolean): void {
    if (this.failed) throw new SessionError('state', `${this.protocolName}: handshake already failed`);
    if (this.isComplete()) throw new SessionError('state', `${this.protocolName}: handshake already complete, no message ${this.index + 1}`);
    if (this.myTurn !== writing) throw new SessionError('state', `${this.protocolName}: message ${this.index + 1} is the ${writing ? "peer's to write" : 'ours to write'}`);
  }

  private mixDh(t: Exclude<Token, 'e' | 's'>): void {
    // es = DH(initiator e, responder s), se = DH(initiator s, responder e)
    const local = (which: 'e' | 's'): KeyPair => {
      const k = which === 'e' ? this.e : this.s;
      if (!k) throw new SessionError('state', `${this.protocolName}: token '${t}' needs our ${which}`);
      return k;
    };
    const remote = (which: 'e' | 's'): Uint8Array => {
      const k = which === 'e' ? this.re : this.rs;
      if (!k) throw new SessionError('state', `${this.protocolName}: token '${t}' needs the peer's ${which}`);
      return k;
    };
    const [a, b] = t.split('') as ['e' | 's', 'e' | 's'];
    // a belongs to the initiator, b to the responder
    const mineIdx = this.initiator ? a : b;
    const theirsIdx = this.initiator ? b : a;
    const shared = dh(local(mineIdx).secretKey, remote(theirsIdx), this.counter);
    this.ss.mixKey(shared);
    wipe(shared);
  }
}
