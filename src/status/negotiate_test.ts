import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { metricsFormatFor } from "./negotiate.ts";

describe("metricsFormatFor (the Accept header of a /metrics request)", () => {
  const cases: [string | undefined, "openmetrics" | "prometheus"][] = [
    [undefined, "prometheus"],
    ["", "prometheus"],
    ["*/*", "prometheus"],
    ["text/plain", "prometheus"],
    ["text/plain;version=0.0.4", "prometheus"],
    ["application/openmetrics-text", "openmetrics"],
    ["Application/OpenMetrics-Text; version=1.0.0", "openmetrics"],
    // What Prometheus 2.x sends by default.
    ["application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "openmetrics"],
    ["text/plain;version=0.0.4;q=0.5, application/openmetrics-text;q=0.7", "openmetrics"],
    ["application/openmetrics-text;q=0, text/plain", "prometheus"],
    ["text/plain, application/openmetrics-text;q=0.1", "prometheus"],
    ["application/openmetrics-text;q=bogus", "prometheus"],
  ];
  for (const [accept, want] of cases) it(`answers ${want} to ${JSON.stringify(accept)}`, () => assert.equal(metricsFormatFor(accept), want));
});
