// Packet capture for the simulator: records the IPv4 packets a host sends/receives or
// a link delivers into a classic pcap (LINKTYPE_RAW, wire PcapWriter), at virtual time.
// Contract: bytes are copied when recorded (by PcapWriter) (later in-place rewrites by routers/NATs do
// not change the capture); at most `maxPackets` are kept, the rest only counted.
import { PcapWriter } from '../wire/pcap.ts';

export interface CaptureOptions {
  /** Keep at most this many packets (default 100,000); later ones are counted in `missed`. */
  maxPackets?: number;
}

export class Capture {
  packets = 0;
  missed = 0;
  private readonly writer = new PcapWriter();
  private readonly maxPackets: number;
  /** The tap the network calls for each packet. */
  readonly record: (timeMs: number, bytes: Uint8Array) => void;

  constructor(readonly label: string, options: CaptureOptions = {}) {
    this.maxPackets = options.maxPackets ?? 100_000;
    this.record = (timeMs, bytes) => {
      if (this.packets >= this.maxPackets) {
        this.missed++;
        return;
      }
      this.packets++;
      this.writer.addPacket(timeMs, bytes);
    };
  }

  /** The classic pcap file (global header + records). */
  toBytes(): Uint8Array {
    return this.writer.toBytes();
  }
}
