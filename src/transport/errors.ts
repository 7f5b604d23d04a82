// Transport error codes (docs/protocol/transport.md §Error codes) and the
// error a frame handler throws to close the connection with that code
// (internal to the sans-IO core, as quinn-proto's TransportError; what the
// application sees of a close is api.ts' ConnectionClosedError).
export const ErrorCode = {
  NO_ERROR: 0x0,
  INTERNAL_ERROR: 0x1,
  CONNECTION_REFUSED: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_LIMIT_ERROR: 0x4,
  STREAM_STATE_ERROR: 0x5,
  FINAL_SIZE_ERROR: 0x6,
  FRAME_ENCODING_ERROR: 0x7,
  PROTOCOL_VIOLATION: 0xa,
  INVALID_TOKEN: 0xb,
  CRYPTO_BUFFER_EXCEEDED: 0xd,
  CRYPTO_ERROR: 0x100,
  IDLE_TIMEOUT: 0x101,
} as const;

export class TransportError extends Error {
  override readonly name = 'TransportError';
  /** `cause`: the error behind it, e.g. the session layer's typed handshake error. */
  constructor(readonly code: number, reason: string, readonly frameType = 0, cause?: unknown) {
    super(reason, cause === undefined ? undefined : { cause });
  }
}
