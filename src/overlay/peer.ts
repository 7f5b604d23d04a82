// A tincan peer (PeerNode, peer-api.ts): what `tincan up` runs. I/O glue around the
// overlay's pieces (see index.ts for how they fit):
//   startPeer(opts) — with a logged-in directory session:
//     1. loads this device's identity (peer-identity.ts) and registers the device key at
//        the directory once (the device id is remembered in <stateDir>/device.json);
//     2. binds one UDP socket (OverlayMux) and classifies the NAT (NatClassifier: the
//        directory's STUN endpoint as primary, a supernode as second vantage point);
//     3. picks the fastest supernode of the directory's list by STUN RTT (SupernodePicker,
//        re-measured every 10 s; a switch republishes presence);
//     4. publishes presence (host, srflx and relay candidates, NAT, supernode), keeps the
//        NAT mapping alive (a STUN Binding every 5 s, republishing if the mapping moved)
//        and republishes every 60 s; keeps a push channel open (peer-push.ts: pinged, replaced
//        at once when the NAT mapping or the host addresses change, re-opened with backoff).
//   connect(username) — POST /v1/rendezvous; the contact gets the same rendezvous pushed;
//     both sides build a ContactLink (contact-link.ts: relay ticket, checks, transport). A
//     call the contact stays silent about is re-sent when the contact republishes (it moved:
//     the first rendezvous went to its lost push channel; scheduleRedial).
//     Incoming sessions arrive as 'session'. Keys: the contact device's directory key is
//     checked against <stateDir>/key-pins.json (trust on first use: a new key is pinned once a
//     handshake proved it, key-check.ts refuses one the device cannot prove); a different key is
//     refused ('key-changed' error and event), never silently accepted.
// Errors are PeerErrors (peer-errors.ts maps the directory's).
import { EventEmitter } from 'node:events';
import { hostname, networkInterfaces } from 'node:os';
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectoryClient, type Candidate as DirCandidate, type PushMessage, type Rendezvous } from '../directory/client.ts';
import type { Clock, DatagramSocket, TimerHandle, UdpAddress } from '../wire/socket.ts';
import { formatAddress, sameAddress } from '../wire/socket.ts';
import { decodeStun, verifyStunFingerprint, STUN_METHOD_BINDING } from '../wire/stun.ts';
import { bindUdp, realClock } from '../datagram/udp.ts';
import { systemRandom } from '../datagram/system-random.ts';
import type { CryptoProvider } from '../transport/crypto.ts';
import { candidate, type Candidate } from './candidates.ts';
import { NatClassifier, type Classification } from './nat-classify.ts';
import { StunProbeCodec } from './stun-probe.ts';
import { StunBindings, type BindingAnswer } from './stun-bindings.ts';
import { SupernodePicker, supernodeEligible } from './supernode-picker.ts';
import { formatNatType } from './nat-types.ts';
import { fromDirectoryNat, toDirectoryNat } from './directory-adapter.ts';
import { OverlayMux } from './overlay-mux.ts';
import { KeyPins } from './key-pins.ts';
import { loadKeyPins, saveKeyPins } from './key-pin-file.ts';
import { loadPeerIdentity, type PeerIdentity } from './peer-identity.ts';
import { ContactLink, type ContactLinkDeps, type PeerContactSession, type RefusalReason } from './contact-link.ts';
import { toPeerError } from './peer-errors.ts';
import { tcpConnector } from './relay-tcp.ts';
import { RelayStreamFallback, type RelayStreamConnector } from './relay-stream-mux.ts';
import type { Random } from '../transport/random.ts';
import { startPeerSupernode, type PeerSupernode } from './peer-supernode.ts';
import { PeerPush } from './peer-push.ts';
import { TokenBucket } from './token-bucket.ts';
import { PeerError, type ContactSession, type ContactStatus, type PeerNode } from './peer-api.ts';

export interface PeerOptions {
  /** Directory base URL, e.g. http://127.0.0.1:7400. */
  readonly directoryUrl: string;
  /** Bearer token of a logged-in session (or give `directory`). */
  readonly token?: string;
  /** A logged-in DirectoryClient (takes precedence over directoryUrl + token). */
  readonly directory?: DirectoryClient;
  /** Where the identity, device.json and key-pins.json live. */
  readonly stateDir: string;
  readonly deviceName?: string; // default os.hostname()
  readonly port?: number; // UDP, default 0
  readonly bindAddress?: string; // default 0.0.0.0
  /** The directory's STUN endpoint (default: the directory URL's host, port 3478). */
  readonly stun?: UdpAddress;
  /** Publish and try only the relay candidate (demos, tests). */
  readonly forceRelay?: boolean;
  /**
   * Never serve as a supernode. Otherwise a peer whose classification says "public" (own
   * address, endpoint-independent filtering: needs a directory STUN endpoint with an RFC 5780
   * alternate address) relays for others on its own socket and registers at the directory.
   */
  readonly supernodeOptOut?: boolean;
  /** The supernode role's limits (see peer-supernode.ts); uplinkBytesPerSec is assumed 1 MB/s if not given. */
  readonly supernodeRole?: { readonly uplinkBytesPerSec?: number; readonly capacity?: number; readonly allowLoopback?: boolean; readonly allowPrivate?: boolean };
  /** The directory STUN endpoint's second port (RFC 5780), to tell ADM from APDM. */
  readonly stunAltPort?: number;
  /** Host candidate addresses (default: bindAddress if concrete, else the non-internal IPv4 interfaces). */
  readonly hostAddresses?: readonly string[];
  /**
   * Reach supernodes over TCP: 'auto' (default) when UDP turns out to be blocked, 'always',
   * or 'never'. Over TCP the peer publishes only its relay candidate.
   */
  readonly relayOverTcp?: 'auto' | 'always' | 'never';
  /** Replace the session crypto (tests); default: the identity's provider. */
  readonly crypto?: CryptoProvider;
  /** Injectable socket and clock (default: a bound UDP socket and the real clock). */
  readonly socket?: DatagramSocket;
  readonly clock?: Clock;
  /** Injectable randomness (default: the system's CSPRNG); ids, ICE tie-breakers, handshake ephemerals use it. */
  readonly random?: Random;
  /** How relay streams are opened when UDP is blocked (default: TCP to the supernode's port; the simulator passes a pipe). */
  readonly relayStreams?: RelayStreamConnector;
  readonly connectTimeoutMs?: number; // default 15_000
  /** STUN keepalive to the directory (finds a renumbered NAT), default KEEPALIVE_MS (5 s). */
  readonly keepaliveMs?: number;
  /**
   * Accept an incoming session from this contact device (default: every mutual contact).
   * A refused one is answered with a refusal its connect() sees at once ('refused').
   */
  readonly accept?: (contact: { readonly username: string; readonly deviceId: string }) => boolean;
  readonly log?: (line: string) => void;
}

