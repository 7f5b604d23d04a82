// A pure RFC 4787 NAT model for overlay tests: mapping (none/EIM/ADM/APDM),
// filtering (EIF/ADF/APDF) or UDP blocked. One private host side, one public IP.
// outbound() translates a private->public datagram (creating mappings and
// filter permissions), inbound() admits or drops a public->external datagram.
// Deterministic: external ports are allocated sequentially.
import type { UdpAddress } from '../../src/wire/socket.ts';
import type { NatType } from '../../src/overlay/nat-types.ts';

const key = (a: UdpAddress) => `${a.address}:${a.port}`;

interface Mapping {
  readonly internal: UdpAddress;
  readonly external: UdpAddress;
  readonly permitted: Set<string>; // remote "ip" (ADF) or "ip:port" (APDF)
}

export class NatModel {
  private readonly byOutKey = new Map<string, Mapping>();
  private readonly byExternal = new Map<string, Mapping>();
  private nextPort: number;

  constructor(readonly type: NatType, readonly publicIp: string, firstPort = 40000) {
    this.nextPort = firstPort;
  }

  private outKey(src: UdpAddress, dst: UdpAddress): string {
    if (this.type.udp === 'blocked') return '';
    switch (this.type.mapping) {
      case 'none':
      case 'EIM': return key(src);
      case 'ADM': return `${key(src)}>${dst.address}`;
      case 'APDM': return `${key(src)}>${key(dst)}`;
    }
  }

  private permission(remote: UdpAddress): string {
    if (this.type.udp === 'blocked') return '';
    return this.type.filtering === 'APDF' ? key(remote) : remote.address;
  }

  /** Private host `src` sends to public `dst`: returns the external source address, or undefined if dropped. */
  outbound(src: UdpAddress, dst: UdpAddress): UdpAddress | undefined {
    if (this.type.udp === 'blocked') return undefined;
    const k = this.outKey(src, dst);
    let m = this.byOutKey.get(k);
    if (!m) {
      const external = this.type.mapping === 'none' ? src : { address: this.publicIp, port: this.nextPort++ };
      m = { internal: src, external, permitted: new Set() };
      this.byOutKey.set(k, m);
      this.byExternal.set(key(external), m);
    }
    m.permitted.add(this.permission(dst));
    return m.external;
  }

  /** `from` sends to external address `to`: returns the private destination, or undefined if filtered. */
  inbound(from: UdpAddress, to: UdpAddress): UdpAddress | undefined {
    if (this.type.udp === 'blocked') return undefined;
    const m = this.byExternal.get(key(to));
    if (!m) return this.type.mapping === 'none' && this.type.filtering === 'EIF' ? to : undefined;
    if (this.type.filtering === 'EIF' || m.permitted.has(this.permission(from))) return m.internal;
    return undefined;
  }

  get mappingCount(): number {
    return this.byExternal.size;
  }
}

export const NAT_KINDS: Record<string, NatType> = {
  public: { udp: 'open', mapping: 'none', filtering: 'EIF' },
  'EIM/EIF': { udp: 'open', mapping: 'EIM', filtering: 'EIF' },
  'EIM/ADF': { udp: 'open', mapping: 'EIM', filtering: 'ADF' },
  'EIM/APDF': { udp: 'open', mapping: 'EIM', filtering: 'APDF' },
  'APDM': { udp: 'open', mapping: 'APDM', filtering: 'APDF' },
  'UDP-blocked': { udp: 'blocked' },
};
