/**
 * Renders instance views in the format `rdhpf status --format` asks for.
 *
 * JSON and YAML shapes (docs/status.md): with `--host`, the one instance's
 * document (`InstanceReportSchema`); without, `{ "instances": [...] }`
 * (`StatusListReportSchema`), even when there is only one. YAML is the same
 * data as JSON, written by the `yaml` package, which is imported only when
 * YAML is asked for: it is the largest module `rdhpf status` would load
 * otherwise (docs/performance.md).
 *
 * @module
 */
import { z } from "zod";
import { escapeSerialized } from "../text_safety.ts";
import { formatOpenMetrics, OPENMETRICS_CONTENT_TYPE } from "./format_openmetrics.ts";
import { formatPrometheus, PROMETHEUS_CONTENT_TYPE } from "./format_prometheus.ts";
import { formatTable } from "./format_table.ts";
import { type InstanceReport, instanceReport, type InstanceView, type StatusListReport } from "./view.ts";

export const StatusFormatSchema = z.enum(["table", "json", "yaml", "openmetrics", "prometheus"]);
export type StatusFormat = z.infer<typeof StatusFormatSchema>;

/** The two metrics renderings (metrics.ts has the one model behind both). */
export type MetricsFormat = "openmetrics" | "prometheus";

/** The metrics of the views in one of the two text formats, with its media type: `/metrics` and `status --format` share it. */
export function renderMetrics(views: InstanceView[], format: MetricsFormat, now: Date): { body: string; contentType: string } {
  return format === "openmetrics"
    ? { body: formatOpenMetrics(views, now), contentType: OPENMETRICS_CONTENT_TYPE }
    : { body: formatPrometheus(views, now), contentType: PROMETHEUS_CONTENT_TYPE };
}

/** Options of `renderStatus`. */
export interface RenderOptions {
  color: boolean;
  now: Date;
  /** Table width in columns (default 100). */
  width?: number;
  /** `--host` was given: JSON/YAML is the one instance's document, not a list. */
  single: boolean;
  /** JSON on one line (one document per line in `--watch` to a pipe). */
  compact?: boolean;
}


/** The JSON/YAML data for the views. */
export function reportData(views: InstanceView[], single: boolean): InstanceReport | StatusListReport {
  if (single) {
    if (views.length !== 1) throw new Error(`a single-instance report needs exactly one view, got ${views.length}`);
    return instanceReport(views[0]!);
  }
  return { instances: views.map(instanceReport) };
}

/** Renders views; the result ends with a newline. */
export async function renderStatus(views: InstanceView[], format: StatusFormat, opts: RenderOptions): Promise<string> {
  switch (format) {
    case "table":
      return formatTable(views, { color: opts.color, now: opts.now, width: opts.width });
    case "openmetrics":
    case "prometheus":
      return renderMetrics(views, format, opts.now).body;
    case "json":
      // C1 controls, DEL and bidi characters survive JSON.stringify and YAML raw; some terminals act on them.
      return `${escapeSerialized(JSON.stringify(reportData(views, opts.single), null, opts.compact ? undefined : 2))}\n`;
    case "yaml": {
      const { default: YAML } = await import("yaml");
      // Every string double-quoted: YAML 1.1 readers would otherwise take a
      // container named `yes` for a boolean, and 1.2 readers `0o17` for a number.
      return escapeSerialized(YAML.stringify(reportData(views, opts.single), { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN", lineWidth: 0 }));
    }
  }
}
