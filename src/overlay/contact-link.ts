// One contact device, from a directory rendezvous to a live ContactSession (I/O glue).
//
// Contract: `new ContactLink(deps, rendezvous, receivedAt)` assembles, on the peer's
// shared socket (OverlayMux):
//   - a RelayClient on the common supernode with the rendezvous' ticket (both sides
//     pick the same one: the controlling device's supernode, else the other's), the
//     ticket renewed at the directory before it expires or when the relay says so;
//   - a CheckAgent + PeerLink: ICE-style checks from the coordinated start time over
//     host/srflx pairs (none with forceRelay) and the relay pair;
//   - the transport (TransportEndpoint on link.transportSocket): the controlling device
//     connects as the client once a path is selected (IK with the contact's directory
//     key), the other accepts. Path switches happen underneath; streams do not notice.
// `ready` resolves with the ContactSession once the transport is connected and the
// contact's static key (when the crypto reports one) equals the directory's key for
// that device; it rejects with a PeerError: 'connect-failed' (no path, timeout, relay
// refused, handshake failed), 'key-changed' (handshake key differs), 'refused' (the
// contact answered our checks with a refusal, check-wire.ts), 'closed'.
// Keys are checked inside the handshake (key-check.ts): the accepting side refuses a
// client whose proven static key is not the directory's for that device before the
// transport gets keys, and the caller's connect() rejects with a KeyMismatchError
// ('refused') naming both fingerprints; the accepting side reports it as 'key-changed'
// (onKeyMismatch). No session object exists on either side, no application data flows.
// With `refuse`, the link is the refusing end: it answers the contact's checks with the
// refusal and closes itself after connectTimeoutMs.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Candidate as DirCandidate, Rendezvous } from '../directory/client.ts';
import type { Clock, TimerHandle, UdpAddress } from '../wire/socket.ts';
import { formatAddress } from '../wire/socket.ts';
import type { CryptoProvider } from '../transport/crypto.ts';
import type { Random } from '../transport/random.ts';
import { TransportEndpoint, type TransportConnection } from '../transport/api.ts';
import { SessionError } from '../session/errors.ts';
import { fingerprint, type NoiseCryptoOptions } from '../session/index.ts';
import { KeyMismatchError, keyCheckedCrypto, keyMismatchFromReason } from './key-check.ts';
import { candidate, candidateKey, type Candidate } from './candidates.ts';
import { CheckAgent, type CheckEvent } from './checks.ts';
import { PeerLink } from './peer-link.ts';
import { RelayClient, randomRequestIds, type RelayClientEvent } from './relay-client.ts';
import type { OverlayMux } from './overlay-mux.ts';
import { fromDirectoryCandidates, iceCredentialsFor, isControlling, localStartAt } from './directory-adapter.ts';
import { RelayErrorCode } from './relay-wire.ts';
import { PeerError, type ContactSession, type PathInfo } from './peer-api.ts';

export interface ContactLinkDeps {
  readonly mux: OverlayMux;
  readonly clock: Clock;
  readonly crypto: CryptoProvider;
  /**
   * The device identity's provider with per-link options (peer-identity.ts cryptoWith):
   * used instead of `crypto` so that a contact proving another key after an IK -> XX
   * fallback is reported with its fingerprint. Absent (tests with another crypto): `crypto`.
   */
  readonly cryptoWith?: (opts: NoiseCryptoOptions) => CryptoProvider;
  /**
   * The selected path died (or every path did): the peer re-checks its own NAT mapping at
   * once (it may have changed networks) so that contacts learn a new address from presence
   * and re-punch, instead of at the next keepalive (every 5 s).
   */
  readonly onPathLost?: () => void;
  /** The accepting side refused the contact's handshake key (before any data flowed). */
  readonly onKeyMismatch?: (e: KeyMismatchError) => void;
  readonly random: Random;
  readonly myDeviceId: string;
  /** Our host candidate (the socket's address as the LAN sees it). */
  readonly hostCandidate: Candidate;
  /** The supernode we published in presence (the rendezvous told the peer the same). */
  readonly mySupernode: UdpAddress | undefined;
  /** Only the relay pair: no host/srflx checks in either direction. */
  readonly forceRelay: boolean;
  /** A fresh relay ticket for this pair from the directory (POST /v1/tickets). */
  readonly renewTicket: () => Promise<{ ticket: Uint8Array; lifetimeMs: number }>;
  readonly connectTimeoutMs: number;
  readonly log: (line: string) => void;
  /** Called with the common relay before binding to it (e.g. open a TCP connection to it). */
  readonly prepareRelay?: (relay: UdpAddress) => void;
  /** Called synchronously when the session is up (before `ready` resolves). */
  readonly onSession?: (s: PeerContactSession) => void;
  /**
   * Refuse this rendezvous: run the checks (and relay binding) only to answer the contact's
   * checks with an authenticated refusal carrying this reason, so its connect() fails at
   * once instead of timing out. Never connects a transport; `ready` rejects with `refusedAs`
   * when the link closes (after connectTimeoutMs).
   */
  readonly refuse?: { readonly reason: RefusalReason; readonly refusedAs: PeerError };
}

