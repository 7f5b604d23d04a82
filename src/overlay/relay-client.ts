// The device side of the supernode relay (docs/protocol/relay.md), sans-IO.
//
// Contract:
//   const c = new RelayClient({ relay, deviceId, ticket }, now)   // sends BIND at once
//   c.handleDatagram(now, bytes)  for every datagram whose source is the relay; returns the
//                                 payload of a DATA (an encrypted transport packet) or undefined
//   c.handleTimeout(now) at c.pollTimeout(); drain c.pollTransmit() and c.pollEvent()
//   c.wrap(payload)               a DATA datagram for the peer, or undefined while not bound
//   c.updateTicket(now, ticket)   a fresh ticket from the directory: re-BIND with it
//   c.refresh(now)                re-BIND now (a path died: we may have moved)
// BIND is retransmitted after rtoMs, 2·rtoMs, ... up to maxTransmits, then 'failed'.
// Once bound, BIND is repeated every refreshMs (keeps the relay binding and our NAT
// mapping alive). Only answers carrying our BIND's request id (or, for errors to DATA, our
// session id) are ours: several clients may share one socket and relay. An ERROR to a
// BIND ends the client ('refused', with the code: e.g. TICKET_EXPIRED means "ask the
// directory for a new ticket") — except SIDE_TAKEN: our side is still bound at an address
// the relay heard from recently (we changed networks or our NAT rebound us, and the relay
// lets a side move only after 1 s of silence — 5 s in older relays), so the BIND is retried
// after sideTakenRetryMs, doubling up to 6 s, up to 8 times, before 'refused'. An UNKNOWN_SESSION error to our DATA
// (relay restarted, session swept, or we now send from another address) triggers an
// immediate re-BIND.
// Request ids must be unguessable in production (randomRequestIds(random)): an ERROR is
// unauthenticated and matched only by the relay's source address (public) and the id, so a
// sender spoofing the relay could otherwise end our binding by guessing it. The default
// counter (1, 2, 3, ...) is for tests only.
import type { Millis, UdpAddress } from '../wire/socket.ts';
import type { Random } from '../transport/random.ts';
import { decodeRelayMessage, encodeRelayMessage, RelayDecodeError, RelayErrorCode } from './relay-wire.ts';

export interface RelayClientConfig {
  readonly relay: UdpAddress;
  /** Our device id as the ticket names it (32 hex digits for a directory ticket). */
  readonly deviceId: string;
  readonly ticket: Uint8Array;
  readonly rtoMs?: Millis; // default 250
  readonly maxTransmits?: number; // default 5
  readonly refreshMs?: Millis; // default 15_000
  /** First wait before re-BINDing after SIDE_TAKEN (doubling up to 6 s; the relay's rebind-after-silence is 1 s, 5 s in older relays). Default 600. */
  readonly sideTakenRetryMs?: Millis;
  /**
   * Request ids for BINDs (echoed in BIND-OK / ERROR): distinct per client sharing a socket
   * and relay, and unguessable — production passes randomRequestIds(random). Default (TESTS
   * ONLY: guessable): a per-process counter.
   */
  readonly newRequestId?: () => number;
}

let requestCounter = 0;
const nextRequestId = () => (requestCounter = (requestCounter + 1) >>> 0 || 1);

/** Random non-zero 32-bit request ids from `random` (what production passes as newRequestId). */
export function randomRequestIds(random: Random): () => number {
  return () => {
    for (;;) {
      const id = random.nextU32() >>> 0;
      if (id !== 0) return id;
    }
  };
}

export type RelayClientState = 'binding' | 'bound' | 'refused' | 'failed';

export type RelayClientEvent =
  | { readonly type: 'bound'; readonly sessionId: bigint; readonly observed: UdpAddress; readonly peerBound: boolean; readonly lifetimeSec: number }
  | { readonly type: 'peer-bound' }
  | { readonly type: 'refused'; readonly code: number; readonly reason: string }
  | { readonly type: 'failed' };

export class RelayClient {
  private stateValue: RelayClientState = 'binding';
  private requestId: number;
  private ticket: Uint8Array;
  private sessionIdValue?: bigint;
  private peerBound = false;
  private transmissions = 0;
  private nextAt: Millis;
  private readonly rtoMs: Millis;
  private readonly maxTransmits: number;
  private readonly refreshMs: Millis;
  private sideTakenRetries = 0;
  private readonly out: { to: UdpAddress; bytes: Uint8Array }[] = [];
  private readonly events: RelayClientEvent[] = [];

  constructor(private readonly config: RelayClientConfig, now: Millis) {
    this.ticket = config.ticket;
    this.requestId = (config.newRequestId ?? nextRequestId)() >>> 0;
    this.rtoMs = config.rtoMs ?? 250;
    this.maxTransmits = config.maxTransmits ?? 5;
    this.refreshMs = config.refreshMs ?? 15_000;
    this.nextAt = now;
    this.sendBind(now);
  }

  get state(): RelayClientState {
    return this.stateValue;
  }

  /** The request id of our current BIND (BIND-OK and BIND errors echo it). */
  get bindRequestId(): number {
    return this.requestId;
  }

