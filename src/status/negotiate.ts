/**
 * Content negotiation of `/metrics`: OpenMetrics when the scraper's Accept
 * header prefers `application/openmetrics-text` (Prometheus sends it with the
 * highest q), the Prometheus text format 0.0.4 otherwise (curl, older
 * scrapers, a browser, no header at all).
 *
 * @module
 */
import type { MetricsFormat } from "./render.ts";

/** The rendering for an Accept header: OpenMetrics if its q is above 0 and at least that of any other acceptable type. */
export function metricsFormatFor(accept: string | undefined): MetricsFormat {
  let openMetricsQ = 0;
  let otherQ = 0;
  for (const entry of (accept ?? "").split(",")) {
    const [type, ...params] = entry.split(";").map((p) => p.trim().toLowerCase());
    if (!type) continue;
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q > 0)) continue;
    if (type === "application/openmetrics-text") openMetricsQ = Math.max(openMetricsQ, q);
    else otherQ = Math.max(otherQ, q);
  }
  return openMetricsQ > 0 && openMetricsQ >= otherQ ? "openmetrics" : "prometheus";
}