const PRESENCE_REFRESH_MS = 60_000;
/**
 * STUN Binding to the directory this often (0.2 requests/s, 0.4 packets/s with the answers,
 * ~15 B/s each way): keeps the NAT's UDP mapping (timeouts are >= 30 s on most NATs) and finds
 * a renumbered NAT (same host address, new public mapping) within 5 s — then the push channel
 * is replaced and presence republished at once, so an idle peer is callable again ~5.5 s after
 * the renumbering at worst, well within a caller's 15 s connect timeout (20 s before: after it).
 */
const KEEPALIVE_MS = 5_000;
/** How often the host addresses are re-read (when they are not configured). */
const HOST_WATCH_MS = 2_000;
const SEEN_RENDEZVOUS_MAX = 256;
/** A call whose contact is silent this long after the start is re-sent when the contact republishes (see scheduleRedial). */
const REDIAL_QUIET_MS = 1_500;
const REDIAL_MAX = 2;
/**
 * ... and not before this long after the contact's presence came: a directory that replays the
 * rendezvous on the contact's new push channel (docs/protocol/directory.md) sends it right after
 * the channel's hello, before the contact republishes, so the contact's checks and relay bind
 * arrive within a round trip or two of its presence — then no second call is needed.
 */
const REDIAL_AFTER_PRESENCE_MS = 1_000;
/** Incoming rendezvous per contact device: a burst of this many, then this many per second (takeRendezvousToken). */
const RENDEZVOUS_BURST = 3;
const RENDEZVOUS_PER_S = 1;

interface DeviceFile { directoryUrl: string; username: string; deviceId: string; x25519: string }

export async function startPeer(opts: PeerOptions): Promise<PeerNode> {
  const dir = opts.directory ?? new DirectoryClient(opts.directoryUrl, opts.token);
  const log = opts.log ?? (() => {});
  let username: string;
  try { username = (await dir.me()).username; } catch (e) { throw toPeerError(e, 'login'); }
  const identity = loadPeerIdentity(opts.stateDir);
  const deviceId = await ensureDevice(dir, opts, username, identity);
  const pinsPath = join(opts.stateDir, 'key-pins.json');
  const pins = await loadKeyPins(pinsPath);
  const clock = opts.clock ?? realClock;
  const udp = opts.socket ?? await bindUdp({ address: opts.bindAddress ?? '0.0.0.0', port: opts.port ?? 0 });
  const socket = new RelayStreamFallback(udp, opts.relayStreams ?? tcpConnector, clock);
  const peer = new Peer(opts, dir, username, deviceId, identity, pins, pinsPath, socket, clock, log);
  try {
    await peer.start();
  } catch (e) {
    await peer.close();
    throw toPeerError(e, 'start');
  }
  return peer;
}

