// Chat errors that are not decode errors: a peer breaking the protocol's rules
// (ChatProtocolError: the stream is closed and reopened later) and a local limit
// refusing a command (ChatLimitError: reported to the user, nothing is queued).
export type ChatProtocolErrorCode = 'unexpected-frame' | 'ack-beyond-sent' | 'seq-gap' | 'id-mismatch';
export class ChatProtocolError extends Error {
  constructor(readonly code: ChatProtocolErrorCode, message: string) { super(message); this.name = 'ChatProtocolError'; }
}

export type ChatLimitErrorCode = 'outbox-full' | 'text-too-long' | 'empty-text';
export class ChatLimitError extends Error {
  constructor(readonly code: ChatLimitErrorCode, message: string) { super(message); this.name = 'ChatLimitError'; }
}
