// Persistence for KeyPins: one JSON file, written atomically (temp file + rename) with
// mode 0600 (it says whom the user trusts). Loading treats the file as hostile: size
// capped, shape checked, a typed error names the problem.
import { readFile, writeFile, rename, chmod, stat } from 'node:fs/promises';
import { KeyPins, type PinRecord } from './key-pins.ts';

export class KeyPinFileError extends Error {
  override readonly name = 'KeyPinFileError';
}

const MAX_FILE_BYTES = 4 * 1024 * 1024;

interface FileShape { version: 1; pins: { contact: string; device: string; key: string; pinnedAt: number }[] }

export async function loadKeyPins(path: string): Promise<KeyPins> {
  let text: string;
  try {
    const s = await stat(path);
    if (s.size > MAX_FILE_BYTES) throw new KeyPinFileError(`${path}: ${s.size} bytes, over ${MAX_FILE_BYTES}`);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new KeyPins();
    throw e;
  }
  let data: FileShape;
  try { data = JSON.parse(text) as FileShape; } catch { throw new KeyPinFileError(`${path}: not JSON`); }
  if (data?.version !== 1 || !Array.isArray(data.pins)) throw new KeyPinFileError(`${path}: not a version 1 key pin file`);
  const rows: [string, string, PinRecord][] = [];
  for (const [i, p] of data.pins.entries()) {
    if (typeof p?.contact !== 'string' || typeof p.device !== 'string' || typeof p.key !== 'string' || !/^[0-9a-f]{2,256}$/.test(p.key) || !Number.isSafeInteger(p.pinnedAt)) {
      throw new KeyPinFileError(`${path}: pin ${i} is malformed`);
    }
    rows.push([p.contact, p.device, { key: p.key, pinnedAt: p.pinnedAt }]);
  }
  return new KeyPins(rows);
}

export async function saveKeyPins(path: string, pins: KeyPins): Promise<void> {
  const data: FileShape = { version: 1, pins: pins.entries().map(([contact, device, r]) => ({ contact, device, key: r.key, pinnedAt: r.pinnedAt })) };
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 1)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600); // in case the file existed with other permissions
  await rename(tmp, path);
}
