/**
 * Where the master's stderr goes: a file in the runtime dir, never a pipe.
 *
 * A pipe ties the master to the rdhpf that started it: when that rdhpf is
 * gone, the next line the master writes gets SIGPIPE (and ends it), and a
 * successor that adopts the master could not read its lines at all. A file
 * outlives both; every rdhpf that holds the master reads it by offset.
 *
 * The file is rotated when a new master starts (the previous one is kept as
 * `.1`) and emptied when it grows beyond its cap: ssh writes with O_APPEND,
 * so after the truncation its lines land at the new end. Offsets handed out
 * before a truncation then point past the end and read from the start.
 *
 * @module
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, renameSync } from "node:fs";

/** Largest size the file may reach before it is emptied: ssh's lines about forwards are short and only recent ones matter. */
export const MASTER_STDERR_CAP_BYTES = 256 * 1024;

/** The master's stderr file, read by offset (see the module comment). */
export class MasterStderrFile {
  /** Bytes written before the last truncation: keeps offsets growing across it. */
  private base = 0;

  private constructor(readonly path: string, readonly fd: number, private readonly capBytes: number) {}

  /** For a master about to start: keeps the previous file as `.1` and opens a new one. */
  static rotate(path: string, capBytes = MASTER_STDERR_CAP_BYTES): MasterStderrFile {
    if (existsSync(path)) renameSync(path, `${path}.1`);
    return new MasterStderrFile(path, openSync(path, "a+", 0o600), capBytes);
  }

  /** For an adopted master that already writes to `path`: read it as it is. */
  static attach(path: string, capBytes = MASTER_STDERR_CAP_BYTES): MasterStderrFile {
    return new MasterStderrFile(path, openSync(path, "a+", 0o600), capBytes);
  }

  private size(): number {
    try {
      return fstatSync(this.fd).size;
    } catch {
      return 0;
    }
  }

  /** Empties the file once it exceeds its cap. Cheap (one fstat); called on every read and by the master's poll. */
  enforceCap(): void {
    const size = this.size();
    if (size <= this.capBytes) return;
    ftruncateSync(this.fd, 0);
    this.base += size;
  }

  /** Offset after everything written so far. */
  cursor(): number {
    this.enforceCap();
    return this.base + this.size();
  }

  /** What was written after `cursor`, at most `maxBytes` of its end. */
  since(cursor: number, maxBytes = 64 * 1024): string {
    this.enforceCap();
    const size = this.size();
    const from = Math.max(0, Math.min(size, cursor - this.base), size - maxBytes);
    return this.read(from, size - from);
  }

  /** The last `maxBytes` of the file. */
  tail(maxBytes: number): string {
    const size = this.size();
    const from = Math.max(0, size - maxBytes);
    return this.read(from, size - from);
  }

  private read(position: number, length: number): string {
    if (length <= 0) return "";
    const buf = Buffer.alloc(length);
    let got = 0;
    try {
      got = readSync(this.fd, buf, 0, length, position);
    } catch {
      return "";
    }
    return buf.subarray(0, got).toString("utf8");
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
