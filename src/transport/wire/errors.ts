// The only error a transport decoder throws: names the field and the problem.
// Callers treat it as "drop this datagram/packet", never as a crash.
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(readonly field: string, readonly problem: string) {
    super(`${field}: ${problem}`);
  }
}
