// The real Peer (startPeer, src/overlay/peer.ts) in the simulator: NAT classification,
// supernode pick, presence, rendezvous, ContactLink (relay ticket + RelayClient, CheckAgent
// + PeerLink, Noise IK transport) on simulated UDP through the simulator's RFC 4787 NATs,
// in virtual time. Stood in, and only these:
//   - the directory's HTTP API and push channel: `SimDirectory`, an in-memory object with
//     the DirectoryClient methods the Peer calls, answering after the simulated round trip
//     to the directory host and building rendezvous like src/directory/http/routes/
//     rendezvous.ts (punch delay 300 ms, tickets signed with the real ticket codec); push
//     channels answer pings after the round trip and survive a move unless the test cuts
//     them (`SimDirectory.cutPush`: a TCP connection that died with the old address); with
//     `SimDirectory.replay` set, rendezvous a device has not received are kept and replayed
//     to its next push channel as the directory does (src/directory/push/replay.ts, the real
//     buffer; a delivered one counts as acknowledged, as the real client acks at once) and,
//     with `SimDirectory.nudge` set too, a callee that has not acknowledged its copy 1 s later
//     gets a STUN Binding indication at its srflx candidates (src/directory/push/nudge.ts);
//   - TCP: `pipeConnector`, a reliable in-order byte pipe with the path's one-way latency
//     between a device and the supernode (made only with the simulator's clock), carrying
//     the real relay framing through the Peer's RelayStreamFallback and the supernode's
//     RelayStreamServer (relay-stream-mux.ts; TCP itself is node:net in relay-tcp.ts).
// The supernode is the real SupernodeCore + Driver on a simulated socket; the directory's
// STUN endpoint is the real RFC 5780 StunServer. Async code (the Peer awaits) runs by
// stepping virtual time 1 ms at a time and letting the event loop turn in between
// (`SimLoop.until`), so async continuations see the clock up to 1 ms late.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sodium from 'sodium-native';
import { Network, type Host, type Link, type NatOptions } from '../../src/sim/index.ts';
import { Driver } from '../../src/datagram/driver.ts';
import { StunServer } from '../../src/directory/stun-server.ts';
import { SupernodeCore } from '../../src/overlay/supernode.ts';
import { directoryTicketVerifier } from '../../src/overlay/ticket-verifier.ts';
import { startPeer, type PeerOptions } from '../../src/overlay/peer.ts';
import type { PeerNode } from '../../src/overlay/peer-api.ts';
import type { NatType } from '../../src/overlay/nat-types.ts';
import { seededRandom } from '../../src/transport/random.ts';
import type { Clock, UdpAddress } from '../../src/wire/socket.ts';
import { formatAddress } from '../../src/wire/socket.ts';
import { signTicket } from '../../src/wire/ticket.ts';
import type { DirectoryClient, Device, Presence, PresenceUpdate, PushMessage, Rendezvous, Supernode } from '../../src/directory/client.ts';
import { DirectoryError } from '../../src/directory/client.ts';
import { RendezvousReplay } from '../../src/directory/push/replay.ts';
import { NUDGE_AFTER_MS } from '../../src/directory/push/nudge.ts';
import { RelayStreamServer, type RelayByteStream, type RelayStreamConnector, type RelayStreamHandlers } from '../../src/overlay/relay-stream-mux.ts';

export const PUNCH_DELAY_MS = 300;
const TICKET_TTL_MS = 10 * 60_000;

interface SimAccount {
  readonly username: string;
  /** Simulated one-way latency between this user's device and the directory host. */
  readonly oneWayMs: number;
  device?: Device;
  presence?: Presence;
  /** Open push channels (the directory's side): several while one replaces another. */
  readonly pushes: Set<SimPushConnection>;
}

/**
 * One push channel, as the directory sees it. `alive` false = its TCP connection died with
 * the device's old address (cutPush): the directory still counts it (it has not noticed),
 * but what it pushes and the device's pings are lost, and neither side gets a close.
 */
