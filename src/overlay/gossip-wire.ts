// Supernode gossip codec (docs/protocol/gossip.md): SHUFFLE-REQUEST and SHUFFLE-REPLY.
// Pure; decodeGossipMessage treats input as hostile and throws only GossipDecodeError.
import type { GossipMessage, ViewEntry } from './gossip.ts';

export const GOSSIP_MARKER = 0xc8;
export const GossipType = { SHUFFLE_REQUEST: 0x01, SHUFFLE_REPLY: 0x02 } as const;
export const MAX_GOSSIP_ENTRIES = 32;
export const MAX_NODE_ID_BYTES = 64;

export class GossipDecodeError extends Error {
  override readonly name = 'GossipDecodeError';
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeGossipMessage(m: GossipMessage): Uint8Array {
  if (m.entries.length > MAX_GOSSIP_ENTRIES) throw new RangeError(`at most ${MAX_GOSSIP_ENTRIES} entries`);
  const ids = m.entries.map((e) => utf8.encode(e.id));
  if (ids.some((b) => b.length < 1 || b.length > MAX_NODE_ID_BYTES)) throw new RangeError(`node ids must be 1..${MAX_NODE_ID_BYTES} bytes`);
  const out = new Uint8Array(7 + ids.reduce((n, b) => n + 1 + b.length + 8, 0));
  const v = new DataView(out.buffer);
  out[0] = GOSSIP_MARKER;
  out[1] = m.type === 'shuffle-request' ? GossipType.SHUFFLE_REQUEST : GossipType.SHUFFLE_REPLY;
  v.setUint32(2, m.nonce >>> 0);
  out[6] = m.entries.length;
  let o = 7;
  m.entries.forEach((e, i) => {
    out[o++] = ids[i].length;
    out.set(ids[i], o);
    o += ids[i].length;
    const parts = e.address.address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`not an IPv4 address: ${e.address.address}`);
    out.set(parts, o);
    v.setUint16(o + 4, e.address.port);
    v.setUint16(o + 6, Math.max(0, Math.min(0xffff, e.age)));
    o += 8;
  });
  return out;
}

export function decodeGossipMessage(bytes: Uint8Array): GossipMessage {
  if (bytes.length < 7) throw new GossipDecodeError(`gossip header: truncated (${bytes.length} bytes, need 7)`);
  if (bytes[0] !== GOSSIP_MARKER) throw new GossipDecodeError(`gossip header: bad marker 0x${bytes[0].toString(16).padStart(2, '0')}`);
  const type = bytes[1] === GossipType.SHUFFLE_REQUEST ? 'shuffle-request' : bytes[1] === GossipType.SHUFFLE_REPLY ? 'shuffle-reply' : undefined;
  if (!type) throw new GossipDecodeError(`gossip header: unknown type 0x${bytes[1].toString(16).padStart(2, '0')}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nonce = v.getUint32(2);
  const count = bytes[6];
  if (count > MAX_GOSSIP_ENTRIES) throw new GossipDecodeError(`gossip: ${count} entries, at most ${MAX_GOSSIP_ENTRIES}`);
  const entries: ViewEntry[] = [];
  let o = 7;
  for (let i = 0; i < count; i++) {
    if (o + 1 > bytes.length) throw new GossipDecodeError(`gossip entry ${i}: truncated`);
    const len = bytes[o];
    if (len < 1 || len > MAX_NODE_ID_BYTES) throw new GossipDecodeError(`gossip entry ${i}: node id length ${len} not in 1..${MAX_NODE_ID_BYTES}`);
    if (o + 1 + len + 8 > bytes.length) throw new GossipDecodeError(`gossip entry ${i}: truncated`);
    let id: string;
    try { id = fromUtf8.decode(bytes.subarray(o + 1, o + 1 + len)); } catch { throw new GossipDecodeError(`gossip entry ${i}: node id is not UTF-8`); }
    o += 1 + len;
    const port = v.getUint16(o + 4);
    if (port === 0) throw new GossipDecodeError(`gossip entry ${i}: port 0`);
    entries.push({ id, address: { address: `${bytes[o]}.${bytes[o + 1]}.${bytes[o + 2]}.${bytes[o + 3]}`, port }, age: v.getUint16(o + 6) });
    o += 8;
  }
  if (o !== bytes.length) throw new GossipDecodeError(`gossip: ${bytes.length - o} trailing bytes`);
  return { type, nonce, entries };
}
