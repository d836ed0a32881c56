/**
 * Rendering untrusted text (user input, ssh's stderr) safely into one line
 * of a message or log: control characters and newlines become visible
 * escapes, long text is cut.
 *
 * @module
 */

/** C0/C1 control characters and DEL. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// deno-lint-ignore no-control-regex
const CONTROL_GLOBAL = /[\u0000-\u001f\u007f-\u009f]/g;

/** True when `s` holds a control character (including newline, tab, ESC). */
export function hasControlChars(s: string): boolean {
  return CONTROL.test(s);
}

function escapeChar(c: string): string {
  switch (c) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    default:
      return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  }
}

/** One line, control characters escaped (`\n`, `\x1b`), at most `maxChars` characters (then "…"). */
export function escapeText(s: string, maxChars = 200): string {
  const escaped = s.replace(CONTROL_GLOBAL, escapeChar);
  return escaped.length > maxChars ? `${escaped.slice(0, maxChars)}…` : escaped;
}

/** `escapeText` in double quotes, for naming a bad input inside a message. */
export function quoteInput(s: string, maxChars = 80): string {
  return `"${escapeText(s.replace(/\\/g, "\\\\").replace(/"/g, '\\"'), maxChars)}"`;
}