interface SimPushConnection { alive: boolean; deliver(m: PushMessage): void }

/** The directory as the Peer sees it (DirectoryClient's methods), in virtual time. */
export class SimDirectory {
  private readonly accounts = new Map<string, SimAccount>();
  private readonly publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES);
  private readonly secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES);
  private nextId = 1;
  /** Every rendezvous built, with the directory time it was built at. */
  readonly rendezvous: { id: string; at: number; from: string; to: string; calleeCopy?: Rendezvous }[] = [];
  /** Every push channel opened, with the directory time. */
  readonly pushOpens: { username: string; at: number }[] = [];
  /** Set: the directory replays unacknowledged rendezvous to a device's new push channel (off by default). */
  replay?: RendezvousReplay;
  /** Every rendezvous replayed: id, to whom, directory time. */
  readonly replays: { id: string; username: string; at: number }[] = [];
  /** With `replay`: how the directory sends a STUN nudge (simWorld: its StunServer's nudge). */
  nudge?: (to: UdpAddress) => void;
  /** Every nudge sent: to whom, directory time. */
  readonly nudges: { username: string; at: number }[] = [];

  constructor(private readonly clock: Clock, private readonly supernodeList: Supernode[], private readonly idSeed: number) {
    sodium.crypto_sign_keypair(this.publicKey, this.secretKey);
  }

  get directoryPublicKey(): Uint8Array {
    return new Uint8Array(this.publicKey);
  }

  /** The directory now gives `username`'s device this key (as after a re-registration or a compromise). */
  setDeviceKey(username: string, x25519: Uint8Array): void {
    const a = this.accounts.get(username)!;
    a.device = { ...a.device!, x25519: Buffer.from(x25519).toString('base64url') };
  }

  /** `username`'s push channels die silently (their TCP connections went with an old address). */
  cutPush(username: string): void {
    for (const c of this.accounts.get(username)!.pushes) c.alive = false;
  }

  /** Pushes `m` to every open push channel of `username` (tests: a crafted or late message). */
  pushTo(username: string, m: PushMessage): void {
    for (const c of this.accounts.get(username)!.pushes) c.deliver(m);
  }

  addUser(username: string, oneWayMs: number): void {
    this.accounts.set(username, { username, oneWayMs, pushes: new Set() });
  }

  /** A DirectoryClient for `username` (every user is a mutual contact of every other). */
  clientFor(username: string): DirectoryClient {
    const acct = this.accounts.get(username)!;
    const call = <T>(fn: () => T): Promise<T> => new Promise((res, rej) => {
      this.clock.setTimer(this.clock.now() + 2 * acct.oneWayMs, () => { try { res(fn()); } catch (e) { rej(e); } });
    });
    const c = {
      me: () => call(() => ({ username, createdAt: 0, updatedAt: 0 })),
      devices: () => call(() => (acct.device ? [acct.device] : [])),
      registerDevice: (d: { name: string; x25519: Uint8Array }) => call(() => {
        // Device ids: 16 bytes from the seed and a counter (which side is controlling varies by seed).
        const id = Buffer.alloc(16);
        id.writeUInt32BE((this.idSeed * 2654435761 + this.nextId++ * 40503) >>> 0, 0);
        id.writeUInt32BE(this.nextId, 12);
        acct.device = { id: id.toString('hex'), name: d.name, x25519: Buffer.from(d.x25519).toString('base64url'), ed25519: null, createdAt: this.clock.now() };
        return acct.device;
      }),
      supernodes: () => call(() => this.supernodeList.map((s) => ({ ...s }))),
      openPush: (o: { onMessage(m: PushMessage): void; onPong?(): void; onClose?(code: number, reason: string): void }) => call(() => {
        const conn: SimPushConnection = {
          alive: true,
          deliver: (m) => this.clock.setTimer(this.clock.now() + acct.oneWayMs, () => {
            if (!conn.alive) return;
            o.onMessage(m);
            if (m.type === 'rendezvous') this.replay?.ack(m.deviceId, m.id);
          }),
        };
        acct.pushes.add(conn);
        this.pushOpens.push({ username, at: this.clock.now() });
        if (this.replay && acct.device) {
          for (const m of this.replay.pending(this.clock.now(), acct.device.id) as Rendezvous[]) {
            this.replays.push({ id: m.id, username, at: this.clock.now() });
            conn.deliver(m);
          }
        }
        const end = () => {
          if (!acct.pushes.delete(conn)) return;
          conn.alive = false;
          this.clock.setTimer(this.clock.now(), () => o.onClose?.(1006, ''));
        };
        return {
          close: end, terminate: end, closed: new Promise<{ code: number; reason: string }>(() => {}),
          ping: () => { if (conn.alive) this.clock.setTimer(this.clock.now() + 2 * acct.oneWayMs, () => { if (conn.alive) o.onPong?.(); }); },
        };
      }),
      setPresence: (p: PresenceUpdate) => call(() => {
        acct.presence = { username, deviceId: p.deviceId, status: p.status, candidates: p.candidates, nat: p.nat ?? null, supernode: p.supernode ?? null, updatedAt: this.clock.now() };
        // Contacts get the change pushed (as the directory's presence fanout does).
        for (const other of this.accounts.values()) if (other !== acct) for (const c of other.pushes) c.deliver({ type: 'presence', presence: acct.presence });
      }),
      rendezvous: (deviceId: string, peerName: string) => new Promise<Rendezvous>((res, rej) => {
        // Request reaches the directory after one way; the answer comes back after another.
        this.clock.setTimer(this.clock.now() + acct.oneWayMs, () => {
          try {
            const r = this.buildRendezvous(acct, deviceId, peerName);
            this.clock.setTimer(this.clock.now() + acct.oneWayMs, () => res(r));
          } catch (e) { rej(e); }
        });
      }),
      ticket: (deviceId: string, peerDeviceId: string) => call(() => this.issue(deviceId, peerDeviceId)),
      contacts: () => call(() => [...this.accounts.keys()].filter((u) => u !== username).map((u) => ({ username: u, state: 'accepted' as const, updatedAt: 0 }))),
      presence: () => call(() => [...this.accounts.values()].filter((a) => a !== acct && a.presence).map((a) => a.presence!)),
    };
    return c as unknown as DirectoryClient;
  }

  private issue(a: string, b: string): { ticket: string; issuedAt: number; expiresAt: number } {
    const issuedAt = Math.floor(this.clock.now()), expiresAt = issuedAt + TICKET_TTL_MS;
    const bytes = signTicket({ issuedAt, expiresAt, deviceA: Buffer.from(a, 'hex'), deviceB: Buffer.from(b, 'hex') }, this.secretKey);
    return { ticket: Buffer.from(bytes).toString('base64url'), issuedAt, expiresAt };
  }

  private buildRendezvous(me: SimAccount, deviceId: string, peerName: string): Rendezvous {
    const them = this.accounts.get(peerName);
    if (!them) throw new DirectoryError(404, 'not_found', `no user ${peerName}`);
    if (!them.presence || !them.device || them.pushes.size === 0) throw new DirectoryError(409, 'conflict', `${peerName} has no online device`);
    const now = this.clock.now();
    const rid = `r${this.nextId++}`;
    const ticket = this.issue(deviceId, them.device.id);
    const side = (self: string, p: Presence, d: Device): Rendezvous => ({
      type: 'rendezvous', id: rid, serverTime: now, startAt: now + PUNCH_DELAY_MS, delayMs: PUNCH_DELAY_MS, deviceId: self,
      peer: { username: p.username, deviceId: p.deviceId, x25519: d.x25519, ed25519: d.ed25519, candidates: p.candidates, nat: p.nat, supernode: p.supernode },
      ticket: ticket.ticket, ticketExpiresAt: ticket.expiresAt,
    });
    const mine = me.presence ?? { username: me.username, deviceId, status: 'online', candidates: [], nat: null, supernode: null, updatedAt: now };
    const theirs = side(them.device.id, mine, me.device!);
    this.rendezvous.push({ id: rid, at: now, from: me.username, to: peerName, calleeCopy: theirs });
    this.replay?.keep(now, them.device.id, rid, theirs.startAt, theirs);
    for (const c of them.pushes) c.deliver(theirs);
    const srflx = them.presence.candidates.filter((c) => c.kind === 'srflx').slice(0, 2);
    if (this.replay && this.nudge && srflx.length) {
      const deviceId = them.device.id;
      this.clock.setTimer(now + NUDGE_AFTER_MS, () => {
        if (!this.replay?.has(deviceId, rid)) return;
        this.nudges.push({ username: them.username, at: this.clock.now() });
        for (const c of srflx) this.nudge?.({ address: c.address, port: c.port });
      });
    }
    return side(deviceId, them.presence, them.device);
  }
}