export type RefusalReason = 'key-changed' | 'not-accepting';

const TRANSPORT_KEEPALIVE_MS = 10_000;
/** How long a live session without any working path waits for one to come back. */
const LOST_GRACE_MS = 25_000;

export class ContactLink {
  readonly rendezvousId: string;
  /** The directory's clock when it built the rendezvous (orders two calls of one caller). */
  readonly serverTime: number;
  readonly username: string;
  readonly peerDeviceId: string;
  /** The contact device's key as the directory gave it (32 bytes). */
  readonly peerKey: Uint8Array;
  readonly controlling: boolean;
  /** The coordinated start of the checks, on our clock. */
  readonly startAt: number;
  readonly ready: Promise<PeerContactSession>;
  readonly relayAddress: UdpAddress | undefined;
  private resolveReady!: (s: PeerContactSession) => void;
  private rejectReady!: (e: PeerError) => void;
  private readonly agent: CheckAgent;
  private readonly link: PeerLink;
  private readonly relay?: RelayClient;
  private readonly transport: TransportEndpoint;
  private session?: PeerContactSession;
  private connecting = false;
  private settled = false;
  private heard = false;
  /** Every path failed before the contact showed any sign of this rendezvous: waiting for it (see 'no-path'). */
  private waitingForContact = false;
  private closedFlag = false;
  private readonly timers: TimerHandle[] = [];
  private ticketTimer?: TimerHandle;
  /** When a live session lost its last path (undefined while it has one). */
  private lostSince?: number;
  /** Remote direct candidates known to the agent (keys), for updates from presence. */
  private readonly remoteKeys = new Set<string>();
  /** Client: the key the contact proved after an IK -> XX fallback, when it was not the expected one. */
  private fallbackPresented?: Uint8Array;

