// Several PeerLinks (one per contact) and other users on ONE UDP socket. I/O glue:
// every inbound datagram is offered to the links in turn (PeerLink.claims: relay
// session / BIND request id, the USERNAME of a STUN check, the source address of a
// pair) and handed to the first that claims it; anything unclaimed goes to
// `onUnclaimed` (e.g. NAT classification responses, gossip). Each link gets a
// DatagramSocket from socketFor() whose sends go out on the shared socket.
// Cost: O(links) per unclaimed-by-earlier datagram; fine for a few dozen contacts.
// `sendHook` may take a send before it reaches the socket (a peer that is its own relay
// hands those datagrams to its supernode role); `deliver` feeds a datagram in as if it
// had arrived on the socket.
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../wire/socket.ts';
import type { PeerLink } from './peer-link.ts';

class MuxSocket implements DatagramSocket {
  handler: DatagramHandler = () => {};
  link?: PeerLink;
  closed = false;
  constructor(private readonly mux: OverlayMux, private readonly onClose: (s: MuxSocket) => void) {}
  get local(): UdpAddress { return this.mux.local; }
  send(to: UdpAddress, bytes: Uint8Array): void { if (!this.closed) this.mux.send(to, bytes); }
  onDatagram(h: DatagramHandler): void { this.handler = h; }
  close(): void { this.closed = true; this.onClose(this); }
}

export class OverlayMux {
  private readonly sockets = new Set<MuxSocket>();
  unclaimed = 0;
  onUnclaimed: DatagramHandler = () => { this.unclaimed++; };
  /** Returns true when it took the datagram (it is then not sent on the socket). */
  sendHook?: (to: UdpAddress, bytes: Uint8Array) => boolean;

  constructor(private readonly shared: DatagramSocket) {
    shared.onDatagram((from, bytes) => this.route(from, bytes));
  }

  get local(): UdpAddress {
    return this.shared.local;
  }

  /** A socket for one PeerLink; call attach(socket, link) once the link exists. */
  socketFor(): DatagramSocket {
    const s = new MuxSocket(this, (x) => this.sockets.delete(x));
    this.sockets.add(s);
    return s;
  }

  attach(socket: DatagramSocket, link: PeerLink): void {
    if (!(socket instanceof MuxSocket) || !this.sockets.has(socket)) throw new Error('OverlayMux.attach: not one of this mux\'s sockets');
    socket.link = link;
  }

  /** Send from the shared socket (for users that are not PeerLinks, e.g. STUN probes). */
  send(to: UdpAddress, bytes: Uint8Array): void {
    if (this.sendHook?.(to, bytes)) return;
    this.shared.send(to, bytes);
  }

  /** Route a datagram as if it had arrived on the socket from `from`. */
  deliver(from: UdpAddress, bytes: Uint8Array): void {
    this.route(from, bytes);
  }

  close(): void {
    for (const s of this.sockets) s.closed = true;
    this.sockets.clear();
    this.shared.close();
  }

  private route(from: UdpAddress, bytes: Uint8Array): void {
    for (const s of this.sockets) {
      if (s.link?.claims(from, bytes)) { s.handler(from, bytes); return; }
    }
    this.onUnclaimed(from, bytes);
  }
}
