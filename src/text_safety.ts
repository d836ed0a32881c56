/**
 * The one rule for untrusted text: container names, labels, ssh's and
 * Docker's error text, and reasons that quote them. A compromised remote
 * Docker host controls those strings; a raw ESC, newline or bidi override in
 * them could forge log lines or status rows, move the cursor or hide text.
 *
 * `isUnsafeCodePoint` is the only definition of what must not reach a
 * terminal or a log raw: C0 and C1 controls, DEL, invisible and bidi
 * characters, line separators and lone surrogates. Logs, status, the doctor,
 * ssh messages and the daemon escape through the functions below; each
 * output format only chooses how an unsafe code point is written.
 *
 * @module
 */

const ELLIPSIS = "…";
/** Combining marks allowed on one base character before the rest are escaped ("zalgo" text). */
const MAX_STACKED_MARKS = 2;

/** C0 controls (including newline, tab and ESC), DEL and C1 controls (CSI is 0x9b). */
function isControl(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/** Characters that are invisible or reorder text. */
function isInvisible(cp: number): boolean {
  return (
    (cp >= 0x200b && cp <= 0x200f) || // zero-width space/joiners, LRM/RLM
    (cp >= 0x2028 && cp <= 0x202e) || // line/paragraph separators, bidi embeddings and overrides
    (cp >= 0x2060 && cp <= 0x206f) || // word joiner, bidi isolates, deprecated format chars
    cp === 0xfeff || // BOM / zero-width no-break space
    (cp >= 0xfff9 && cp <= 0xfffb) || // interlinear annotation
    cp === 0x061c || // Arabic letter mark
    (cp >= 0xd800 && cp <= 0xdfff) // lone surrogate: not printable text at all
  );
}

/** True for every code point that is never written raw: controls, invisible and bidi characters, lone surrogates. */
export function isUnsafeCodePoint(cp: number): boolean {
  return isControl(cp) || isInvisible(cp);
}

/** True when `s` holds any unsafe code point (see `isUnsafeCodePoint`): input holding one is refused. */
export function hasUnsafeChars(s: string): boolean {
  for (const ch of s) if (isUnsafeCodePoint(ch.codePointAt(0)!)) return true;
  return false;
}

/**
 * Replaces every unsafe code point with `render(cp)` and keeps the rest; for
 * formats with their own escape syntax (JSON, shell `$'…'`).
 */
export function replaceUnsafe(s: string, render: (cp: number) => string): string {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    out += isUnsafeCodePoint(cp) ? render(cp) : ch;
  }
  return out;
}

function isCombining(cp: number): boolean {
  return (
    (cp >= 0x0300 && cp <= 0x036f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x1dc0 && cp <= 0x1dff) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) || // variation selectors
    (cp >= 0xfe20 && cp <= 0xfe2f)
  );
}

/** East Asian wide/fullwidth and emoji blocks: two terminal columns. */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2329 && cp <= 0x232a) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f680 && cp <= 0x1f6ff) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Terminal columns one code point of already-safe text takes: 0, 1 or 2. */
function columnsOf(cp: number): number {
  if (isCombining(cp)) return 0;
  return isWide(cp) ? 2 : 1;
}

const hex2 = (cp: number) => cp.toString(16).padStart(2, "0");

/** The visible escape for one code point, or null when it prints as itself. */
function escapeOf(cp: number, stackedMarks: number): string | null {
  if (cp === 0x0a) return "\\n";
  if (cp === 0x09) return "\\t";
  if (cp === 0x0d) return "\\r";
  if (cp === 0x5c) return "\\\\"; // so that a literal "\x1b" can be told from an escaped ESC
  if (isControl(cp)) return `\\x${hex2(cp)}`;
  if (isInvisible(cp)) return `\\u{${cp.toString(16)}}`;
  if (isCombining(cp) && stackedMarks >= MAX_STACKED_MARKS) return `\\u{${cp.toString(16)}}`;
  return null;
}

/**
 * Escapes control characters (\n → `\n`, ESC → `\x1b`, other C0/C1/DEL as
 * `\xNN`), backslashes, invisible and bidi characters (`\u{202e}`), and cuts
 * the result to `maxColumns` terminal columns, ending in "…" when cut. Wide
 * (CJK, emoji) characters count two columns. Work stops at the budget, so a
 * megabyte of input costs no more than a short string.
 */
export function displaySafe(s: string, maxColumns: number): string {
  if (maxColumns <= 0) return "";
  const pieces: string[] = [];
  const widths: number[] = [];
  let total = 0;
  let stacked = 0;
  let cut = false;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const escaped = escapeOf(cp, stacked);
    const piece = escaped ?? ch;
    const w = escaped === null ? columnsOf(cp) : escaped.length;
    stacked = escaped === null && w === 0 ? stacked + 1 : 0;
    if (total + w > maxColumns) {
      cut = true;
      break;
    }
    pieces.push(piece);
    widths.push(w);
    total += w;
  }
  if (!cut) return pieces.join("");
  // Make room for the ellipsis without splitting an escape sequence.
  while (pieces.length > 0 && total + 1 > maxColumns) {
    pieces.pop();
    total -= widths.pop()!;
  }
  return pieces.join("") + ELLIPSIS;
}

/** Terminal columns of text that went through `displaySafe` (or is plain ASCII). */
export function displayWidth(safe: string): number {
  let w = 0;
  for (const ch of safe) w += columnsOf(ch.codePointAt(0)!);
  return w;
}

/** Pads safe text with spaces to `columns` terminal columns. */
export function padColumns(safe: string, columns: number): string {
  const w = displayWidth(safe);
  return w >= columns ? safe : safe + " ".repeat(columns - w);
}

/**
 * Visible escapes as in `displaySafe`, without a length limit: for a log
 * field, which has its own cap. The result never holds an unsafe code point
 * or a raw backslash escape that could be mistaken for one.
 */
export function escapeUnsafe(s: string): string {
  return displaySafe(s, Number.POSITIVE_INFINITY);
}

/** `displaySafe` in double quotes (a quote inside escaped), for naming a bad input inside a message. */
export function quoteInput(s: string, maxColumns = 80): string {
  return `"${displaySafe(s, maxColumns).replace(/"/g, '\\"')}"`;
}

const u4 = (cp: number) => `\\u${cp.toString(16).padStart(4, "0")}`;

/**
 * Makes serialized JSON or YAML safe to print: every unsafe code point above
 * the C0 range becomes a `\uXXXX` escape, which both formats read back as the
 * same character inside a double-quoted string, the only place such a
 * character can occur. C0 controls are left alone: the serializers already
 * escape them inside strings, and outside strings they are the document's
 * own line breaks.
 */
export function escapeSerialized(text: string): string {
  return replaceUnsafe(text, (cp) => (cp < 0x20 ? String.fromCharCode(cp) : u4(cp)));
}