async function ensureDevice(dir: DirectoryClient, opts: PeerOptions, username: string, identity: PeerIdentity): Promise<string> {
  const path = join(opts.stateDir, 'device.json');
  const key = Buffer.from(identity.publicKey).toString('base64url');
  let saved: DeviceFile | undefined;
  try { saved = JSON.parse(await readFile(path, 'utf8')) as DeviceFile; } catch { saved = undefined; }
  try {
    if (saved && saved.username === username && saved.directoryUrl === opts.directoryUrl && saved.x25519 === key) {
      const mine = await dir.devices();
      if (mine.some((d) => d.id === saved!.deviceId && d.x25519 === key)) return saved.deviceId;
    }
    const dev = await dir.registerDevice({ name: opts.deviceName ?? hostname(), x25519: identity.publicKey });
    await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ directoryUrl: opts.directoryUrl, username, deviceId: dev.id, x25519: key } satisfies DeviceFile)}\n`, { mode: 0o600 });
    await rename(tmp, path);
    return dev.id;
  } catch (e) {
    throw toPeerError(e, 'device registration');
  }
}

function defaultStun(url: string): UdpAddress {
  return { address: new URL(url).hostname.replace(/^localhost$/, '127.0.0.1'), port: 3478 };
}

/** A STUN Binding indication (the directory's nudge), FINGERPRINT checked when present. */
function isBindingIndication(bytes: Uint8Array): boolean {
  try {
    const m = decodeStun(bytes);
    return m.class === 'indication' && m.method === STUN_METHOD_BINDING && (m.fingerprintOffset === undefined || verifyStunFingerprint(bytes, m));
  } catch {
    return false;
  }
}

/** A presence update worth retrying: the directory was unreachable, timed out or failed (not a refusal). */
function retryablePublish(e: unknown): boolean {
  const status = (e as { status?: unknown }).status;
  return typeof status !== 'number' || status === 0 || status >= 500;
}

function hostAddresses(opts: PeerOptions): string[] {
  if (opts.hostAddresses?.length) return [...opts.hostAddresses];
  if (opts.bindAddress && opts.bindAddress !== '0.0.0.0') return [opts.bindAddress];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) out.push(i.address);
  return out.length ? out : ['127.0.0.1'];
}

class Peer extends EventEmitter<{ session: [ContactSession]; 'key-changed': [{ username: string; deviceId: string }]; presence: [ContactStatus] }> implements PeerNode {
  private readonly mux: OverlayMux;
  private readonly random: Random;
  private readonly stunAddr: UdpAddress;
  private hosts: string[];
  private readonly bindings = new StunBindings();
  private readonly probeCodec = new StunProbeCodec((n) => this.random.fill(new Uint8Array(n)));
  private readonly picker: SupernodePicker;
  private classifier?: NatClassifier;
  private classification?: Classification;
  private natDone?: () => void;
  private pickerTimer?: TimerHandle;
  private classifierTimer?: TimerHandle;
  private readonly intervals: TimerHandle[] = [];
  private push?: PeerPush;
  private closing = false;
  private supernode?: UdpAddress;
  private published?: string;
  /** A failed presence update is retried (250 ms, doubling to 8 s) until one succeeds. */
  private publishRetry?: TimerHandle;
  private publishRetryMs = 0;
  private keepaliveTx?: string;
  private lastKeepaliveAt = -Infinity;
  private readonly waitingBindings = new Map<string, (a: BindingAnswer) => void>();
  private readonly links = new Map<string, ContactLink>(); // peer device id -> current link
  private readonly refusing = new Set<ContactLink>(); // links answering a contact's checks with a refusal
  private readonly refusingByDevice = new Map<string, ContactLink>(); // the (one) refusing link per contact device
  private readonly rendezvousBudget = new Map<string, TokenBucket>(); // incoming rendezvous per contact device
  private readonly sessionsByDevice = new Map<string, PeerContactSession>();
  /** Calls re-sent per contact during the current connect(); links with a re-send check armed. */
  private readonly redials = new Map<string, number>();
  private readonly redialScheduled = new WeakSet<ContactLink>();
  private readonly seen = new Map<string, PeerError | undefined>(); // rendezvous id -> why it was refused
  private readonly connecting = new Map<string, Promise<ContactSession>>(); // username -> pending connect()
  private pickedOnce?: () => void;
  /** Supernodes are reached over TCP (UDP blocked, or configured). */
  private tcpMode = false;
  /** This peer's own supernode role, when it serves as one. */
  private serving?: PeerSupernode;

  constructor(
    private readonly opts: PeerOptions, private readonly dir: DirectoryClient, readonly username: string, readonly deviceId: string,
    private readonly identity: PeerIdentity, private readonly pins: KeyPins, private readonly pinsPath: string,
    private readonly socket: RelayStreamFallback, private readonly clock: Clock, private readonly log: (line: string) => void,
  ) {
    super();
    this.random = opts.random ?? systemRandom();
    this.mux = new OverlayMux(socket);
    this.mux.onUnclaimed = (from, bytes) => this.onUnclaimed(from, bytes);
    this.stunAddr = opts.stun ?? defaultStun(opts.directoryUrl);
    this.hosts = hostAddresses(opts);
    this.picker = new SupernodePicker({ newTxId: () => this.txId() }, clock.now());
  }

  get nat(): string | undefined {
    return this.classification ? formatNatType(this.classification.nat) : undefined;
  }

  /** The UDP address this peer's socket is bound to. */
  get local(): UdpAddress {
    return this.mux.local;
  }

  async start(): Promise<void> {
    let refs = await this.supernodeRefs().catch((e: unknown) => { throw toPeerError(e, 'supernode list'); });
    await this.classify(refs.find((r) => r.address.address !== this.stunAddr.address)?.address ?? refs[0]?.address ?? this.stunAddr);
    this.log(`nat ${this.nat}${this.classification!.certain ? '' : ' (uncertain)'}; mapped ${this.classification!.mapped ? formatAddress(this.classification!.mapped) : 'none'}`);
    const elig = supernodeEligible({ nat: this.classification!.nat, optOut: !!this.opts.supernodeOptOut, uplinkBytesPerSec: this.opts.supernodeRole?.uplinkBytesPerSec ?? 1_000_000 });
    this.log(`supernode role: ${elig.eligible ? 'eligible' : `not eligible (${elig.reason})`}`);
    if (elig.eligible) {
      await this.serveAsSupernode();
      refs = refs.filter((r) => !(r.address.address === this.classification!.mapped?.address && r.address.port === this.classification!.mapped?.port));
    }
    const mode = this.opts.relayOverTcp ?? 'auto';
    this.tcpMode = mode === 'always' || (mode === 'auto' && this.classification!.nat.udp === 'blocked');
    if (this.tcpMode) {
      for (const ref of refs) {
        try {
          await this.socket.use(ref.address);
          this.supernode = ref.address;
          this.log(`supernode ${ref.id.slice(0, 8)} at ${formatAddress(ref.address)} over TCP`);
          break;
        } catch (e) {
          this.log(`supernode ${formatAddress(ref.address)} over TCP: ${(e as Error).message}`);
        }
      }
    } else if (refs.length) {
      const picked = new Promise<void>((res) => { this.pickedOnce = res; });
      this.picker.setCandidates(this.clock.now(), refs);
      this.pumpPicker();
      await Promise.race([picked, this.sleep(1500)]);
    }
    const push = new PeerPush({
      dir: this.dir, deviceId: this.deviceId, clock: this.clock, random: () => this.random.nextU32() / 2 ** 32, log: this.log,
      onMessage: (m) => this.onPush(m),
      // A new channel (we moved, or the old one closed): the directory may have marked us offline.
      onReconnected: () => void this.publish(true).catch((e: Error) => this.log(`presence update after the push channel reopened failed: ${e.message}`)),
    });
    await push.start().catch((e: unknown) => { throw toPeerError(e, 'push channel'); });
    this.push = push;
    await this.publish(true);
    this.every(PRESENCE_REFRESH_MS, () => void this.publish(true).catch((e: Error) => this.log(`presence refresh failed: ${e.message}`)));
    this.every(this.opts.keepaliveMs ?? KEEPALIVE_MS, () => { if (!this.tcpMode) this.keepalive(); }); // UDP blocked: nothing to keep
    if (!this.opts.hostAddresses?.length && !(this.opts.bindAddress && this.opts.bindAddress !== '0.0.0.0')) this.every(HOST_WATCH_MS, () => this.checkHostAddresses());
    if (!this.tcpMode) this.every(PRESENCE_REFRESH_MS, () => void this.refreshSupernodes());
  }

  /** True while this peer relays for others (automatic supernode). */
  get servingAsSupernode(): boolean {
    return !!this.serving;
  }

  private async serveAsSupernode(): Promise<void> {
    const r = this.opts.supernodeRole ?? {};
    const publicAddress = this.classification!.mapped ?? { address: this.hosts[0], port: this.mux.local.port };
    try {
      // Our own sessions may be relayed by us (a contact picked us as its supernode): what our
      // links send to our own address goes to the supernode role, what it sends to our own
      // address comes back to the links — never on the wire, where the two would look alike.
      const self = (a: UdpAddress) => sameAddress(a, publicAddress) || (a.port === this.mux.local.port && this.hosts.includes(a.address));
      this.serving = await startPeerSupernode({
        directory: this.dir, publicAddress, capacity: r.capacity, allowLoopback: r.allowLoopback, allowPrivate: r.allowPrivate,
        send: (to, bytes) => { if (self(to)) queueMicrotask(() => this.mux.deliver(publicAddress, bytes)); else this.mux.send(to, bytes); },
      });
      const serving = this.serving;
      this.mux.sendHook = (to, bytes) => {
        if (!self(to)) return false;
        queueMicrotask(() => serving.offer(publicAddress, bytes));
        return true;
      };
      this.log(`serving as a supernode at ${formatAddress(publicAddress)} (registered ${this.serving.registrationId.slice(0, 8)})`);
    } catch (e) {
      this.log(`could not serve as a supernode: ${(e as Error).message}`);
    }
  }

  /** The directory's supernodes, without ourselves. */
  private async supernodeRefs(): Promise<{ id: string; address: UdpAddress }[]> {
    const list = await this.dir.supernodes();
    return list.filter((s) => s.id !== this.serving?.registrationId).map((s) => ({ id: s.id, address: { address: s.address, port: s.port } }));
  }

  private async refreshSupernodes(): Promise<void> {
    try {
      const refs = await this.supernodeRefs();
      if (this.closing) return;
      this.picker.setCandidates(this.clock.now(), refs);
      this.pumpPicker();
    } catch (e) {
      this.log(`supernode list refresh failed: ${(e as Error).message}`);
    }
  }

  // ---- PeerNode ----

  sessions(): ContactSession[] {
    return [...this.sessionsByDevice.values()].filter((s) => !s.closed);
  }

  async connect(username: string): Promise<ContactSession> {
    if (this.closing) throw new PeerError('closed', 'the peer is closed');
    const live = this.sessions().find((s) => s.username === username);
    if (live) return live;
    const pending = this.connecting.get(username);
    if (pending) return pending;
    this.redials.set(username, 0);
    const p = this.doConnect(username).finally(() => { this.connecting.delete(username); this.redials.delete(username); });
    this.connecting.set(username, p);
    return p;
  }

  async status(): Promise<ContactStatus[]> {
    let contacts, presence;
    try { [contacts, presence] = await Promise.all([this.dir.contacts(), this.dir.presence()]); } catch (e) { throw toPeerError(e, 'status'); }
    return contacts.filter((c) => c.state === 'accepted').map((c) => {
      const mine = presence.filter((p) => p.username === c.username);
      const best = mine.find((p) => p.status === 'online') ?? mine.find((p) => p.status === 'away') ?? mine[0];
      const session = this.sessions().find((s) => s.username === c.username);
      const nat = best?.nat ? fromDirectoryNat(best.nat, best.candidates.some((x) => x.kind === 'host') && !best.candidates.some((x) => x.kind === 'srflx')) : undefined;
      return { username: c.username, presence: best?.status ?? 'offline', ...(session ? { path: session.path } : {}), ...(nat ? { nat: formatNatType(nat) } : {}) };
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.intervals) t.cancel();
    this.pickerTimer?.cancel();
    this.classifierTimer?.cancel();
    this.natDone?.();
    this.serving?.close();
    for (const l of [...this.links.values(), ...this.refusing]) l.close(new PeerError('closed', 'the peer is closed'), 'peer closed');
    this.links.clear();
    this.refusing.clear();
    this.push?.close();
    this.mux.close();
    await this.savePins();
  }

  // ---- connecting ----

  private async doConnect(username: string): Promise<ContactSession> {
    let r: Rendezvous;
    try { r = await this.dir.rendezvous(this.deviceId, username); } catch (e) { throw toPeerError(e, `connect to ${username}`); }
    if (this.closing) throw new PeerError('closed', 'the peer is closed');
    const link = this.onRendezvous(r, this.clock.now());
    if (link instanceof PeerError) throw link;
    // A concurrent rendezvous (both sides calling at once) may replace the link: follow it.
    for (let current = link; ;) {
      try {
        return await current.ready;
      } catch (e) {
        const next = this.links.get(r.peer.deviceId);
        if (e instanceof PeerError && e.code === 'closed' && next && next !== current && !this.closing) { current = next; continue; }
        throw e;
      }
    }
  }

  /** A rendezvous for one of our devices (our own answer or a push): build or reuse the link. */
  private onRendezvous(r: Rendezvous, receivedAt: number, replace = false): ContactLink | PeerError {
    const peerDevice = r.peer.deviceId;
    if (this.seen.has(r.id)) {
      const l = this.links.get(peerDevice);
      return this.seen.get(r.id) ?? l ?? new PeerError('connect-failed', `rendezvous with ${r.peer.username} already ended`);
    }
    this.seen.set(r.id, undefined);
    if (this.seen.size > SEEN_RENDEZVOUS_MAX) this.seen.delete(this.seen.keys().next().value!);
    const key = Buffer.from(r.peer.x25519, 'base64url');
    // Compared with the pin here; a NEW key is pinned only once a handshake proved it (onSession):
    // a directory key the device cannot prove must not become the pin.
    const check = this.pins.check(r.peer.username, peerDevice, key);
    if (check.status === 'changed') {
      this.log(`key of ${r.peer.username}/${peerDevice.slice(0, 8)} changed: pinned ${check.pinned.slice(0, 16)}..., offered ${check.offered.slice(0, 16)}...; refused`);
      this.emit('key-changed', { username: r.peer.username, deviceId: peerDevice });
      const err = new PeerError('key-changed', `the key of ${r.peer.username}'s device ${peerDevice} changed since it was pinned; refusing to connect`);
      this.seen.set(r.id, err);
      this.refuse(r, receivedAt, 'key-changed', err);
      return err;
    }
    if (!this.connecting.has(r.peer.username) && this.opts.accept && !this.opts.accept({ username: r.peer.username, deviceId: peerDevice })) {
      const err = new PeerError('refused', `session from ${r.peer.username}/${peerDevice.slice(0, 8)} not accepted`);
      this.seen.set(r.id, err);
      this.refuse(r, receivedAt, 'not-accepting', err);
      return err;
    }
    const existing = this.links.get(peerDevice);
    if (existing && !existing.isClosed) {
      const established = this.sessionsByDevice.get(peerDevice);
      // An older rendezvous than the one a live session came from (a late replay of a call
      // that went to a push channel we had lost, when the call got through another way)
      // never replaces it; a restarted contact's rendezvous is newer.
      if (established && r.serverTime < existing.serverTime) return existing;
      if (!established && !replace) {
        // Two rendezvous in flight. Both sides calling at once: both keep the smaller id. Only
        // called: the caller's later one wins (it re-sent its call: after a timeout, or because
        // the first went to a push channel we had lost), as the caller keeps only its latest.
        const weCallToo = this.connecting.has(r.peer.username);
        if (weCallToo ? existing.rendezvousId < r.id : existing.serverTime > r.serverTime) return existing;
      }
      existing.close(new PeerError('closed', `${r.peer.username}: replaced by a newer rendezvous`), 'replaced');
    }
    const link: ContactLink = new ContactLink({
      ...this.linkDeps(peerDevice),
      // Synchronously: the application must be able to listen for streams before any arrive.
      onSession: (s) => this.onSession(peerDevice, link, s),
    }, r, receivedAt);
    this.links.set(peerDevice, link);
    link.ready.catch(() => {
      if (this.links.get(peerDevice) === link) this.links.delete(peerDevice);
    });
    return link;
  }

  private linkDeps(peerDevice: string): ContactLinkDeps {
    return {
      prepareRelay: this.tcpMode ? (a) => { this.socket.use(a).catch((e: Error) => this.log(e.message)); } : undefined,
      mux: this.mux, clock: this.clock, crypto: this.opts.crypto ?? this.identity.crypto, random: this.random, myDeviceId: this.deviceId,
      cryptoWith: this.opts.crypto ? undefined : this.identity.cryptoWith,
      onPathLost: () => this.recheckMapping(),
      onKeyMismatch: (e) => {
        this.log(`key of ${e.contact}/${e.deviceId.slice(0, 8)}: ${e.message}`);
        this.emit('key-changed', { username: e.contact, deviceId: e.deviceId });
      },
      hostCandidate: this.hostCandidate(), mySupernode: this.supernode, forceRelay: !!this.opts.forceRelay || this.classification?.nat.udp === 'blocked',
      renewTicket: async () => {
        const t = await this.dir.ticket(this.deviceId, peerDevice);
        return { ticket: new Uint8Array(Buffer.from(t.ticket, 'base64url')), lifetimeMs: t.expiresAt - t.issuedAt };
      },
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 15_000, log: this.log,
    };
  }

  /** Answer this rendezvous' checks with a refusal (the contact's connect() fails at once), until the connect timeout. */
  private refuse(r: Rendezvous, receivedAt: number, reason: RefusalReason, err: PeerError): void {
    if (this.closing) return;
    // One refusing link per contact device: a newer rendezvous replaces the older one (as links
    // do), so a contact we decline cannot make us check its chosen targets once per request.
    const dev = r.peer.deviceId;
    const prev = this.refusingByDevice.get(dev);
    if (prev) { this.refusing.delete(prev); prev.close(new PeerError('closed', `${r.peer.username}: refusal replaced by a newer rendezvous`), 'replaced'); }
    const link = new ContactLink({ ...this.linkDeps(dev), refuse: { reason, refusedAs: err } }, r, receivedAt);
    this.refusing.add(link);
    this.refusingByDevice.set(dev, link);
    link.ready.catch(() => {
      this.refusing.delete(link);
      if (this.refusingByDevice.get(dev) === link) this.refusingByDevice.delete(dev);
    });
  }

  /**
   * Incoming rendezvous per contact device: a token bucket (RENDEZVOUS_BURST, refilled at
   * RENDEZVOUS_PER_S): each one makes us bind at a relay and check the contact's candidates, so
   * a contact (or a directory) must not make us do it at will. A caller sends at most 3 per call
   * (its call and 2 re-sends). Bounded: at most 1,024 contact devices tracked.
   */
  private takeRendezvousToken(contactDevice: string): boolean {
    const now = this.clock.now();
    const b = this.rendezvousBudget.get(contactDevice) ?? new TokenBucket(RENDEZVOUS_PER_S, RENDEZVOUS_BURST, now);
    this.rendezvousBudget.delete(contactDevice);
    this.rendezvousBudget.set(contactDevice, b);
    if (this.rendezvousBudget.size > 1024) this.rendezvousBudget.delete(this.rendezvousBudget.keys().next().value!);
    return b.tryTake(now, 1);
  }

  private onSession(peerDevice: string, link: ContactLink, s: PeerContactSession): void {
    if (this.links.get(peerDevice) !== link) return;
    // Trust on first use, of a key the handshake proved (the link checked it equals the directory's).
    if (this.pins.observe(s.username, peerDevice, s.remoteStatic, Date.now()).status === 'new') void this.savePins();
    this.sessionsByDevice.set(peerDevice, s);
    s.once('close', () => {
      if (this.sessionsByDevice.get(peerDevice) === s) this.sessionsByDevice.delete(peerDevice);
      if (this.links.get(peerDevice) === link) this.links.delete(peerDevice);
    });
    this.log(`session with ${s.username}: ${s.path.kind} via ${s.path.remote}`);
    if (!this.connecting.has(s.username)) this.emit('session', s);
  }

  private hostCandidate(): Candidate {
    return candidate('host', { address: this.hosts[0], port: this.mux.local.port });
  }

  // ---- push channel ----

  private onPush(m: PushMessage): void {
    if (this.closing) return;
    if (m.type === 'rendezvous') {
      if (m.deviceId !== this.deviceId) return;
      if (!this.seen.has(m.id) && !this.takeRendezvousToken(m.peer.deviceId)) {
        this.log(`rendezvous ${m.id.slice(0, 8)} from ${m.peer.username}: too many from that device (more than ${RENDEZVOUS_BURST}, then ${RENDEZVOUS_PER_S}/s); ignored`);
        return;
      }
      if (m.replayed) this.log(`rendezvous ${m.id.slice(0, 8)} from ${m.peer.username} replayed by the directory on a new push channel${this.seen.has(m.id) ? ' (had it)' : ''}`);
      const r = this.onRendezvous(m, this.clock.now());
      if (r instanceof PeerError) this.log(`incoming rendezvous from ${m.peer.username} refused: ${r.message}`);
    } else if (m.type === 'presence') {
      const p = m.presence;
      // A live link learns the contact's new addresses (a moved NAT mapping, another network).
      const live = this.links.get(p.deviceId);
      if (live && !live.isClosed && p.status !== 'offline') {
        live.updateRemoteCandidates(p.candidates);
        // Our call may have gone to a push channel the contact lost when it moved.
        if (!live.isSettled && this.connecting.has(p.username)) this.scheduleRedial(p.username, live);
      }
      const nat = p.nat ? fromDirectoryNat(p.nat) : undefined;
      const session = this.sessions().find((s) => s.username === p.username);
      this.emit('presence', { username: p.username, presence: p.status, ...(session ? { path: session.path } : {}), ...(nat ? { nat: formatNatType(nat) } : {}) });
    }
  }

  /**
   * A call in progress whose contact has shown no sign of it REDIAL_QUIET_MS after the start,
   * while the contact republished its presence (it moved, its push channel reopened): the
   * rendezvous probably went to a push channel the contact had lost. Call again with a new
   * rendezvous (at most REDIAL_MAX times per connect()); connect() follows the new link.
   */
  private scheduleRedial(username: string, link: ContactLink): void {
    if (this.redialScheduled.has(link)) return;
    this.redialScheduled.add(link);
    const h = this.clock.setTimer(Math.max(this.clock.now() + REDIAL_AFTER_PRESENCE_MS, link.startAt + REDIAL_QUIET_MS), () => {
      const i = this.intervals.indexOf(h);
      if (i >= 0) this.intervals.splice(i, 1);
      void this.redial(username, link);
    });
    this.intervals.push(h);
  }

  private async redial(username: string, link: ContactLink): Promise<void> {
    const stillQuiet = () => !this.closing && this.links.get(link.peerDeviceId) === link && !link.isClosed && !link.isSettled && !link.heardFromContact && this.connecting.has(username);
    const n = this.redials.get(username) ?? 0;
    if (!stillQuiet() || n >= REDIAL_MAX) return;
    this.redials.set(username, n + 1);
    this.log(`${username}: no sign of the contact ${REDIAL_QUIET_MS} ms after the start, and it republished its presence: calling again`);
    let r: Rendezvous;
    try { r = await this.dir.rendezvous(this.deviceId, username, link.peerDeviceId); } catch (e) { this.log(`${username}: calling again failed: ${(e as Error).message}`); return; }
    // The call ended meanwhile (failed, refused) and its link is gone: nothing to follow.
    if (this.closing || (!this.connecting.has(username) && this.links.get(link.peerDeviceId) !== link)) return;
    // The contact takes this later rendezvous (a callee keeps the later one) even if the first
    // got through meanwhile: follow it whatever happened during the request. Its push copy may
    // have come first and been set aside (both calling, ours the larger id): this answer is our
    // own latest call, so it replaces the link.
    if (this.seen.get(r.id) === undefined) this.seen.delete(r.id);
    this.onRendezvous(r, this.clock.now(), true);
  }

  // ---- NAT, supernodes, presence ----

  /**
   * First a plain Binding to the directory's STUN endpoint: no answer after 3 s (200, 400,
   * 800, 1600 ms) means UDP is blocked; its OTHER-ADDRESS (RFC 5780) gives the alternate
   * port for the ADM/APDM test, its round trip the tests' RTO. Then the full classification with the supernode as second
   * vantage point — or, without one on another IP (everything on 127.0.0.1), only the
   * mapping: same as a host address = no NAT, else a NAT assumed the worst (APDM/APDF).
   */
  private async classify(secondary: UdpAddress): Promise<void> {
    const first = await this.bindPrimary();
    if (this.closing) return;
    if (!first) {
      this.classification = { nat: { udp: 'blocked' }, certain: true, notes: [`no answer from ${formatAddress(this.stunAddr)}`] };
      return;
    }
    const localAddresses = this.hosts.map((address) => ({ address, port: this.mux.local.port }));
    if (secondary.address === this.stunAddr.address) {
      const isHost = localAddresses.some((a) => sameAddress(a, first.mapped));
      this.classification = {
        nat: { udp: 'open', mapping: isHost ? 'none' : 'APDM', filtering: 'APDF' }, mapped: first.mapped, certain: false,
        notes: ['no second vantage point with another IP address: mapping toward the directory only'],
      };
      return;
    }
    const altPort = this.opts.stunAltPort ?? (first.other && first.other.port !== this.stunAddr.port ? first.other.port : undefined);
    const primaryAltPort = altPort ? { address: this.stunAddr.address, port: altPort } : undefined;
    // Tests that get no answer (the filtering ones, behind most NATs) cost 7 RTOs: scale the
    // RTO to the measured round trip (3x, 100 ms..1 s) instead of a fixed worst case.
    const rtoMs = Math.min(1000, Math.max(100, 3 * first.rttMs));
    this.classifier = new NatClassifier({ primary: this.stunAddr, secondary, primaryAltPort, localAddresses, rtoMs, maxTransmits: 3 }, this.clock.now());
    const done = new Promise<void>((res) => { this.natDone = res; });
    this.pumpClassifier();
    return done;
  }

  /** A Binding to the directory's STUN endpoint, retransmitted after 200, 400, 800 ms; undefined after 3 s of silence. */
  private async bindPrimary(): Promise<(BindingAnswer & { rttMs: number }) | undefined> {
    let answer: (BindingAnswer & { rttMs: number }) | undefined;
    let wake = () => {};
    const txs: string[] = [];
    try {
      for (let i = 0, wait = 200; i < 4 && !this.closing && !answer; i++, wait *= 2) {
        const tx = this.txId();
        txs.push(tx);
        const sentAt = this.clock.now();
        this.waitingBindings.set(tx, (a) => { answer = { ...a, rttMs: this.clock.now() - sentAt }; wake(); });
        this.mux.send(this.stunAddr, this.bindings.encode(tx, this.stunAddr));
        await Promise.race([this.sleep(wait), new Promise<void>((res) => { wake = res; })]);
      }
    } finally {
      for (const tx of txs) this.waitingBindings.delete(tx);
    }
    return answer;
  }

  private pumpClassifier(): void {
    const c = this.classifier;
    if (!c || this.closing) return;
    for (let p = c.pollProbe(); p; p = c.pollProbe()) this.mux.send(p.to, this.probeCodec.encodeProbe(p));
    const result = c.result();
    if (result) {
      this.classification = result;
      this.classifier = undefined;
      this.classifierTimer?.cancel();
      this.natDone?.();
      return;
    }
    const at = c.pollTimeout();
    this.classifierTimer?.cancel();
    if (at !== undefined) this.classifierTimer = this.clock.setTimer(at, () => { c.handleTimeout(this.clock.now()); this.pumpClassifier(); });
  }

  private pumpPicker(): void {
    if (this.closing) return;
    for (let t = this.picker.pollTransmit(); t; t = this.picker.pollTransmit()) this.mux.send(t.to, this.bindings.encode(t.txId, t.to));
    for (let e = this.picker.pollEvent(); e; e = this.picker.pollEvent()) {
      if (e.type === 'none-reachable') { this.log('no supernode reachable'); this.supernode = undefined; } else {
        const ref = e.type === 'selected' ? e.supernode : e.to;
        this.supernode = ref.address;
        this.log(`supernode ${ref.id.slice(0, 8)} at ${formatAddress(ref.address)} (${e.type}, srtt ${e.srttMs.toFixed(1)} ms)`);
      }
      this.pickedOnce?.();
      this.pickedOnce = undefined;
      if (this.push) void this.publish(false).catch((err: Error) => this.log(`presence update failed: ${err.message}`));
    }
    const at = this.picker.pollTimeout();
    this.pickerTimer?.cancel();
    if (at !== undefined) this.pickerTimer = this.clock.setTimer(at, () => { this.picker.handleTimeout(this.clock.now()); this.pumpPicker(); });
  }

  private onUnclaimed(from: UdpAddress, bytes: Uint8Array): void {
    if (this.serving?.offer(from, bytes)) return;
    if (!StunProbeCodec.isStun(bytes)) return;
    if (sameAddress(from, this.stunAddr) && isBindingIndication(bytes)) {
      // The directory's nudge: a rendezvous for us went unacknowledged on our push channel,
      // which may be dead (docs/protocol/directory.md). Ping it now (2 s deadline, rate-limited).
      this.log('nudged by the directory: checking the push channel');
      this.push?.suspect();
      return;
    }
    const now = this.clock.now();
    if (this.classifier) {
      const r = this.probeCodec.decodeResponse(bytes, from);
      if (r) { this.classifier.handleResponse(now, r.probeId, r.fact); this.pumpClassifier(); return; }
      const unsupported = this.probeCodec.decodeError(bytes);
      if (unsupported !== undefined) { this.classifier.handleUnsupported(now, unsupported); this.pumpClassifier(); return; }
    }
    const a = this.bindings.handle(from, bytes);
    if (!a) return;
    const waiting = this.waitingBindings.get(a.txId);
    if (waiting) { waiting(a); return; }
    if (a.txId === this.keepaliveTx) {
      const old = this.classification?.mapped;
      if (this.classification && (!old || !sameAddress(old, a.mapped))) {
        this.log(`NAT mapping moved: ${old ? formatAddress(old) : 'none'} -> ${formatAddress(a.mapped)}`);
        this.classification = { ...this.classification, mapped: a.mapped };
        // a moved mapping usually means a new network: our host addresses may have changed too
        this.hosts = hostAddresses(this.opts);
        // ... and our push channel's TCP connection went with the old mapping: open a new one now
        this.push?.moved();
        void this.publish(false).catch((e: Error) => this.log(`presence update after the move failed (retrying): ${e.message}`));
      }
      return;
    }
    this.picker.handleResponse(now, a.txId, from);
    this.pumpPicker();
  }

  /**
   * Our interfaces' addresses changed (another network, a new DHCP lease): re-check the NAT
   * mapping now, open a new push channel (the old one's TCP connection used the old address)
   * and republish. Polled every HOST_WATCH_MS (os.networkInterfaces(): local, cheap).
   */
  private checkHostAddresses(): void {
    const now = hostAddresses(this.opts);
    if (now.length === this.hosts.length && now.every((a) => this.hosts.includes(a))) return; // same set (order may vary)
    this.log(`host addresses changed: ${this.hosts.join(', ')} -> ${now.join(', ')}`);
    this.hosts = now;
    this.push?.moved();
    if (!this.tcpMode) this.keepalive();
    void this.publish(false).catch((e: Error) => this.log(`presence update after the address change failed (retrying): ${e.message}`));
  }

  /** A path died: maybe we changed networks. Re-check our mapping now (at most once a second). */
  private recheckMapping(): void {
    this.push?.suspect(); // is our push channel still alive? (pinged, rate-limited)
    const now = this.clock.now();
    if (this.closing || this.tcpMode || now - this.lastKeepaliveAt < 1000) return;
    this.keepalive();
  }

  private keepalive(): void {
    this.lastKeepaliveAt = this.clock.now();
    this.keepaliveTx = this.txId();
    this.mux.send(this.stunAddr, this.bindings.encode(this.keepaliveTx, this.stunAddr));
  }

  /** Our presence candidates: host + srflx + relay (only relay when forced). */
  private candidates(): DirCandidate[] {
    const out: DirCandidate[] = [];
    const port = this.mux.local.port;
    if (!this.opts.forceRelay && this.classification?.nat.udp !== 'blocked') {
      for (const address of this.hosts) out.push({ kind: 'host', address, port });
      const m = this.classification?.mapped;
      if (m && !this.hosts.some((h) => h === m.address && port === m.port)) out.push({ kind: 'srflx', address: m.address, port: m.port });
    }
    if (this.supernode) out.push({ kind: 'relay', address: this.supernode.address, port: this.supernode.port });
    return out.slice(0, 16);
  }

  private async publish(force: boolean): Promise<void> {
    if (this.closing) return;
    const nat = this.classification ? toDirectoryNat(this.classification.nat) : null;
    const body = { deviceId: this.deviceId, status: 'online' as const, candidates: this.candidates(), nat, supernode: this.supernode ?? null };
    const text = JSON.stringify(body);
    if (!force && text === this.published) return;
    this.published = text;
    try {
      await this.dir.setPresence(body);
      this.publishRetryMs = 0;
    } catch (e) {
      // not published: the same content must be sent again, and soon (after a network change
      // the first request often dies with the old address's connection)
      if (this.published === text) this.published = undefined;
      if (retryablePublish(e)) {
        this.schedulePublishRetry();
        this.push?.suspect();
      }
      throw e;
    }
  }

  private schedulePublishRetry(): void {
    if (this.closing || this.publishRetry) return;
    this.publishRetryMs = Math.min(this.publishRetryMs ? this.publishRetryMs * 2 : 250, 8000);
    const h = this.clock.setTimer(this.clock.now() + this.publishRetryMs, () => {
      const i = this.intervals.indexOf(h);
      if (i >= 0) this.intervals.splice(i, 1);
      this.publishRetry = undefined;
      if (this.closing) return;
      void this.publish(false).catch((e: Error) => this.log(`presence update failed (retrying): ${e.message}`));
    });
    this.publishRetry = h;
    this.intervals.push(h);
  }

  private async savePins(): Promise<void> {
    try { await saveKeyPins(this.pinsPath, this.pins); } catch (e) { this.log(`saving key pins failed: ${(e as Error).message}`); }
  }

  private txId(): string {
    return Buffer.from(this.random.fill(new Uint8Array(12))).toString('hex');
  }

  /** Run `cb` every `ms` until close (one re-armed timer per periodic job). */
  private every(ms: number, cb: () => void): void {
    const slot: TimerHandle = { cancel: () => h.cancel() };
    let h: TimerHandle;
    const arm = () => { h = this.clock.setTimer(this.clock.now() + ms, () => { if (this.closing) return; cb(); arm(); }); };
    arm();
    this.intervals.push(slot);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const h = this.clock.setTimer(this.clock.now() + ms, () => { const i = this.intervals.indexOf(h); if (i >= 0) this.intervals.splice(i, 1); res(); });
      this.intervals.push(h);
    });
  }
}