/**
 * Simulated TCP for relay streams: `connect` opens a reliable in-order byte pipe to the
 * supernode's RelayStreamServer with `oneWayMs` latency each way (handshake: the server
 * accepts after one way, the device is connected after a round trip). The server sees the
 * stream as coming from `externalAddress` and the next port from 40000.
 */
export function pipeConnector(clock: Clock, server: RelayStreamServer, supernode: UdpAddress, externalAddress: string, oneWayMs: number): RelayStreamConnector {
  let nextPort = 40_000;
  return (relay, dev) => {
    const from = { address: externalAddress, port: nextPort++ };
    let open = true;
    let toServer: RelayStreamHandlers | undefined;
    // In order: each delivery is scheduled no earlier than the previous one in that direction.
    const lane = () => {
      let last = 0;
      return (fn: () => void) => { last = Math.max(last, clock.now() + oneWayMs); clock.setTimer(last, fn); };
    };
    const up = lane(), down = lane();
    const close = () => {
      if (!open) return;
      open = false;
      up(() => toServer?.onClose());
      down(() => dev.onClose());
    };
    const deviceEnd: RelayByteStream = {
      write: (b) => { if (!open) return; const copy = b.slice(); up(() => { if (open) toServer?.onData(copy); }); },
      writableLength: 0,
      destroy: close,
    };
    const serverEnd: RelayByteStream = {
      write: (b) => { if (!open) return; const copy = b.slice(); down(() => { if (open) dev.onData(copy); }); },
      writableLength: 0,
      destroy: close,
    };
    up(() => {
      if (formatAddress(relay) !== formatAddress(supernode)) { open = false; down(() => { dev.onError('connection refused'); dev.onClose(); }); return; }
      toServer = server.accept(from, serverEnd);
      if (!toServer) { close(); return; }
      down(() => dev.onConnect());
    });
    return deviceEnd;
  };
}

