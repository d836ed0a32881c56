/**
 * What a TCP port number is, once for the whole code base: the zod schema for
 * parsed values, and the one parser of port text (CLI flags, TARGETs,
 * container labels, Docker endpoints).
 *
 * @module
 */
import { z } from "zod";

/** The highest TCP port. */
export const MAX_PORT = 65535;

/** A TCP port: a whole number from 1 to 65535. */
export const PortSchema = z.number().int().min(1).max(MAX_PORT);
export type Port = z.infer<typeof PortSchema>;

/** Hint for every message about a bad port. */
export const PORT_HINT = "a port is a whole number from 1 to 65535";

/** True when `n` is a TCP port. */
export function isPort(n: number): boolean {
  return PortSchema.safeParse(n).success;
}

/**
 * Reads port text: decimal digits only (no sign, no spaces, no "0x", at most
 * five digits), then the range. Says which of the two failed, so a message can
 * tell "not a number" from "out of range".
 *
 * @example
 * ```ts
 * parsePortText("5432");  // { ok: true, port: 5432 }
 * parsePortText("70000"); // { ok: false, problem: "out-of-range", value: 70000 }
 * parsePortText("54a");   // { ok: false, problem: "not-a-number" }
 * ```
 */
export function parsePortText(text: string): { ok: true; port: Port } | { ok: false; problem: "not-a-number" } | { ok: false; problem: "out-of-range"; value: number } {
  if (!/^[0-9]{1,5}$/.test(text)) return { ok: false, problem: "not-a-number" };
  const n = Number(text);
  return isPort(n) ? { ok: true, port: n } : { ok: false, problem: "out-of-range", value: n };
}
