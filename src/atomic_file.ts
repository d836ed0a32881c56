/**
 * The one way rdhpf replaces a file: write a temp file in the same directory,
 * then rename it over the target. A reader (`rdhpf status`, launchd, systemd)
 * sees the old file or the new one, never half of either, even if rdhpf dies
 * in between.
 *
 * @module
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of the new file (default 0600: the runtime dir's files are private). */
  mode?: number;
  /** Create the parent directory with this mode when it is missing (default: do not; a missing dir is an error). */
  createDirMode?: number;
}

/**
 * Writes `content` to `path` atomically.
 *
 * @example
 * ```ts
 * writeFileAtomic(paths.stateFile, JSON.stringify(doc));                          // 0600
 * writeFileAtomic(unitPath, text, { mode: 0o644, createDirMode: 0o755 });        // a service file
 * ```
 */
export function writeFileAtomic(path: string, content: string, opts: AtomicWriteOptions = {}): void {
  if (opts.createDirMode !== undefined) mkdirSync(dirname(path), { recursive: true, mode: opts.createDirMode });
  // pid and time: two writers (or one writer twice within a call) never share a temp file.
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, content, { mode: opts.mode ?? 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
