/**
 * Prometheus text format 0.0.4 rendering of the metric model (metrics.ts):
 * what `/metrics` serves to a scraper that does not ask for OpenMetrics,
 * and `rdhpf status --format prometheus` prints.
 *
 * The same figures as the OpenMetrics rendering, in the older format's terms:
 * it knows neither `info` nor `stateset` nor `# UNIT` (its parser, and so
 * `promtool check metrics`, rejects them), so an info family is a gauge
 * named `…_info` of value 1, a stateset a gauge of 0/1 per state, a counter
 * is typed under its `_total` name, and `_created` samples are left out
 * (0.0.4 has no place for them).
 *
 * Spec: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 *
 * @module
 */
import { type MetricFamily, metricFamilies } from "./metrics.ts";
import { sampleLine } from "./format_openmetrics.ts";
import type { InstanceView } from "./view.ts";

/** Media type of this rendering, as `/metrics` announces it. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The family as 0.0.4 names and types it. */
function prometheusTerms(f: MetricFamily): { name: string; type: "gauge" | "counter" | "histogram" } {
  switch (f.type) {
    case "counter":
      return { name: `${f.name}_total`, type: "counter" };
    case "info":
      return { name: `${f.name}_info`, type: "gauge" };
    case "stateset":
      return { name: f.name, type: "gauge" };
    default:
      return { name: f.name, type: f.type };
  }
}

/** HELP text escaping of 0.0.4: backslash and line feed. */
const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/** The exposition for all views; ends with a newline, no `# EOF`. */
export function formatPrometheus(views: InstanceView[], now: Date): string {
  const lines: string[] = [];
  for (const f of metricFamilies(views, now)) {
    const { name, type } = prometheusTerms(f);
    lines.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${type}`);
    for (const s of f.samples) {
      if (s.suffix === "_created") continue;
      lines.push(sampleLine(f.name, s));
    }
  }
  return `${lines.join("\n")}\n`;
}
