// Typed client for the directory (HTTP + WebSocket push), for peers and tools.
//
// Usage:
//   const dir = new DirectoryClient('http://127.0.0.1:7400');
//   await dir.register('alice', 'a long password');
//   await dir.login('alice', 'a long password');        // keeps the bearer token
//   const dev = await dir.registerDevice({ name: 'laptop', x25519: staticPublicKey });
//   await dir.requestContact('bob');                      // bob: acceptContact('alice')
//   const push = await dir.openPush({ deviceId: dev.id, onMessage: (m) => ... });
//   await dir.setPresence({ deviceId: dev.id, status: 'online', candidates: [...], nat, supernode: null });
//   const r = await dir.rendezvous(dev.id, 'bob');        // bob gets a 'rendezvous' push too
//   // both sides start punching at receiveTime + r.delayMs; r.ticket lets a supernode relay
//   const key = await dir.directoryKey();                 // verify tickets with src/wire/ticket.ts
//   push.close(); await dir.logout();
//
// Contract: every method resolves with the parsed JSON body, or rejects with
// DirectoryError { status, code, message } for any non-2xx answer (status 0 for
// network errors). Keys go in as Uint8Array and come back as base64url strings
// (decode with Buffer.from(s, 'base64url')). No method logs anything.
import WebSocket from 'ws';

export type PresenceStatus = 'online' | 'away' | 'offline';
export type NatKind = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';
export interface Candidate { kind: 'host' | 'srflx' | 'relay'; address: string; port: number }
export interface NatBehaviour { mapping: NatKind; filtering: NatKind }
export interface Endpoint { address: string; port: number }
export interface Session { token: string; expiresAt: number; username: string }
export interface Device { id: string; name: string; x25519: string; ed25519: string | null; createdAt: number }
export type ContactState = 'outgoing' | 'incoming' | 'accepted' | 'blocked';
export interface Contact { username: string; state: ContactState; updatedAt: number }
export interface Presence { username: string; deviceId: string; status: PresenceStatus; candidates: Candidate[]; nat: NatBehaviour | null; supernode: Endpoint | null; updatedAt: number }
export interface PresenceUpdate { deviceId: string; status: PresenceStatus; candidates: Candidate[]; nat?: NatBehaviour | null; supernode?: Endpoint | null }
export interface Supernode {
  id: string; address: string; port: number; capacity: number; load: number; lastHeartbeat: number;
  /** Address prefix (bits, whole octets) shared with the client the list was ordered for. */
  prefixBits?: number;
}
export interface Ticket { ticket: string; issuedAt: number; expiresAt: number }
export interface Rendezvous {
  type: 'rendezvous';
  id: string;
  /** Directory clock when sent, and when to start punching (directory clock). */
  serverTime: number; startAt: number;
  /** startAt - serverTime: start punching this long after receiving the message. */
  delayMs: number;
  /** Which of your devices this concerns. */
  deviceId: string;
  peer: { username: string; deviceId: string; x25519: string; ed25519: string | null; candidates: Candidate[]; nat: NatBehaviour | null; supernode: Endpoint | null };
  /** base64url relay ticket for (deviceId, peer.deviceId). */
  ticket: string; ticketExpiresAt: number;
  /**
   * Push only: a rendezvous the directory sent again when this push channel opened (it was issued
   * while the device had no live channel, or never acknowledged); delayMs is then what remains
   * until startAt (0 once passed). Deduplicate by id.
   */
  replayed?: true;
}
export type PushMessage =
  | { type: 'hello'; username: string; deviceId: string | null; serverTime: number }
  | { type: 'presence'; presence: Presence }
  | { type: 'contact'; username: string; state: ContactState | 'none' }
  | Rendezvous;

export class DirectoryError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); this.name = 'DirectoryError'; }
}

export interface PushChannel {
  close(): void;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** A WebSocket ping; openPush's onPong runs when the answer arrives. */
  ping(): void;
  /** Drop the connection at once, without a closing handshake (it is dead). */
  terminate(): void;
}

/** A request that got no answer: 'timeout' when it ran out of time, else 'network' with the cause's message. */
function networkError(method: string, path: string, e: unknown, timeoutMs: number): DirectoryError {
  const name = (e as Error)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return new DirectoryError(0, 'timeout', `${method} ${path}: no answer within ${timeoutMs} ms`);
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return new DirectoryError(0, 'network', `${method} ${path}: ${(e as Error).message}${cause?.code ? ` (${cause.code})` : ''}`);
}

