// Classic libpcap file format (https://wiki.wireshark.org/Development/LibpcapFileFormat),
// as tincan writes it: little-endian, magic 0xA1B2C3D4 (microsecond timestamps),
// version 2.4, snaplen 65535, LINKTYPE_RAW (101: each record is a bare IPv4 datagram).
// PcapWriter keeps records in memory and concatenates once in toBytes(); packets
// longer than the snaplen are truncated in the file (orig_len keeps the real size).
// parsePcap reads such files (either byte order, micro- or nanosecond magic) and
// throws only DecodeError; it is meant for tests and tools.
import { DecodeError } from './errors.ts';

export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_SNAPLEN = 65535;
export const LINKTYPE_RAW = 101;
export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

const LAYER = 'pcap';

export class PcapWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = PCAP_GLOBAL_HEADER_LEN;

  /** Number of packets added so far. */
  get packetCount(): number {
    return this.chunks.length;
  }

  /**
   * Append one packet captured at `timeMs` (milliseconds since the capture's epoch,
   * e.g. virtual time; must be >= 0). The bytes are copied.
   */
  addPacket(timeMs: number, bytes: Uint8Array): void {
    const t = Number.isFinite(timeMs) && timeMs > 0 ? timeMs : 0;
    const totalMicros = Math.round(t * 1000);
    const seconds = Math.floor(totalMicros / 1_000_000);
    const micros = totalMicros - seconds * 1_000_000;
    const inclLen = Math.min(bytes.length, PCAP_SNAPLEN);
    const rec = new Uint8Array(PCAP_RECORD_HEADER_LEN + inclLen);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, seconds >>> 0, true);
    dv.setUint32(4, micros, true);
    dv.setUint32(8, inclLen, true);
    dv.setUint32(12, bytes.length, true);
    rec.set(bytes.subarray(0, inclLen), PCAP_RECORD_HEADER_LEN);
    this.chunks.push(rec);
    this.length += rec.length;
  }

  /** The whole file: global header followed by every record. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, PCAP_MAGIC_MICROS, true);
    dv.setUint16(4, PCAP_VERSION_MAJOR, true);
    dv.setUint16(6, PCAP_VERSION_MINOR, true);
    dv.setInt32(8, 0, true); // thiszone
    dv.setUint32(12, 0, true); // sigfigs
    dv.setUint32(16, PCAP_SNAPLEN, true);
    dv.setUint32(20, LINKTYPE_RAW, true);
    let o = PCAP_GLOBAL_HEADER_LEN;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export interface PcapRecord {
  /** Timestamp in milliseconds (seconds*1000 + fraction). */
  timeMs: number;
  /** Original length on the wire. */
  originalLength: number;
  /** Captured bytes (subarray of the input). */
  bytes: Uint8Array;
}

export interface PcapFile {
  linkType: number;
  snaplen: number;
  nanosecond: boolean;
  records: PcapRecord[];
}

/** Parse a classic pcap file. Throws DecodeError on any malformation. */
export function parsePcap(bytes: Uint8Array): PcapFile {
  if (bytes.length < PCAP_GLOBAL_HEADER_LEN) throw new DecodeError(LAYER, `truncated: ${bytes.length} bytes, the global header needs 24`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  let nanosecond: boolean;
  const magicLe = dv.getUint32(0, true);
  const magicBe = dv.getUint32(0, false);
  if (magicLe === PCAP_MAGIC_MICROS || magicLe === PCAP_MAGIC_NANOS) {
    little = true;
    nanosecond = magicLe === PCAP_MAGIC_NANOS;
  } else if (magicBe === PCAP_MAGIC_MICROS || magicBe === PCAP_MAGIC_NANOS) {
    little = false;
    nanosecond = magicBe === PCAP_MAGIC_NANOS;
  } else {
    throw new DecodeError(LAYER, `bad magic 0x${magicBe.toString(16).padStart(8, '0')}`);
  }
  const major = dv.getUint16(4, little);
  if (major !== PCAP_VERSION_MAJOR) throw new DecodeError(LAYER, `unsupported version ${major}.${dv.getUint16(6, little)}`);
  const snaplen = dv.getUint32(16, little);
  const linkType = dv.getUint32(20, little);
  const records: PcapRecord[] = [];
  let o = PCAP_GLOBAL_HEADER_LEN;
  while (o < bytes.length) {
    if (bytes.length - o < PCAP_RECORD_HEADER_LEN) throw new DecodeError(LAYER, `truncated record header at offset ${o}`);
    const sec = dv.getUint32(o, little);
    const frac = dv.getUint32(o + 4, little);
    const incl = dv.getUint32(o + 8, little);
    const orig = dv.getUint32(o + 12, little);
    if (frac >= (nanosecond ? 1_000_000_000 : 1_000_000)) throw new DecodeError(LAYER, `record at offset ${o}: fraction ${frac} out of range`);
    if (incl > Math.max(snaplen, PCAP_SNAPLEN) && incl > 262144) throw new DecodeError(LAYER, `record at offset ${o}: captured length ${incl} too large`);
    if (incl > orig) throw new DecodeError(LAYER, `record at offset ${o}: captured length ${incl} exceeds original length ${orig}`);
    const start = o + PCAP_RECORD_HEADER_LEN;
    if (incl > bytes.length - start) throw new DecodeError(LAYER, `truncated record at offset ${o}: needs ${incl} bytes`);
    records.push({
      timeMs: sec * 1000 + (nanosecond ? frac / 1e6 : frac / 1e3),
      originalLength: orig,
      bytes: bytes.subarray(start, start + incl),
    });
    o = start + incl;
  }
  return { linkType, snaplen, nanosecond, records };
}