  get sessionId(): bigint | undefined {
    return this.sessionIdValue;
  }

  pollTransmit(): { to: UdpAddress; bytes: Uint8Array } | undefined {
    return this.out.shift();
  }

  pollEvent(): RelayClientEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): Millis | undefined {
    return this.stateValue === 'binding' || this.stateValue === 'bound' ? this.nextAt : undefined;
  }

  wrap(payload: Uint8Array): Uint8Array | undefined {
    if (this.stateValue !== 'bound' || this.sessionIdValue === undefined) return undefined;
    return encodeRelayMessage({ type: 'data', sessionId: this.sessionIdValue, payload });
  }

  /**
   * Refresh the binding now (a path is in trouble: we may have changed networks). From a new
   * address the relay answers SIDE_TAKEN or binds us there, so a moved device re-binds without
   * first waiting for an UNKNOWN_SESSION to its DATA.
   */
  refresh(now: Millis): void {
    if (this.stateValue === 'bound') this.sendBind(now);
  }

  updateTicket(now: Millis, ticket: Uint8Array): void {
    this.ticket = ticket;
    this.requestId = (this.config.newRequestId ?? nextRequestId)() >>> 0;
    if (this.stateValue === 'refused' || this.stateValue === 'failed') this.stateValue = 'binding';
    this.transmissions = 0;
    this.sendBind(now);
  }

  handleTimeout(now: Millis): void {
    if (now < this.nextAt) return;
    if (this.stateValue === 'binding') {
      if (this.transmissions >= this.maxTransmits) {
        this.stateValue = 'failed';
        this.events.push({ type: 'failed' });
        return;
      }
      this.sendBind(now);
    } else if (this.stateValue === 'bound') {
      this.transmissions = 0;
      this.sendBind(now); // refresh; a lost refresh is repaired by the next one (relay idle timeout is 60 s)
      this.nextAt = now + this.refreshMs;
    }
  }

  /** Input from the relay's address. Returns the payload of a DATA message, else undefined. */
  handleDatagram(now: Millis, bytes: Uint8Array): Uint8Array | undefined {
    let m;
    try { m = decodeRelayMessage(bytes); } catch (e) { if (e instanceof RelayDecodeError) return undefined; throw e; }
    switch (m.type) {
      case 'data':
        return this.stateValue === 'bound' && m.sessionId === this.sessionIdValue ? m.payload : undefined;
      case 'bind-ok': {
        if (m.requestId !== this.requestId) return undefined; // another session's answer
        if (this.stateValue === 'refused' || this.stateValue === 'failed') return undefined;
        const first = this.stateValue !== 'bound' || this.sessionIdValue !== m.sessionId;
        this.stateValue = 'bound';
        this.sideTakenRetries = 0;
        this.sessionIdValue = m.sessionId;
        if (first) {
          this.nextAt = now + this.refreshMs;
          this.peerBound = m.peerBound;
          this.events.push({ type: 'bound', sessionId: m.sessionId, observed: m.observed, peerBound: m.peerBound, lifetimeSec: m.lifetimeSec });
        } else if (m.peerBound && !this.peerBound) {
          this.peerBound = true;
          this.events.push({ type: 'peer-bound' });
        }
        return undefined;
      }
      case 'error':
        if (this.stateValue === 'bound' && m.ref === this.sessionIdValue && (m.code === RelayErrorCode.UNKNOWN_SESSION || m.code === RelayErrorCode.TICKET_EXPIRED)) {
          if (m.code === RelayErrorCode.TICKET_EXPIRED) {
            this.stateValue = 'refused';
            this.events.push({ type: 'refused', code: m.code, reason: m.reason });
            return undefined;
          }
          this.stateValue = 'binding';
          this.transmissions = 0;
          this.sessionIdValue = undefined;
          this.peerBound = false;
          this.sendBind(now);
        } else if (m.ref === BigInt(this.requestId) && (this.stateValue === 'binding' || this.stateValue === 'bound')) {
          if (m.code === RelayErrorCode.SIDE_TAKEN && this.sideTakenRetries < 8) {
            const wait = Math.min(6_000, (this.config.sideTakenRetryMs ?? 600) * 2 ** this.sideTakenRetries);
            this.sideTakenRetries++;
            this.stateValue = 'binding';
            this.sessionIdValue = undefined;
            this.peerBound = false;
            this.transmissions = 0;
            this.requestId = (this.config.newRequestId ?? nextRequestId)() >>> 0;
            this.nextAt = now + wait;
            return undefined;
          }
          this.stateValue = 'refused';
          this.events.push({ type: 'refused', code: m.code, reason: m.reason });
        }
        return undefined;
      default:
        return undefined;
    }
  }

  private sendBind(now: Millis): void {
    this.out.push({ to: this.config.relay, bytes: encodeRelayMessage({ type: 'bind', requestId: this.requestId, deviceId: this.config.deviceId, ticket: this.ticket }) });
    if (this.stateValue === 'binding') {
      this.transmissions++;
      this.nextAt = now + this.rtoMs * 2 ** (this.transmissions - 1);
    }
  }
}
