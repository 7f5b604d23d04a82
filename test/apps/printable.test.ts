// Network text shown in a terminal cannot carry escape sequences or bidi overrides.
import { describe, it, expect } from 'vitest';
import { printable } from '../../src/cli/printable.ts';

describe('printable', () => {
  it('escapes control characters, keeps letters and emoji', () => {
    expect(printable('hi \x1b]0;owned\x07 there')).toBe('hi \\x1b]0;owned\\x07 there');
    expect(printable('a\nb\rc\x9bd\x7f')).toBe('a\\x0ab\\x0dc\\x9bd\\x7f');
    expect(printable('evil\u202Etxt.exe')).toBe('evil\\u{202e}txt.exe');
    expect(printable('héllo ☕ 世界 🎉')).toBe('héllo ☕ 世界 🎉');
  });
});