  constructor(private readonly d: ContactLinkDeps, r: Rendezvous, receivedAt: number) {
    this.rendezvousId = r.id;
    this.serverTime = r.serverTime;
    this.username = r.peer.username;
    this.peerDeviceId = r.peer.deviceId;
    this.peerKey = new Uint8Array(Buffer.from(r.peer.x25519, 'base64url'));
    this.controlling = isControlling(r);
    this.startAt = localStartAt(r, receivedAt);
    this.ready = new Promise((res, rej) => { this.resolveReady = res; this.rejectReady = rej; });
    this.ready.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
    const now = d.clock.now();
    const peerSupernode = r.peer.supernode ? { address: r.peer.supernode.address, port: r.peer.supernode.port } : undefined;
    this.relayAddress = this.controlling ? (d.mySupernode ?? peerSupernode) : (peerSupernode ?? d.mySupernode);
    const relayCand = this.relayAddress ? candidate('relay', this.relayAddress) : undefined;
    const remote = d.forceRelay ? [] : fromDirectoryCandidates(r.peer.candidates).filter((c) => c.type !== 'relay');
    for (const c of remote) this.remoteKeys.add(candidateKey(c));
    const local: Candidate[] = d.forceRelay ? [] : [d.hostCandidate];
    if (relayCand) { local.push(relayCand); remote.push(relayCand); }
    const rb = (n: number) => Buffer.from(d.random.fill(new Uint8Array(n))).toString('hex');
    this.agent = new CheckAgent({
      controlling: this.controlling, startAt: this.startAt, localCandidates: local, remoteCandidates: remote, newTxId: () => rb(12),
    });
    if (this.relayAddress) {
      d.prepareRelay?.(this.relayAddress);
      // random request ids: a spoofed ERROR from the relay's (public) address must not be able to guess them
      this.relay = new RelayClient({ relay: this.relayAddress, deviceId: d.myDeviceId, ticket: new Uint8Array(Buffer.from(r.ticket, 'base64url')), newRequestId: randomRequestIds(d.random) }, now);
      this.scheduleTicketRenewal(Math.max(10_000, r.ticketExpiresAt - r.serverTime));
    }
    const socket = d.mux.socketFor();
    this.link = new PeerLink({
      socket, clock: d.clock, agent: this.agent, creds: iceCredentialsFor(r), controlling: this.controlling,
      tieBreaker: BigInt(`0x${rb(8)}`), hostCandidate: d.hostCandidate,
      relay: this.relay && relayCand ? { client: this.relay, address: this.relayAddress!, candidate: relayCand } : undefined,
      onEvent: (e) => this.onCheckEvent(e), onRelayEvent: (e) => this.onRelayEvent(e),
      refuse: d.refuse?.reason, onRefused: (why) => this.onRefused(why), onPeerCheck: () => { this.heard = true; },
    });
    d.mux.attach(socket, this.link);
    this.transport = new TransportEndpoint({
      socket: this.link.transportSocket, clock: d.clock, crypto: this.linkCrypto(), random: d.random, server: !this.controlling, keepAliveMs: TRANSPORT_KEEPALIVE_MS,
    });
    if (!this.controlling && !d.refuse) this.transport.on('connection', (tc) => this.onTransport(tc));
    this.after(d.connectTimeoutMs, () => {
      if (d.refuse) this.close(d.refuse.refusedAs);
      else if (!this.settled) this.fail(new PeerError('connect-failed', `connect to ${this.username}: no session within ${d.connectTimeoutMs} ms (${this.describe()})`));
    });
    d.log(`rendezvous ${r.id.slice(0, 8)} with ${this.username}/${this.peerDeviceId.slice(0, 8)}: ${this.controlling ? 'controlling' : 'controlled'}, `
      + `${local.length} local x ${remote.length} remote candidates, relay ${this.relayAddress ? formatAddress(this.relayAddress) : 'none'}`);
  }

  /** The selected path (undefined before one is selected). */
  pathInfo(): PathInfo | undefined {
    const sel = this.agent.selectedPair();
    if (!sel) return undefined;
    const st = this.agent.status().find((s) => s.pair.key === sel.key);
    return { kind: sel.relayed ? 'relayed' : 'direct', rttMs: st?.srttMs, remote: formatAddress(sel.remote.address) };
  }

  /** Pair states, for diagnostics ("host:... -> srflx:... succeeded"). */
  describe(): string {
    const pairs = this.agent.status().map((s) => `${CheckAgent.describe(s.pair)} ${s.state}`);
    return `pairs: ${pairs.join('; ') || 'none'}; relay ${this.relay?.state ?? 'none'}`;
  }

