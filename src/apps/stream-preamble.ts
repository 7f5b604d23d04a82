// App stream preamble: the first bytes the opener of an app stream writes, naming the
// app protocol, so one ContactSession can carry chat now and files/calls later.
// Format: u8 length (1..64) followed by that many ASCII bytes, e.g. "tincan-chat/1".
// `readPreamble` consumes exactly the preamble from a Duplex and leaves the rest of the
// stream (including bytes that arrived in the same chunk) readable; it rejects with
// PreambleError on a bad length/bytes or when the stream ends first. Bounded: at most
// 65 bytes are read before deciding.
import type { Duplex } from 'node:stream';

export const MAX_PREAMBLE_NAME = 64;

export class PreambleError extends Error {
  constructor(message: string) { super(message); this.name = 'PreambleError'; }
}

export function encodePreamble(name: string): Uint8Array {
  if (!/^[\x21-\x7e]{1,64}$/.test(name)) throw new PreambleError(`bad app protocol name: ${JSON.stringify(name)}`);
  const out = new Uint8Array(1 + name.length);
  out[0] = name.length;
  for (let i = 0; i < name.length; i++) out[1 + i] = name.charCodeAt(i);
  return out;
}

/** Reads the preamble; resolves with the protocol name. */
export function readPreamble(stream: Duplex): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onEnd);
    };
    const fail = (e: Error) => { cleanup(); reject(e); };
    const onEnd = () => fail(new PreambleError('stream ended before the app preamble'));
    const onError = (e: Error) => fail(e);
    const onReadable = () => {
      for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null) {
        buf = Buffer.concat([buf, chunk]);
        const len = buf[0];
        if (len === 0 || len > MAX_PREAMBLE_NAME) return fail(new PreambleError(`bad app preamble length ${len}`));
        if (buf.length < 1 + len) continue;
        const name = buf.subarray(1, 1 + len).toString('latin1');
        if (!/^[\x21-\x7e]+$/.test(name)) return fail(new PreambleError('app preamble is not printable ASCII'));
        const rest = buf.subarray(1 + len);
        cleanup();
        if (rest.length > 0) stream.unshift(rest);
        return resolve(name);
      }
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', onError);
    onReadable();
  });
}
