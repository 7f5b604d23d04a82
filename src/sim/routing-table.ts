// Longest-prefix-match routing table over u32 IPv4 addresses.
// Contract: `lookup(addr)` returns the target of the most specific prefix that
// contains addr (a /0 default route matches everything), or undefined. Routes may be
// added and removed at any time (dynamic topology); lookup allocates nothing.
import { ipv4ToU32, u32ToIpv4 } from '../wire/ipv4-address.ts';

export interface Prefix {
  readonly addr: number;
  readonly len: number;
}

const MASKS: number[] = Array.from({ length: 33 }, (_, len) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0));

export function maskOf(len: number): number {
  return MASKS[len];
}

/** Parse "a.b.c.d/len" (or a bare address, meaning /32). Throws RangeError naming the problem. */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? '32' : text.slice(slash + 1);
  if (!/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) throw new RangeError(`bad prefix length in "${text}" (want 0..32)`);
  let addr: number;
  try {
    addr = ipv4ToU32(addrText);
  } catch {
    throw new RangeError(`bad address in prefix "${text}"`);
  }
  const len = Number(lenText);
  return { addr: (addr & MASKS[len]) >>> 0, len };
}

export function formatPrefix(p: Prefix): string {
  return `${u32ToIpv4(p.addr)}/${p.len}`;
}

const CACHE_SIZE = 512;

export class RoutingTable<T> {
  private readonly byLen: (Map<number, T> | undefined)[] = new Array(33).fill(undefined);
  /** Present prefix lengths, most specific first. */
  private lens: number[] = [];
  /** Direct-mapped cache of recent lookups (addr -> target), made on first lookup, cleared on every change. */
  private cacheKeys: Float64Array | undefined;
  private cacheTargets: (T | undefined)[] = [];
  /** The only route when the table holds exactly a default route (hosts): no cache needed. */
  private onlyDefault: T | undefined;

  private clearCache(): void {
    this.cacheKeys = undefined;
    this.cacheTargets = [];
    const def = this.byLen[0];
    this.onlyDefault = this.lens.length === 1 && def !== undefined && def.size === 1 ? def.values().next().value : undefined;
  }

  add(prefix: string | Prefix, target: T): void {
    const p = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
    let m = this.byLen[p.len];
    if (m === undefined) {
      m = new Map();
      this.byLen[p.len] = m;
      this.lens = [...this.lens, p.len].sort((a, b) => b - a);
    }
    m.set((p.addr & MASKS[p.len]) >>> 0, target);
    this.clearCache();
  }

  /** Remove a route; returns whether it existed. */
  remove(prefix: string | Prefix): boolean {
    const p = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
    const m = this.byLen[p.len];
    if (m === undefined) return false;
    const had = m.delete((p.addr & MASKS[p.len]) >>> 0);
    this.clearCache();
    if (m.size === 0) {
      this.byLen[p.len] = undefined;
      this.lens = this.lens.filter((l) => l !== p.len);
    }
    return had;
  }

  /** Remove every route whose target satisfies `pred` (e.g. routes over a removed link). */
  removeWhere(pred: (target: T) => boolean): number {
    let n = 0;
    for (const { prefix, target } of this.entries()) if (pred(target) && this.remove(prefix)) n++;
    return n;
  }

  lookup(addr: number): T | undefined {
    if (this.onlyDefault !== undefined) return this.onlyDefault;
    let keys = this.cacheKeys;
    if (keys === undefined) {
      keys = this.cacheKeys = new Float64Array(CACHE_SIZE).fill(-1);
      this.cacheTargets = new Array(CACHE_SIZE).fill(undefined);
    }
    const slot = (addr ^ (addr >>> 10) ^ (addr >>> 20)) & (CACHE_SIZE - 1);
    if (keys[slot] === addr) return this.cacheTargets[slot];
    const lens = this.lens;
    let found: T | undefined;
    for (let i = 0; i < lens.length; i++) {
      const len = lens[i];
      const t = this.byLen[len]!.get((addr & MASKS[len]) >>> 0);
      if (t !== undefined) {
        found = t;
        break;
      }
    }
    keys[slot] = addr;
    this.cacheTargets[slot] = found;
    return found;
  }

  has(prefix: string | Prefix): boolean {
    const p = typeof prefix === 'string' ? parsePrefix(prefix) : prefix;
    return this.byLen[p.len]?.has((p.addr & MASKS[p.len]) >>> 0) ?? false;
  }

  entries(): { prefix: Prefix; target: T }[] {
    const out: { prefix: Prefix; target: T }[] = [];
    for (const len of this.lens) for (const [addr, target] of this.byLen[len]!) out.push({ prefix: { addr, len }, target });
    return out;
  }

  get size(): number {
    let n = 0;
    for (const len of this.lens) n += this.byLen[len]!.size;
    return n;
  }
}