  /**
   * The contact's presence changed (its NAT mapping moved, it changed networks): its new
   * host/srflx candidates become pairs the agent checks (and, while relayed, re-checks), so
   * a live link can move to the new address. At most 32 remote candidates per link.
   */
  updateRemoteCandidates(list: readonly DirCandidate[]): void {
    if (this.closedFlag || this.d.forceRelay || this.d.refuse) return;
    for (const c of fromDirectoryCandidates(list)) {
      const key = candidateKey(c);
      if (c.type === 'relay' || this.remoteKeys.has(key) || this.remoteKeys.size >= 32) continue;
      this.remoteKeys.add(key);
      this.d.log(`${this.username}: new candidate from presence ${key}`);
      this.link.addRemoteCandidate(c);
    }
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** The session is up (ready resolved) or failed for good. */
  get isSettled(): boolean {
    return this.settled;
  }

  /**
   * The contact has shown that it knows this rendezvous: one of its checks arrived, one of
   * ours was answered, or it bound at the relay. (A caller that hears nothing may have sent
   * its rendezvous to a push channel the contact lost in a network change.)
   */
  get heardFromContact(): boolean {
    return this.heard;
  }

  /** Tear down (also rejects `ready` when still pending). */
  close(reason: PeerError | undefined, message = 'closed'): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (!this.settled) { this.settled = true; this.rejectReady(reason ?? new PeerError('closed', `${this.username}: ${message}`)); }
    for (const t of this.timers) t.cancel();
    this.ticketTimer?.cancel();
    this.session?.markClosed(reason);
    this.transport.close(message);
    this.link.close();
  }

  /** Close after a short grace period, so that the transport's CLOSE frame leaves first. */
  closeSoon(message: string): void {
    this.after(50, () => this.close(undefined, message));
  }

  private fail(e: PeerError): void {
    this.d.log(`${this.username}: ${e.message}`);
    this.close(e);
  }

  private after(ms: number, cb: () => void): void {
    this.timers.push(this.d.clock.setTimer(this.d.clock.now() + ms, cb));
  }

  private scheduleTicketRenewal(lifetimeMs: number): void {
    this.ticketTimer?.cancel();
    this.ticketTimer = this.d.clock.setTimer(this.d.clock.now() + lifetimeMs * 0.8, () => this.renewTicket());
  }

  private renewTicket(): void {
    if (this.closedFlag || !this.relay) return;
    this.d.renewTicket().then(({ ticket, lifetimeMs }) => {
      if (this.closedFlag) return;
      this.relay!.updateTicket(this.d.clock.now(), ticket);
      this.link.pump();
      this.scheduleTicketRenewal(Math.max(10_000, lifetimeMs));
    }, (e: Error) => {
      this.d.log(`${this.username}: relay ticket renewal failed: ${e.message}; retrying in 10 s`);
      this.scheduleTicketRenewal(12_500);
    });
  }

  private onRelayEvent(e: RelayClientEvent): void {
    if (e.type === 'peer-bound') this.heard = true;
    if ((e.type === 'bound' || e.type === 'peer-bound') && this.settled) {
      // Re-bound (we moved, or the relay restarted) or the contact re-bound: the relay pair may work again.
      this.d.log(`${this.username}: relay ${e.type === 'bound' ? `re-bound as ${formatAddress(e.observed)}` : 'peer re-bound'}; re-checking the relay pair`);
      this.agent.recheckRelayNow(this.d.clock.now());
    } else if (e.type === 'refused') {
      this.d.log(`${this.username}: relay refused (${e.code}: ${e.reason})`);
      if (e.code === RelayErrorCode.TICKET_EXPIRED) this.renewTicket();
    } else if (e.type === 'failed') this.d.log(`${this.username}: relay ${this.relayAddress ? formatAddress(this.relayAddress) : ''} did not answer`);
  }

