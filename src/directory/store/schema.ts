// Table types for the directory's database, shared by SQLite and PostgreSQL.
// Contract: ids are 32-char lowercase hex (16 random bytes); every time is a
// JS number of Unix milliseconds (bigint columns parsed to number on pg);
// JSON-valued columns are TEXT holding JSON; booleans are integers 0/1.
export interface UsersTable {
  id: string;
  username: string;
  /** "scrypt$N$r$p$saltB64$hashB64" — parameters stored with the hash. */
  password_hash: string;
  created_at: number;
  updated_at: number;
  /** Time of the last change to this user's contact list (migration 0002). */
  contacts_updated_at: number;
}

export interface TokensTable {
  /** SHA-256 (hex) of the bearer token; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export interface DevicesTable {
  id: string;
  user_id: string;
  name: string;
  /** base64url, 32 bytes */
  x25519: string;
  /** base64url, 32 bytes, optional */
  ed25519: string | null;
  created_at: number;
}

/** One row per direction: owner's view of peer. */
export type ContactState = 'outgoing' | 'incoming' | 'accepted' | 'blocked';

export interface ContactsTable {
  owner_id: string;
  peer_id: string;
  state: ContactState;
  updated_at: number;
}

export interface PresenceTable {
  device_id: string;
  user_id: string;
  status: 'online' | 'away' | 'offline';
  /** JSON array of { kind, address, port } */
  candidates: string;
  /** JSON object { mapping, filtering } or null */
  nat: string | null;
  /** JSON { address, port } or null */
  supernode: string | null;
  updated_at: number;
}

export interface SupernodesTable {
  id: string;
  owner_id: string;
  address: string;
  port: number;
  capacity: number;
  load: number;
  registered_at: number;
  last_heartbeat: number;
}

export interface Database {
  users: UsersTable;
  tokens: TokensTable;
  devices: DevicesTable;
  contacts: ContactsTable;
  presence: PresenceTable;
  supernodes: SupernodesTable;
}
