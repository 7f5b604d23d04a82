// Typed errors of the wire layer. Contract: DecodeError is the ONLY exception any
// decoder in src/wire throws on bad input (truncated, wrong version, bad
// checksum, ...); EncodeError is what an emitter throws when asked to build
// something the format cannot express (e.g. an IPv4 datagram over 65,535 bytes).

/** Bad input bytes (or bad address text). `layer` names the format, e.g. 'ipv4', 'udp', 'stun'. */
export class DecodeError extends Error {
  readonly layer: string;
  constructor(layer: string, message: string) {
    super(`${layer}: ${message}`);
    this.name = 'DecodeError';
    this.layer = layer;
  }
}

/** A value the format cannot represent was handed to an emitter. */
export class EncodeError extends Error {
  readonly layer: string;
  constructor(layer: string, message: string) {
    super(`${layer}: ${message}`);
    this.name = 'EncodeError';
    this.layer = layer;
  }
}
