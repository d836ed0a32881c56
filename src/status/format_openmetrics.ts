/**
 * OpenMetrics 1.0 text rendering of the metric model (metrics.ts): what
 * `rdhpf status --format openmetrics` prints and `/metrics` serves to a
 * scraper that asks for `application/openmetrics-text`.
 *
 * Spec: https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md
 *
 * @module
 */
import { replaceUnsafe } from "../text_safety.ts";
import { type MetricSample, metricFamilies } from "./metrics.ts";
import type { InstanceView } from "./view.ts";

/** Media type of this rendering, as `/metrics` announces it. */
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/**
 * Label value escaping of both text formats (backslash, double quote, line
 * feed). They have no escape for other unsafe characters (ESC, bidi): those
 * become U+FFFD, as lone surrogates must anyway to keep the output UTF-8.
 */
export function escapeLabelValue(v: string): string {
  return replaceUnsafe(v, (cp) => (cp === 0x0a ? "\n" : "\ufffd")).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Number rendering: integers without a decimal point, floats with one, NaN and ±Inf by name. */
export function formatNumber(v: number, float = false): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  const s = String(v);
  if (!float || /[.e]/.test(s)) return s;
  return `${s}.0`;
}

/** One sample line, `name{labels} value`; shared with the Prometheus text rendering. */
export function sampleLine(name: string, s: MetricSample): string {
  const labels = s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
  return `${name}${s.suffix}{${labels}} ${formatNumber(s.value, s.float)}`;
}

/** The exposition for all views, ending in "# EOF\n". */
export function formatOpenMetrics(views: InstanceView[], now: Date): string {
  const lines: string[] = [];
  for (const f of metricFamilies(views, now)) {
    lines.push(`# TYPE ${f.name} ${f.type}`);
    if (f.unit) lines.push(`# UNIT ${f.name} ${f.unit}`);
    lines.push(`# HELP ${f.name} ${f.help}`);
    for (const s of f.samples) lines.push(sampleLine(f.name, s));
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}
