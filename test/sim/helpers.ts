// Small topologies shared by the simulator tests (addresses from the documentation ranges).
import { Network, type LinkOptions } from '../../src/sim/index.ts';

/** a -- r -- b, both links with `opts` (a: 198.51.100.10, b: 203.0.113.20). */
export function line(opts: LinkOptions = {}, seed = 1) {
  const net = new Network({ seed });
  const a = net.addHost('a', '198.51.100.10');
  const b = net.addHost('b', '203.0.113.20');
  const r = net.addRouter('r');
  const ab = net.connect(a, r, opts);
  const rb = net.connect(r, b, opts);
  r.addRoute('198.51.100.0/24', ab);
  r.addRoute('203.0.113.0/24', rb);
  return { net, a, b, r, ab, rb };
}

/** a -- b directly, one link with `opts`. */
export function pair(opts: LinkOptions = {}, seed = 1) {
  const net = new Network({ seed });
  const a = net.addHost('a', '198.51.100.10');
  const b = net.addHost('b', '198.51.100.20');
  const link = net.connect(a, b, opts);
  return { net, a, b, link };
}

export const payload = (n: number, fill = 0) => new Uint8Array(n).fill(fill);
