/**
 * Port rules: which remote ports to forward, and to which local port.
 * Parsed once from CLI/config text into this schema; applied by
 * `desiredForwards` (pure).
 *
 * @module
 */
import { z } from "zod";
import { usageError } from "../errors.ts";
import { PORT_HINT, parsePortText, PortSchema } from "../port.ts";
import { quoteInput } from "../text_safety.ts";

export const PortRangeSchema = z.object({ from: PortSchema, to: PortSchema });
export type PortRange = z.infer<typeof PortRangeSchema>;

export const PortRulesSchema = z.object({
  /** Empty means "every port". */
  include: z.array(PortRangeSchema),
  /** Exclusion wins over inclusion. */
  exclude: z.array(PortRangeSchema),
  /** Remote (published) port → local port. Labels `rdhpf.port.REMOTE=LOCAL` take precedence per container. */
  map: z.record(z.string(), PortSchema),
  /** Remote port → why its `--map` is not what the user may think (given twice with different local ports). */
  mapNotes: z.record(z.string(), z.string()).optional(),
});
export type PortRules = z.infer<typeof PortRulesSchema>;

export const NO_RULES: PortRules = { include: [], exclude: [], map: {} };

/** Label that makes rdhpf leave every port of a container alone. */
export const IGNORE_LABEL = "rdhpf.ignore";
/** Label prefix for per-container port mapping: `rdhpf.port.5432=15432`. */
export const PORT_LABEL_PREFIX = "rdhpf.port.";

function parsePort(text: string, what: string): number {
  const p = parsePortText(text);
  if (p.ok) return p.port;
  if (p.problem === "not-a-number") throw usageError(`invalid port ${JSON.stringify(text)} in ${what}`, PORT_HINT);
  throw usageError(`port ${p.value} in ${what} is out of range`, PORT_HINT);
}

/** Parses "3000-9999,5432" into ranges. */
export function parsePortRanges(text: string, what = "port list"): PortRange[] {
  const ranges: PortRange[] = [];
  for (const part of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const [a, b, ...rest] = part.split("-");
    if (rest.length > 0 || a === undefined) {
      throw usageError(`invalid range ${JSON.stringify(part)} in ${what}`, "use ports and ranges such as 3000-9999,5432");
    }
    const from = parsePort(a, what);
    const to = b === undefined ? from : parsePort(b, what);
    if (to < from) {
      throw usageError(`range ${JSON.stringify(part)} in ${what} ends before it starts`, `write it as ${to}-${from}`);
    }
    ranges.push({ from, to });
  }
  return ranges;
}

/** Parses one `--map REMOTE:LOCAL`. */
export function parsePortMap(text: string): [remote: number, local: number] {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  if (!m) throw usageError(`invalid --map ${JSON.stringify(text)}`, "use --map REMOTE:LOCAL, for example --map 5432:15432");
  return [parsePort(m[1]!, "--map"), parsePort(m[2]!, "--map")];
}

function inRanges(port: number, ranges: PortRange[]): boolean {
  return ranges.some((r) => port >= r.from && port <= r.to);
}

/** Why a published port is not forwarded, or null when the rules allow it. */
export function excludedBy(port: number, rules: PortRules): string | null {
  if (inRanges(port, rules.exclude)) return "excluded by --exclude-ports";
  if (rules.include.length > 0 && !inRanges(port, rules.include)) return "not in --include-ports";
  return null;
}

/** Where a published port goes locally, and what status should say about how that was decided. */
export interface LocalPortChoice {
  port: number;
  /** Set when a rule the user wrote could not apply as written (a bad label, a --map given twice). */
  note: string | null;
}

/** Local port for a remote port: container label first, then `--map`, else the same number. */
export function localPortFor(remotePort: number, labels: Record<string, string>, rules: PortRules): LocalPortChoice {
  const key = `${PORT_LABEL_PREFIX}${remotePort}`;
  const label = labels[key];
  const fromLabel = label === undefined ? null : parsePortText(label.trim());
  if (fromLabel?.ok) return { port: fromLabel.port, note: null };
  const mapped = rules.map[String(remotePort)];
  const port = mapped ?? remotePort;
  if (fromLabel !== null) {
    return { port, note: `label ${key}=${quoteInput(label!, 40)} is not a port (${PORT_HINT}); forwarded on ${port}` };
  }
  return { port, note: mapped === undefined ? null : rules.mapNotes?.[String(remotePort)] ?? null };
}

/** True when the container carries `rdhpf.ignore=true` (also "1", "yes"). */
export function isIgnored(labels: Record<string, string>): boolean {
  const v = labels[IGNORE_LABEL]?.trim().toLowerCase();
  return v === "true" || v === "1" || v === "yes";
}
