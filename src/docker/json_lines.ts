/**
 * Splits the `/events` byte stream into lines. The Engine writes one JSON
 * object per line (`application/json` / `application/x-ndjson`; API 1.52+
 * may use RFC 7464 `application/json-seq`, whose records start with RS), and
 * HTTP chunking cuts it anywhere: inside an object or inside a multi-byte
 * UTF-8 character. A line longer than the cap is dropped whole, so a hostile
 * or broken peer cannot make rdhpf buffer without bound.
 *
 * @module
 */

const NEWLINE = 0x0a;
const RECORD_SEPARATOR = "\u001e";

/** Result of feeding one chunk. */
export interface SplitResult {
  /** Complete lines, decoded as UTF-8, without the separator; empty lines omitted. */
  lines: string[];
  /** Byte lengths of the lines dropped for exceeding the cap (length so far when cut). */
  dropped: number[];
}

/** Incremental newline splitter with a per-line size cap. */
export class JsonLineSplitter {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Inside a line that is already over the cap: discard until the next newline. */
  #discarding = false;
  #discardedBytes = 0;
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(readonly maxLineBytes: number) {}

  /** Feeds one chunk; returns the lines it completed and the lines it dropped. */
  push(chunk: Uint8Array): SplitResult {
    const lines: string[] = [];
    const dropped: number[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (this.#discarding) {
        this.#discardedBytes += piece.length;
      } else if (this.#pendingBytes + piece.length > this.maxLineBytes) {
        this.#discarding = true;
        this.#discardedBytes = this.#pendingBytes + piece.length;
        this.#pending = [];
        this.#pendingBytes = 0;
      } else if (piece.length > 0) {
        // Copy: the caller may reuse the chunk's buffer.
        this.#pending.push(piece.slice());
        this.#pendingBytes += piece.length;
      }
      if (nl === -1) break;
      if (this.#discarding) {
        dropped.push(this.#discardedBytes);
        this.#discarding = false;
        this.#discardedBytes = 0;
      } else {
        const line = this.#take();
        if (line !== "") lines.push(line);
      }
      start = nl + 1;
    }
    return { lines, dropped };
  }

  /** Bytes buffered for an unfinished line (for tests and diagnostics). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  #take(): string {
    const bytes = concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    let line = this.#decoder.decode(bytes);
    if (line.startsWith(RECORD_SEPARATOR)) line = line.slice(1);
    return line.trim();
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
