// Noise handshake patterns as data (rev 34 §7.4, §7.5): pre-messages and
// message token lists. tincan uses XX (first contact) and IK (responder key
// known); the other interactive fundamental patterns are here because the
// state machine is generic and the cacophony vectors exercise them.
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';

export interface HandshakePattern {
  readonly name: string;
  /** Pre-message keys: which static keys each side knows of the other beforehand. */
  readonly initiatorPre: readonly ('s' | 'e')[];
  readonly responderPre: readonly ('s' | 'e')[];
  /** messages[0] is written by the initiator, then alternating. */
  readonly messages: readonly (readonly Token[])[];
}

const p = (name: string, initiatorPre: ('s' | 'e')[], responderPre: ('s' | 'e')[], ...messages: Token[][]): HandshakePattern =>
  ({ name, initiatorPre, responderPre, messages });

export const PATTERNS: Readonly<Record<string, HandshakePattern>> = {
  NN: p('NN', [], [], ['e'], ['e', 'ee']),
  NK: p('NK', [], ['s'], ['e', 'es'], ['e', 'ee']),
  NX: p('NX', [], [], ['e'], ['e', 'ee', 's', 'es']),
  KN: p('KN', ['s'], [], ['e'], ['e', 'ee', 'se']),
  KK: p('KK', ['s'], ['s'], ['e', 'es', 'ss'], ['e', 'ee', 'se']),
  KX: p('KX', ['s'], [], ['e'], ['e', 'ee', 'se', 's', 'es']),
  XN: p('XN', [], [], ['e'], ['e', 'ee'], ['s', 'se']),
  XK: p('XK', [], ['s'], ['e', 'es'], ['e', 'ee'], ['s', 'se']),
  XX: p('XX', [], [], ['e'], ['e', 'ee', 's', 'es'], ['s', 'se']),
  IN: p('IN', [], [], ['e', 's'], ['e', 'ee', 'se']),
  IK: p('IK', [], ['s'], ['e', 'es', 's', 'ss'], ['e', 'ee', 'se']),
  IX: p('IX', [], [], ['e', 's'], ['e', 'ee', 'se', 's', 'es']),
};

export const SUITE = '25519_ChaChaPoly_BLAKE2s';

export function protocolName(pattern: HandshakePattern): string {
  return `Noise_${pattern.name}_${SUITE}`;
}

/** The pattern of a full protocol name, or undefined if tincan does not implement it. */
export function patternOf(protocol: string): HandshakePattern | undefined {
  const m = /^Noise_([A-Z]+)_25519_ChaChaPoly_BLAKE2s$/.exec(protocol);
  return m ? PATTERNS[m[1]] : undefined;
}