const PRESENCE_TIMEOUT_MS = 3_000;

const b64u = (k: Uint8Array) => Buffer.from(k).toString('base64url');
const seg = (s: string) => encodeURIComponent(s);

export class DirectoryClient {
  private readonly base: string;

  /** Each request is abandoned after `timeoutMs` (default 10 s) with a DirectoryError code 'timeout'. */
  constructor(baseUrl: string, public token?: string, private readonly timeoutMs = 10_000) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async request<T>(method: string, path: string, body?: unknown, auth = true, timeoutMs = this.timeoutMs): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) {
      if (!this.token) throw new DirectoryError(401, 'unauthorized', 'not logged in');
      headers.authorization = `Bearer ${this.token}`;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw networkError(method, path, e, timeoutMs);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw networkError(method, path, e, timeoutMs);
    }
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (!res.ok) {
      const err = json as { error?: string; message?: string } | undefined;
      throw new DirectoryError(res.status, err?.error ?? 'http', err?.message ?? `${method} ${path}: HTTP ${res.status}`);
    }
    return json as T;
  }

  // accounts
  register(username: string, password: string): Promise<{ username: string; createdAt: number }> { return this.request('POST', '/v1/accounts', { username, password }, false); }
  async login(username: string, password: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/v1/sessions', { username, password }, false);
    this.token = s.token;
    return s;
  }
  async logout(): Promise<void> { await this.request('DELETE', '/v1/sessions/current'); this.token = undefined; }
  async changePassword(oldPassword: string, newPassword: string): Promise<void> { await this.request('PUT', '/v1/me/password', { oldPassword, newPassword }); }
  me(): Promise<{ username: string; createdAt: number; updatedAt: number }> { return this.request('GET', '/v1/me'); }
  /** Deletes this account (password again); the client is logged out. */
  async deleteAccount(password: string): Promise<void> { await this.request('DELETE', '/v1/account', { password }); this.token = undefined; }

  // devices
  registerDevice(d: { name: string; x25519: Uint8Array; ed25519?: Uint8Array }): Promise<Device> {
    return this.request('POST', '/v1/devices', { name: d.name, x25519: b64u(d.x25519), ...(d.ed25519 ? { ed25519: b64u(d.ed25519) } : {}) });
  }
  async devices(): Promise<Device[]> { return (await this.request<{ devices: Device[] }>('GET', '/v1/devices')).devices; }
  async deleteDevice(id: string): Promise<void> { await this.request('DELETE', `/v1/devices/${seg(id)}`); }
  /** A mutual contact's devices and their public keys. */
  async contactDevices(username: string): Promise<Device[]> { return (await this.request<{ devices: Device[] }>('GET', `/v1/users/${seg(username)}/devices`)).devices; }

  // contacts
  async contacts(): Promise<Contact[]> { return (await this.request<{ contacts: Contact[] }>('GET', '/v1/contacts')).contacts; }
  requestContact(username: string): Promise<{ username: string; state: ContactState }> { return this.request('POST', `/v1/contacts/${seg(username)}/request`); }
  acceptContact(username: string): Promise<{ username: string; state: ContactState }> { return this.request('POST', `/v1/contacts/${seg(username)}/accept`); }
  declineContact(username: string): Promise<{ username: string; state: 'none' }> { return this.request('POST', `/v1/contacts/${seg(username)}/decline`); }
  blockContact(username: string): Promise<{ username: string; state: 'blocked' }> { return this.request('POST', `/v1/contacts/${seg(username)}/block`); }
  async removeContact(username: string): Promise<void> { await this.request('DELETE', `/v1/contacts/${seg(username)}`); }

  // presence
  /**
   * Presence is small and the directory answers it at once; a short timeout (<= 3 s) matters after a
   * network change, when a kept-alive connection bound to a vanished address swallows the request
   * (the caller retries on a fresh connection).
   */
  async setPresence(p: PresenceUpdate): Promise<void> { await this.request('PUT', '/v1/presence', p, true, Math.min(this.timeoutMs, PRESENCE_TIMEOUT_MS)); }
  /** Presence of all mutual contacts' devices. */
  async presence(): Promise<Presence[]> { return (await this.request<{ presence: Presence[] }>('GET', '/v1/presence')).presence; }
  async presenceOf(username: string): Promise<Presence[]> { return (await this.request<{ presence: Presence[] }>('GET', `/v1/presence/${seg(username)}`)).presence; }

  // supernodes
  registerSupernode(s: { address: string; port: number; capacity: number; load?: number }): Promise<{ id: string; heartbeatIntervalMs: number; expiresAfterMs: number }> {
    return this.request('POST', '/v1/supernodes', s);
  }
  async heartbeatSupernode(id: string, load: number): Promise<void> { await this.request('POST', `/v1/supernodes/${seg(id)}/heartbeat`, { load }); }
  /** Live supernodes, nearest to `near` (default: this client's address as the directory sees it) first, then least loaded. */
  async supernodes(limit?: number, near?: string): Promise<Supernode[]> {
    const q = new URLSearchParams({ ...(limit ? { limit: String(limit) } : {}), ...(near ? { near } : {}) }).toString();
    return (await this.request<{ supernodes: Supernode[] }>('GET', `/v1/supernodes${q ? `?${q}` : ''}`)).supernodes;
  }

  // rendezvous and tickets
  rendezvous(deviceId: string, username: string, peerDeviceId?: string): Promise<Rendezvous> {
    return this.request('POST', '/v1/rendezvous', { deviceId, username, ...(peerDeviceId ? { peerDeviceId } : {}) });
  }
  ticket(deviceId: string, peerDeviceId: string): Promise<Ticket> { return this.request('POST', '/v1/tickets', { deviceId, peerDeviceId }); }
  /** The directory's Ed25519 public key (32 bytes). */
  async directoryKey(): Promise<Uint8Array> {
    const r = await this.request<{ publicKey: string }>('GET', '/v1/directory-key', undefined, false);
    return new Uint8Array(Buffer.from(r.publicKey, 'base64url'));
  }

  /**
   * Opens the push channel. Resolves after the server's 'hello' (also passed
   * to onMessage). With deviceId, closing the channel marks that device offline.
   * Rejects with DirectoryError code 'timeout' when no hello came within `timeoutMs`
   * (default: this client's request timeout; the half-open socket is dropped), 'network'
   * on a socket error or a close before the hello, or the HTTP status when refused.
   * `ping()` sends a WebSocket ping; `onPong` runs for each pong (the directory answers
   * pings at once: a pong that does not come means the connection is dead). `terminate()`
   * drops the connection without a closing handshake (for a dead one); onClose still runs.
   * Every rendezvous received for `deviceId` is acknowledged to the directory (`{ type: 'ack', id }`,
   * after onMessage returned), so it is not replayed to a later channel of the device.
   */
  openPush(opts: { deviceId?: string; timeoutMs?: number; onMessage(m: PushMessage): void; onPong?(): void; onClose?(code: number, reason: string): void }): Promise<PushChannel> {
    if (!this.token) return Promise.reject(new DirectoryError(401, 'unauthorized', 'not logged in'));
    const url = this.base.replace(/^http/, 'ws') + '/v1/push' + (opts.deviceId ? `?device=${seg(opts.deviceId)}` : '');
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${this.token}` }, maxPayload: 1 << 20 });
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let hello = false;
    let fail: (e: DirectoryError) => void = () => {};
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => {
      if (!hello) fail(new DirectoryError(0, 'network', `push channel: closed before the directory's hello (${code})`));
      opts.onClose?.(code, reason.toString());
      resolve({ code, reason: reason.toString() });
    }));
    ws.on('pong', () => opts.onPong?.());
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        fail(new DirectoryError(0, 'timeout', `push channel: no hello within ${timeoutMs} ms`));
        ws.terminate();
      }, timeoutMs);
      fail = (e) => { if (settled) return; settled = true; clearTimeout(timer); reject(e); };
      ws.on('unexpected-response', (_req, res) => fail(new DirectoryError(res.statusCode ?? 0, 'push', `push channel refused: HTTP ${res.statusCode}`)));
      ws.on('error', (e) => fail(new DirectoryError(0, 'network', `push channel: ${e.message}`)));
      ws.on('message', (data) => {
        let m: PushMessage;
        try { m = JSON.parse(data.toString()) as PushMessage; } catch { return; }
        if (!hello && m.type === 'hello') {
          hello = true;
          if (settled) return; // timed out meanwhile: already terminated
          settled = true;
          clearTimeout(timer);
          resolve({ close: () => ws.close(1000), closed, ping: () => { if (ws.readyState === WebSocket.OPEN) ws.ping(); }, terminate: () => ws.terminate() });
        }
        opts.onMessage(m);
        if (m.type === 'rendezvous' && opts.deviceId && m.deviceId === opts.deviceId && typeof m.id === 'string' && ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify({ type: 'ack', id: m.id }));
        }
      });
    });
  }
}
