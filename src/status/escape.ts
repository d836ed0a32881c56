/**
 * Makes untrusted text (container names, labels, reasons that quote them)
 * safe to print on a terminal: a compromised remote Docker host controls those
 * strings, and a raw ESC, newline or bidi override in them could forge status
 * rows, move the cursor or hide text. Everything that could do so is shown as
 * a visible escape; the result is cut to a column budget.
 *
 * @module
 */

const ELLIPSIS = "…";
/** Combining marks allowed on one base character before the rest are escaped ("zalgo" text). */
const MAX_STACKED_MARKS = 2;

/** Characters that are invisible or reorder text: escaped instead of printed. */
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
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return `\\x${hex2(cp)}`;
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
