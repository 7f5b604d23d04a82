// What a RelayForwarder sent, for relay unit tests: drains its transmit queue and names each
// message by type, an ERROR by its RelayErrorCode name (e.g. 'DEVICE_SESSION_LIMIT').
import { RelayForwarder, type RelayTransmit } from '../../src/overlay/relay.ts';
import { decodeRelayMessage, RelayErrorCode } from '../../src/overlay/relay-wire.ts';

export function answers(r: RelayForwarder): string[] {
  const out: string[] = [];
  for (let t: RelayTransmit | undefined = r.pollTransmit(); t; t = r.pollTransmit()) {
    const m = decodeRelayMessage(t.bytes);
    out.push(m.type === 'error' ? (Object.entries(RelayErrorCode).find(([, c]) => c === m.code)?.[0] ?? String(m.code)) : m.type);
  }
  return out;
}
