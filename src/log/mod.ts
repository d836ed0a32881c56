/**
 * Logging set-up for the whole process. Records go to stderr (a LaunchAgent
 * or systemd captures it) or to a size-rotated file, so that no log can fill
 * a disk: the predecessor's stdout.log reached 4.2 GB.
 *
 * Identical warnings and errors are collapsed: within 60 s the first one is
 * written, the rest are counted and reported as "… repeated N times".
 *
 * @module
 */
import { configureSync, getLogger, getThrottlingFilter, type LogLevel, type LogRecord, resetSync, type Sink } from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import { z } from "zod";
import { formatJsonRecord, formatTextRecord } from "./format.ts";

export const LogLevelSchema = z.enum(["trace", "debug", "info", "warn", "error"]);
export type LogLevelName = z.infer<typeof LogLevelSchema>;
export const LogFormatSchema = z.enum(["text", "json"]);
export type LogFormat = z.infer<typeof LogFormatSchema>;

export const LogOptionsSchema = z.object({
  level: LogLevelSchema,
  format: LogFormatSchema,
  /** When set, logs go to this file, rotated at maxFileBytes, keeping maxFiles files. */
  file: z.string().nullable(),
  maxFileBytes: z.number().int().positive().default(10 * 1024 * 1024),
  maxFiles: z.number().int().positive().default(5),
  /** Window for collapsing identical warnings. */
  repeatWindowMs: z.number().int().positive().default(60_000),
});
export type LogOptions = z.input<typeof LogOptionsSchema>;

function logtapeLevel(level: LogLevelName): LogLevel {
  return level === "warn" ? "warning" : level;
}

const QUIET_LEVELS = new Set<LogLevel>(["trace", "debug", "info"]);

/** UTF-8 bytes handed to the sink since the process started (see {@link logBytesWritten}). */
let bytesWritten = 0;

/**
 * Bytes rdhpf's logging has written since the process started, to the log
 * file or stderr: what the formatter handed the sink, which writes it as is.
 * Scraped as `rdhpf_log_bytes_written_total`, so a log that grows too fast
 * (an outage logging in a loop) can raise an alert before it fills a disk.
 */
export function logBytesWritten(): number {
  return bytesWritten;
}

/**
 * Configures LogTape for the process. Call once, early; `stopLogging` flushes.
 * `clock` times the repeat window (tests pass their own instead of waiting a window out).
 */
export function setupLogging(input: LogOptions, stream: { write(s: string): unknown } = process.stderr, clock: () => number = Date.now): void {
  const opts = LogOptionsSchema.parse(input);
  const format = opts.format === "json" ? formatJsonRecord : formatTextRecord;
  const formatter = (record: LogRecord): string => {
    const text = format(record);
    bytesWritten += Buffer.byteLength(text);
    return text;
  };
  const sink: Sink = opts.file
    // bufferSize 0: each record is written when it happens. The sink's default 8 KB buffer is flushed only by a
    // later record, so on a quiet daemon "Forward added" stayed out of the file for hours and a crash lost it.
    ? getRotatingFileSink(opts.file, { formatter, maxSize: opts.maxFileBytes, maxFiles: opts.maxFiles, bufferSize: 0 })
    : (record: LogRecord) => void stream.write(formatter(record));
  const windowS = Math.round(opts.repeatWindowMs / 1000);
  const collapseLog = getLogger(["rdhpf", "log"]);
  const throttle = getThrottlingFilter({
    limit: 1,
    windowMs: opts.repeatWindowMs,
    clock,
    // Identical = same level, logger, message and properties.
    key: (r) => `${r.level}\u0000${r.category.join(".")}\u0000${String(r.rawMessage)}\u0000${safeJson(r.properties)}`,
    summary: {
      // The summary carries the collapsed record's own fields only: the filter's bookkeeping (its key and both
      // records, over 1 KB per summary and up to 6 KB for long values) would be most of an outage's log.
      logger: {
        warning: (message: string, props: Record<string, unknown>) =>
          collapseLog.warn(message, { ...(props.firstRecord as LogRecord | undefined)?.properties }),
      },
      level: "warning",
      message: (s) => `${String(s.firstRecord.rawMessage)} … repeated ${s.suppressed} times in the last ${windowS} s`,
    },
  });
  resetSync();
  configureSync({
    sinks: { main: sink },
    filters: { collapse: (r) => QUIET_LEVELS.has(r.level) || r.category[1] === "log" || throttle(r) },
    loggers: [
      { category: ["rdhpf"], lowestLevel: logtapeLevel(opts.level), sinks: ["main"], filters: ["collapse"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? "";
  } catch {
    return "";
  }
}

/** Flushes and closes sinks (the rotating file) before exit. */
export function stopLogging(): void {
  resetSync();
}
