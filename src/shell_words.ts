/**
 * Writing words the way a POSIX shell reads them back: for the commands rdhpf
 * prints for a person to run or read (service manager commands, debug logs of
 * ssh command lines) and for the words of the fixed remote commands it sends.
 *
 * @module
 */
import { hasUnsafeChars, replaceUnsafe } from "./text_safety.ts";

/** Words that need no quoting in any POSIX shell. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `'…'`: every character inert, a `'` written as `'\''`. */
export function singleQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** bash's `$'…'`, so that control and bidi characters stay visible and on one line. */
function ansiCQuote(word: string): string {
  const body = replaceUnsafe(word.replace(/[\\']/g, (c) => `\\${c}`), (cp) =>
    cp === 0x0a ? "\\n" : cp === 0x09 ? "\\t" : cp === 0x0d ? "\\r" : cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u${cp.toString(16).padStart(4, "0")}`,
  );
  return `$'${body}'`;
}

/** One word for display: as it is when plain, else quoted; never spans lines. */
export function shellWord(word: string): string {
  if (PLAIN_WORD.test(word)) return word;
  return hasUnsafeChars(word) ? ansiCQuote(word) : singleQuote(word);
}

/**
 * A command line for display, on one line.
 *
 * @example
 * ```ts
 * shellLine(["launchctl", "bootstrap", "gui/501", "/Users/A B/x.plist"]); // launchctl bootstrap gui/501 '/Users/A B/x.plist'
 * ```
 */
export function shellLine(argv: readonly string[]): string {
  return argv.map(shellWord).join(" ");
}
