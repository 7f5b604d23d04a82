// Contact key pinning (trust on first use, keys from the directory): the first key seen
// for a contact's device is pinned; later the same key is accepted silently and a
// different key is REPORTED, never accepted silently — the user (or a higher-level
// policy) must call accept() to re-pin. Keys are compared as lowercase hex of the raw
// public key bytes. Pure in-memory state; persistence is key-pin-file.ts.
export interface PinRecord {
  /** Lowercase hex of the pinned public key. */
  readonly key: string;
  /** Unix ms when pinned. */
  readonly pinnedAt: number;
}

export type PinCheck =
  | { readonly status: 'new' }
  | { readonly status: 'same'; readonly pinnedAt: number }
  | { readonly status: 'changed'; readonly pinned: string; readonly offered: string; readonly pinnedAt: number };

const keyOf = (contact: string, device: string) => `${contact}\n${device}`;
const hex = (k: Uint8Array | string) => (typeof k === 'string' ? k.toLowerCase() : Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex'));

export class KeyPins {
  private readonly pins = new Map<string, PinRecord>();

  constructor(initial: Iterable<readonly [contact: string, device: string, record: PinRecord]> = []) {
    for (const [c, d, r] of initial) {
      if (!/^[0-9a-f]+$/.test(r.key) || r.key.length % 2 !== 0) throw new RangeError(`key pin for ${c}/${d}: key is not hex`);
      this.pins.set(keyOf(c, d), r);
    }
  }

  /** What the directory offered, compared with the pin. Does not change anything. */
  check(contact: string, device: string, offered: Uint8Array | string): PinCheck {
    const pin = this.pins.get(keyOf(contact, device));
    if (!pin) return { status: 'new' };
    const o = hex(offered);
    return pin.key === o ? { status: 'same', pinnedAt: pin.pinnedAt } : { status: 'changed', pinned: pin.key, offered: o, pinnedAt: pin.pinnedAt };
  }

  /**
   * Trust on first use: pins a new key and returns the check. A changed key is NOT
   * re-pinned here; the result says 'changed' and the caller must report it.
   */
  observe(contact: string, device: string, offered: Uint8Array | string, now: number): PinCheck {
    const c = this.check(contact, device, offered);
    if (c.status === 'new') this.pins.set(keyOf(contact, device), { key: hex(offered), pinnedAt: now });
    return c;
  }

  /** Explicitly accept a (changed) key: re-pin. */
  accept(contact: string, device: string, key: Uint8Array | string, now: number): void {
    this.pins.set(keyOf(contact, device), { key: hex(key), pinnedAt: now });
  }

  entries(): [contact: string, device: string, record: PinRecord][] {
    return [...this.pins].map(([k, r]) => {
      const [c, d] = k.split('\n');
      return [c, d, r];
    });
  }
}
