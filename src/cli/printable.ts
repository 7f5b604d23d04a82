// Text from the network shown in a terminal: control characters (C0, DEL, C1 — escape
// sequences could rewrite the screen or the title) become visible `\xNN` / `\u{N}` escapes.
// Everything else, including non-ASCII letters and emoji, is shown as is.
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.codePointAt(0)!;
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}
