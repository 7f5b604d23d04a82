// Contact key pinning: first key pinned, same key accepted, a changed key reported (never
// silently accepted) until explicitly accepted; persisted 0600, hostile files rejected.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyPins } from '../../src/overlay/key-pins.ts';
import { loadKeyPins, saveKeyPins, KeyPinFileError } from '../../src/overlay/key-pin-file.ts';

const k1 = Uint8Array.from({ length: 32 }, (_, i) => i);
const k2 = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

describe('KeyPins', () => {
  it('pins on first use, accepts the same key, reports a changed key without re-pinning', () => {
    const pins = new KeyPins();
    expect(pins.observe('bob', 'dev1', k1, 1000)).toEqual({ status: 'new' });
    expect(pins.observe('bob', 'dev1', k1, 2000)).toEqual({ status: 'same', pinnedAt: 1000 });
    const changed = pins.observe('bob', 'dev1', k2, 3000);
    expect(changed).toMatchObject({ status: 'changed', pinned: Buffer.from(k1).toString('hex'), offered: Buffer.from(k2).toString('hex') });
    expect(pins.check('bob', 'dev1', k2).status).toBe('changed'); // still not accepted
    pins.accept('bob', 'dev1', k2, 4000);
    expect(pins.check('bob', 'dev1', k2)).toEqual({ status: 'same', pinnedAt: 4000 });
    expect(pins.check('bob', 'dev2', k1).status).toBe('new'); // per device
  });

  it('persists atomically with mode 0600 and rejects hostile files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tincan-pins-'));
    try {
      const path = join(dir, 'pins.json');
      expect((await loadKeyPins(path)).entries()).toEqual([]);
      const pins = new KeyPins();
      pins.observe('bob', 'dev1', k1, 1000);
      await saveKeyPins(path, pins);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const back = await loadKeyPins(path);
      expect(back.check('bob', 'dev1', k1).status).toBe('same');
      expect(back.check('bob', 'dev1', k2).status).toBe('changed');
      writeFileSync(path, '{"version":1,"pins":[{"contact":"x","device":"d","key":"zz","pinnedAt":1}]}');
      await expect(loadKeyPins(path)).rejects.toThrow(KeyPinFileError);
      writeFileSync(path, 'not json');
      await expect(loadKeyPins(path)).rejects.toThrow(/not JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
