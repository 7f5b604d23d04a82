// Helpers shared by the tests that run real Peers on loopback (overlay e2e, upgrade,
// supernode, the netns lab's peer program, the apps' chat-upgrade test).
import type { Duplex } from 'node:stream';
import { bindUdp } from '../../src/datagram/udp.ts';
import type { DatagramSocket, UdpAddress } from '../../src/wire/socket.ts';

/** The first line (without the newline) a stream delivers, or everything up to its end. */
export function readLine(s: Duplex): Promise<string> {
  return new Promise((res, rej) => {
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString(); if (got.includes('\n')) res(got.slice(0, got.indexOf('\n'))); });
    s.on('error', rej);
    s.on('end', () => res(got));
  });
}

/** Polls `cond` every 10 ms; throws naming `what` after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

/** A loopback UDP socket whose traffic with one port is dropped while `blocked.on`. */
export async function blockableUdp(): Promise<{ socket: DatagramSocket; blocked: { on: boolean; port: number; dropped: number } }> {
  const s = await bindUdp({ address: '127.0.0.1' });
  const blocked = { on: true, port: -1, dropped: 0 };
  const drop = (a: UdpAddress) => blocked.on && a.port === blocked.port && (++blocked.dropped, true);
  let h: (from: UdpAddress, b: Uint8Array) => void = () => {};
  s.onDatagram((from, b) => { if (!drop(from)) h(from, b); });
  return { blocked, socket: { get local() { return s.local; }, send: (to, b) => { if (!drop(to)) s.send(to, b); }, onDatagram: (x) => { h = x; }, close: () => s.close() } };
}