/** Real file-system requests in flight in this process (the Peer's state files). */
const fsPending = () => process.getActiveResourcesInfo().some((r) => r.startsWith('FSReq'));

/**
 * Runs the simulator in 1 ms steps, letting async code run between steps. Virtual time
 * does not advance while a real file-system request is in flight (up to 2 s of real time
 * per step): otherwise a slow disk on a loaded machine would let thousands of virtual
 * milliseconds pass while the Peer writes device.json, and timing would depend on load.
 */
export class SimLoop {
  constructor(private readonly net: Network) {}

  /** Step until `done()` or `maxMs` of virtual time passed; returns whether `done()` held. */
  async until(done: () => boolean, maxMs: number): Promise<boolean> {
    const end = this.net.clock.now() + maxMs;
    while (!done()) {
      if (this.net.clock.now() >= end) return false;
      this.net.runFor(1);
      await new Promise<void>((r) => setImmediate(r));
      for (const t0 = performance.now(); fsPending() && performance.now() - t0 < 2000;) await new Promise<void>((r) => setImmediate(r));
    }
    return true;
  }

  /** Await `p` while stepping virtual time (rejects after `maxMs`). */
  async settle<T>(p: Promise<T>, maxMs: number): Promise<T> {
    let state: { ok: true; v: T } | { ok: false; e: unknown } | undefined;
    p.then((v) => { state = { ok: true, v }; }, (e: unknown) => { state = { ok: false, e }; });
    if (!await this.until(() => state !== undefined, maxMs)) throw new Error(`not settled within ${maxMs} virtual ms`);
    if (!state!.ok) throw state!.e;
    return state!.v;
  }
}