  private onCheckEvent(e: CheckEvent): void {
    if (e.type === 'pair-succeeded') this.heard = true;
    if (e.type === 'path-selected' || e.type === 'path-switched') {
      this.lostSince = undefined;
      this.d.log(`${this.username}: ${e.type} ${CheckAgent.describe(e.type === 'path-selected' ? e.pair : e.to)}${e.type === 'path-switched' ? ` (${e.reason})` : ''}`);
      if (this.controlling && !this.connecting && !this.d.refuse) this.connectTransport();
      const info = this.pathInfo();
      if (info) this.session?.emit('path', info);
    } else if (e.type === 'pair-failed' && this.settled) {
      this.d.log(`${this.username}: pair ${CheckAgent.describe(e.pair)} ${e.reason === 'dead' ? 'died' : 'failed'}`);
      if (e.reason === 'dead') this.d.onPathLost?.();
    } else if (e.type === 'path-trouble' && this.settled) {
      // We may have moved: the peer re-checks its own mapping (rate-limited), the relay binding is refreshed now.
      this.d.onPathLost?.();
      this.relay?.refresh(this.d.clock.now());
    } else if (e.type === 'no-path' && !this.d.refuse) {
      const err = new PeerError('connect-failed', `${this.username}: every path failed (${this.describe()})`);
      if (!this.settled) {
        // Not a sign of the contact yet (no check, no relay bind): it may not have the rendezvous
        // yet — its push channel was down (the directory replays it on the next one) or the call
        // is re-sent when it republishes. Its checks re-open our failed pairs (triggered checks):
        // wait for them until the connect timeout instead of failing now.
        if (!this.heard) {
          if (!this.waitingForContact) this.d.log(`${this.username}: every path failed and no sign of the contact yet; waiting for it until the connect timeout`);
          this.waitingForContact = true;
          return;
        }
        this.fail(err);
      } else if (!this.agent.selectedPair() && !this.lostSince) {
        // A live session lost every path (the contact changed networks, an outage): the agent
        // re-checks every pair, the relay included, and new addresses arrive with presence.
        // Give it LOST_GRACE_MS (under the transport's 30 s idle timeout) before closing.
        const since = this.d.clock.now();
        this.lostSince = since;
        this.d.log(`${this.username}: every path failed; re-checking for ${LOST_GRACE_MS / 1000} s`);
        this.after(LOST_GRACE_MS, () => { if (this.lostSince === since && !this.agent.selectedPair()) this.close(err); });
      }
    }
  }

  private onRefused(reason: string): void {
    if (this.settled || this.d.refuse) return;
    const why = reason === 'key-changed' ? 'it has a different key pinned for this device'
      : reason === 'not-accepting' ? 'it is not accepting sessions' : `"${reason.slice(0, 100)}"`;
    this.fail(new PeerError('refused', `${this.username} refused the session: ${why}`));
  }

  /**
   * This link's crypto: the server side refuses a client that proves another key than
   * `peerKey` inside the handshake (key-check.ts); the client side records the key a
   * contact proved after an IK -> XX fallback when it is not `peerKey` (and refuses it).
   */
  private linkCrypto(): CryptoProvider {
    const base = this.d.cryptoWith?.({
      acceptPeer: (rs, _kind, info) => {
        if (!info.expected || equalKeys(rs, info.expected)) return true; // IK proves the key itself; the server side is checked below
        this.fallbackPresented = rs.slice();
        return false;
      },
    }) ?? this.d.crypto;
    return keyCheckedCrypto(base, this.peerKey, (presented) => this.onServerKeyMismatch(presented));
  }

  /** Server: the contact proved another key than the directory's. Called inside the handshake (the transport then closes). */
  private onServerKeyMismatch(presented: Uint8Array): void {
    const expectedFp = fingerprint(this.peerKey), presentedFp = fingerprint(presented);
    const err = new KeyMismatchError('key-changed', this.username, this.peerDeviceId, expectedFp, presentedFp,
      `${this.username}'s device ${this.peerDeviceId.slice(0, 8)} proved key ${presentedFp} in the handshake, not the directory's ${expectedFp}; session refused`);
    this.d.onKeyMismatch?.(err);
    // Let the transport send its CONNECTION_CLOSE (it carries both fingerprints) before the link goes.
    if (!this.settled) this.after(50, () => this.fail(err));
  }

