/**
 * Text log lines in logfmt style, the format operators grep:
 * `time=2026-11-27T18:00:00.000Z level=INFO logger=rdhpf.ssh msg="SSH ControlMaster verified healthy" pid=123`.
 * Values are quoted when needed and unsafe characters escaped (the rule of
 * src/text_safety.ts), so a hostile container name can never forge a log line,
 * move the terminal cursor or reorder what a reader sees. JSON lines get the
 * same rule through `escapeSerialized`.
 *
 * @module
 */
import { getJsonLinesFormatter, type LogRecord } from "@logtape/logtape";
import { escapeSerialized, escapeUnsafe, hasUnsafeChars } from "../text_safety.ts";

const LEVEL_NAMES: Record<string, string> = {
  trace: "TRACE", debug: "DEBUG", info: "INFO", warning: "WARN", error: "ERROR", fatal: "FATAL",
};

/** Longest value written into one field; the rest is cut with a marker. */
export const MAX_FIELD_CHARS = 2000;

function valueText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.message;
  if (v === undefined) return "undefined";
  try {
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  } catch {
    return String(v);
  }
}

/** One logfmt value: bare when safe, else double-quoted with escapes. */
export function logfmtValue(v: unknown): string {
  let s = valueText(v);
  if (s.length > MAX_FIELD_CHARS) s = `${s.slice(0, MAX_FIELD_CHARS)}…(${s.length - MAX_FIELD_CHARS} more chars)`;
  if (s !== "" && /^[^\s"=\\]+$/.test(s) && !hasUnsafeChars(s)) return s;
  return `"${escapeUnsafe(s).replace(/"/g, '\\"')}"`;
}

function messageText(record: LogRecord): string {
  return record.message.map((part) => valueText(part)).join("");
}

/** Formats one record as a logfmt line ending in "\n". */
export function formatTextRecord(record: LogRecord): string {
  const fields = [
    `time=${new Date(record.timestamp).toISOString()}`,
    `level=${LEVEL_NAMES[record.level] ?? record.level.toUpperCase()}`,
    `logger=${record.category.join(".")}`,
    `msg=${logfmtValue(messageText(record))}`,
  ];
  for (const [k, v] of Object.entries(record.properties)) {
    const key = k.replace(/[^A-Za-z0-9_.-]/g, "_") || "_";
    fields.push(`${key}=${logfmtValue(v)}`);
  }
  return `${fields.join(" ")}\n`;
}

const jsonLines = getJsonLinesFormatter();

/**
 * Formats one record as a JSON line for log shippers, with LogTape's JSON
 * Lines formatter: `{"@timestamp", "level", "message", "logger",
 * "properties"}`. Properties are capped as in text lines first, and errors
 * become their message (the formatter would add stack traces).
 */
export function formatJsonRecord(record: LogRecord): string {
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record.properties)) {
    properties[k] = v instanceof Error ? v.message : typeof v === "string" && v.length > MAX_FIELD_CHARS ? `${v.slice(0, MAX_FIELD_CHARS)}…` : v;
  }
  return escapeSerialized(jsonLines({ ...record, properties }));
}