/** A fresh state directory; remove with `cleanup()`. */
export function tempStateDirs(): { dir(name: string): string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'tincan-simpeer-'));
  return { dir: (name) => join(root, name), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

// ---- a two-user world: directory STUN, one supernode, alice and bob behind chosen NATs ----

export const ACCESS_MS = 10; // one way, NAT/host to core
export const LAN_MS = 1;
export const CORE_MS = 5; // core to the directory / supernode hosts
export const P2P_RTT_MS = 2 * (LAN_MS + ACCESS_MS + ACCESS_MS + LAN_MS);
export const ONE_WAY_TO_SERVERS_MS = LAN_MS + ACCESS_MS + CORE_MS;
export const SUPERNODE: UdpAddress = { address: '198.51.100.20', port: 3479 };
const PUBLIC_IP = { alice: '198.51.100.2', bob: '198.51.100.3' } as const;
const LAN_IP = { alice: '192.0.2.2', bob: '192.0.2.66' } as const;

const behaviour = (k: NatType): Pick<NatOptions, 'mapping' | 'filtering'> => {
  if (k.udp === 'blocked') return { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' };
  const m = { EIM: 'endpoint-independent', ADM: 'address-dependent', APDM: 'address-and-port-dependent', none: 'endpoint-independent' } as const;
  const f = { EIF: 'endpoint-independent', ADF: 'address-dependent', APDF: 'address-and-port-dependent' } as const;
  return { mapping: m[k.mapping], filtering: f[k.filtering] };
};

export interface SimWorld {
  readonly net: Network;
  readonly loop: SimLoop;
  readonly dir: SimDirectory;
  readonly stun: StunServer;
  readonly supernode: SupernodeCore;
  readonly supernodeSocket: RelayStreamServer;
  readonly logs: string[];
  /** startPeer for 'alice' or 'bob' on its simulated host, settled in virtual time. */
  start(name: 'alice' | 'bob', extra?: Partial<PeerOptions>): Promise<PeerNode>;
  /** Move a user's host (same LAN address, same socket) behind a new NAT with another public address. */
  move(name: 'alice' | 'bob', kind: NatType, publicIp: string): void;
  /** Take a user's host link (host to its NAT or the core) down or up: no datagram in or out. */
  setHostLinkUp(name: 'alice' | 'bob', up: boolean): void;
}

/**
 * alice and bob each behind a NAT of the given kind (NAT_KINDS; 'public' = no NAT; a
 * 'UDP-blocked' NAT drops all UDP on its uplink), the directory's STUN server on
 * 198.51.100.10/.11, the supernode on 198.51.100.20:3479, all joined by one core router.
 */
export function simWorld(kindA: NatType, kindB: NatType, seed: number, stateDir: (name: string) => string): SimWorld {
  const net = new Network({ seed, log: false });
  const loop = new SimLoop(net);
  const core = net.addRouter('core');
  const rv1 = net.addHost('rv1', '198.51.100.10');
  const rv2 = net.addHost('rv2', '198.51.100.11');
  const snHost = net.addHost('supernode', SUPERNODE.address);
  for (const h of [rv1, rv2, snHost]) net.connect(h, core, { latencyMs: CORE_MS });
  const hostLinks: Partial<Record<'alice' | 'bob', Link>> = {};
  const behindNat = (name: 'alice' | 'bob', h: Host, t: NatType, publicIp: string, natName: string) => {
    const nat = net.addNat(natName, { externalAddress: publicIp, ...behaviour(t) });
    hostLinks[name] = net.connect(h, nat.inside, { latencyMs: LAN_MS });
    net.connect(nat.outside, core, { latencyMs: ACCESS_MS, lossRate: t.udp === 'blocked' ? 1 : 0 });
  };
  const side = (name: 'alice' | 'bob', t: NatType): Host => {
    if (t.udp === 'open' && t.mapping === 'none') {
      const h = net.addHost(name, PUBLIC_IP[name]);
      hostLinks[name] = net.connect(h, core, { latencyMs: ACCESS_MS + LAN_MS });
      return h;
    }
    const h = net.addHost(name, LAN_IP[name]);
    behindNat(name, h, t, PUBLIC_IP[name], `${name}-nat`);
    return h;
  };
  const hosts = { alice: side('alice', kindA), bob: side('bob', kindB) };
  let moves = 0;
  const move = (name: 'alice' | 'bob', t: NatType, publicIp: string) => {
    if (hosts[name].address !== LAN_IP[name]) throw new Error('move: only a host behind a NAT can move');
    net.disconnect(hostLinks[name]!);
    behindNat(name, hosts[name], t, publicIp, `${name}-nat-${++moves}`);
    net.autoRoute();
  };
  net.autoRoute();
  const stun = new StunServer({ primary: rv1.bindUdp(3478), altPort: rv1.bindUdp(3479), altIp: rv2.bindUdp(3478), altBoth: rv2.bindUdp(3479) });
  const dir = new SimDirectory(net.clock, [{ id: 'sn-1', address: SUPERNODE.address, port: SUPERNODE.port, capacity: 100, load: 0, lastHeartbeat: 0 }], seed);
  dir.nudge = (to) => stun.nudge(to); // used only when a test sets dir.replay
  dir.addUser('alice', ONE_WAY_TO_SERVERS_MS);
  dir.addUser('bob', ONE_WAY_TO_SERVERS_MS);
  const supernodeSocket = new RelayStreamServer(snHost.bindUdp(SUPERNODE.port));
  let sid = BigInt(seed) << 32n;
  const supernode = new SupernodeCore({ relay: { verifier: directoryTicketVerifier(dir.directoryPublicKey), newSessionId: () => ++sid } }, net.clock.now());
  new Driver(supernode, supernodeSocket, net.clock).wake();
  const logs: string[] = [];
  const start = (name: 'alice' | 'bob', extra: Partial<PeerOptions> = {}) => loop.settle(startPeer({
    directory: dir.clientFor(name), directoryUrl: 'http://198.51.100.10:7400', stateDir: stateDir(name),
    socket: hosts[name].bindUdp(5000), clock: net.clock, random: seededRandom(seed * 2 + (name === 'alice' ? 0 : 1)),
    relayStreams: pipeConnector(net.clock, supernodeSocket, SUPERNODE, PUBLIC_IP[name], ONE_WAY_TO_SERVERS_MS),
    stun: { address: '198.51.100.10', port: 3478 }, hostAddresses: [hosts[name].address], supernodeOptOut: true, deviceName: name,
    log: (l) => logs.push(`${net.clock.now().toFixed(0)} ${name}: ${l}`),
    ...extra,
  }), 10_000);
  const setHostLinkUp = (name: 'alice' | 'bob', up: boolean) => hostLinks[name]!.setUp(up);
  return { net, loop, dir, stun, supernode, supernodeSocket, logs, start, move, setHostLinkUp };
}