  private connectTransport(): void {
    this.connecting = true;
    this.transport.connect(this.link.virtualPeer, { serverStatic: this.peerKey }).then((tc) => this.onTransport(tc), (err: Error) => {
      if (this.settled) return;
      const cause: unknown = err?.cause;
      const refusal = (err as { remote?: boolean }).remote === true ? keyMismatchFromReason(err.message) : undefined;
      if (refusal) {
        // The contact refused the key we proved: it expects another one for our device.
        this.fail(new KeyMismatchError('refused', this.username, this.peerDeviceId, refusal.expected, refusal.presented,
          `${this.username} refused the session: it expects key ${refusal.expected} for this device, the handshake proved ${refusal.presented}`));
      } else if (cause instanceof SessionError && (cause.code === 'key-changed' || (cause.code === 'rejected' && this.fallbackPresented))) {
        // The session layer's IK -> XX fallback found that the device holds another static key
        // than the directory gave us (the transport close's cause).
        const expectedFp = fingerprint(this.peerKey);
        const presentedFp = this.fallbackPresented ? fingerprint(this.fallbackPresented) : 'unknown';
        this.fail(new KeyMismatchError('key-changed', this.username, this.peerDeviceId, expectedFp, presentedFp,
          `${this.username}: the device proved key ${presentedFp}, not the directory's ${expectedFp}; session refused`));
      } else this.fail(new PeerError('connect-failed', `${this.username}: secure session failed: ${err?.message ?? 'closed'}`));
    });
  }

  private onTransport(tc: TransportConnection): void {
    if (this.settled) { tc.close(0, 'duplicate connection'); return; }
    const got = tc.peerStatic;
    if (got && Buffer.compare(Buffer.from(got), Buffer.from(this.peerKey)) !== 0) {
      tc.close(0, 'static key does not match the directory');
      this.fail(new PeerError('key-changed', `${this.username}: the device authenticated with a key other than the directory's`));
      return;
    }
    this.settled = true;
    this.session = new PeerContactSession(this, tc, got ?? this.peerKey);
    tc.on('close', (err) => {
      // The application learns at once; the link goes a moment later, so that our own
      // CONNECTION_CLOSE (this event fires while the transport is still draining its
      // events, before it transmits) leaves on the path instead of dying with the link.
      const reason = err ? new PeerError('connect-failed', `${this.username}: ${err.message}`) : undefined;
      this.session?.markClosed(reason);
      this.after(50, () => this.close(reason, 'session closed'));
    });
    this.d.onSession?.(this.session);
    this.resolveReady(this.session);
  }
}

function equalKeys(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/**
 * Streams are destroyed with an error when their session ends (also on a clean close):
 * that is reported once, as the session's 'close' event, so a stream nobody listens to
 * for errors must not crash the process. Listeners the application adds still get it.
 */
function quiet<T extends Duplex>(s: T): T {
  s.on('error', () => {});
  return s;
}

/** A live, authenticated session to one contact device (peer-api.ts ContactSession). */
export class PeerContactSession extends EventEmitter<{ stream: [Duplex]; path: [PathInfo]; close: [Error | undefined] }> implements ContactSession {
  readonly username: string;
  readonly deviceId: string;
  private closedFlag = false;

  /** Streams the contact opened before anyone listened for 'stream' (e.g. in the same read as the handshake). */
  private unclaimed: Duplex[] = [];

  constructor(private readonly owner: ContactLink, private readonly tc: TransportConnection, readonly remoteStatic: Uint8Array) {
    super();
    this.username = owner.username;
    this.deviceId = owner.peerDeviceId;
    tc.on('stream', (s) => {
      quiet(s);
      if (this.listenerCount('stream') > 0) this.emit('stream', s);
      else this.unclaimed.push(s);
    });
    // The first 'stream' listener gets the streams that arrived before it ('newListener'
    // fires before the listener is added, hence the microtask).
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event !== 'stream' || this.unclaimed.length === 0) return;
      queueMicrotask(() => { for (const s of this.unclaimed.splice(0)) this.emit('stream', s); });
    });
  }

  get path(): PathInfo {
    return this.owner.pathInfo() ?? { kind: 'relayed', rttMs: undefined, remote: this.owner.relayAddress ? formatAddress(this.owner.relayAddress) : 'none' };
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  openStream(): Promise<Duplex> {
    if (this.closedFlag) return Promise.reject(new PeerError('closed', `session to ${this.username} is closed`));
    return this.tc.openStream().then(quiet);
  }

  close(reason = 'closed by user'): void {
    if (this.closedFlag) return;
    this.tc.close(0, reason);
    this.markClosed(undefined);
    this.owner.closeSoon(reason);
  }

  /** Called by the link when it goes away. */
  markClosed(err: Error | undefined): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.emit('close', err);
  }
}
