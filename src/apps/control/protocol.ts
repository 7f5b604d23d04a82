// The daemon's control protocol (local only: a unix socket in the state dir, mode 0600):
// JSON lines. The client writes one request object per line; the daemon answers each
// with one response line {ok:true,...} or {ok:false,error,code}. `tail` turns the
// connection into an event stream: one ControlEvent per line until the client closes.
import type { HistoryEntry } from '../chat/store.ts';

export type ControlRequest =
  | { op: 'send'; to: string; text: string; /** wait this long for the receipt (0: don't) */ waitMs?: number }
  | { op: 'history'; with?: string; limit?: number }
  | { op: 'status' }
  | { op: 'tail'; with?: string };

export interface ContactRow {
  username: string;
  presence: 'online' | 'away' | 'offline';
  path?: 'direct' | 'relayed';
  rttMs?: number;
  remote?: string;
  nat?: string;
  pending: number;
}

export interface StatusResponse { ok: true; username: string; deviceId: string; nat?: string; contacts: ContactRow[] }
export interface SendResponse { ok: true; id: string; seq: number; status: 'delivered' | 'queued' }
export interface HistoryResponse { ok: true; messages: HistoryEntry[] }
export interface ErrorResponse { ok: false; code: string; error: string }

export type ControlEvent =
  | { event: 'message'; from: string; id: string; seq: number; sentAt: number; text: string }
  | { event: 'receipt'; to: string; id: string; seq: number }
  | { event: 'link'; peer: string; direction: 'out' | 'in'; state: 'up' | 'down'; error?: string }
  | { event: 'path'; peer: string; kind: 'direct' | 'relayed'; rttMs?: number; remote: string };

/** Longest request line the daemon reads (a message is at most 4 KiB of UTF-8). */
export const MAX_REQUEST_LINE = 64 * 1024;
