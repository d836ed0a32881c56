/**
 * The status document (schema), how it is read from a running instance or
 * its state file, rendered (table, JSON, YAML, OpenMetrics, Prometheus text), watched and
 * waited on. Everything outside this folder uses it through this module.
 *
 * @module
 */
export { queryInstance, type InstanceSelection } from "./client.ts";
export { parseDuration } from "./duration.ts";
export { unhealthyReason } from "./health.ts";
export { metricsFormatFor } from "./negotiate.ts";
export { type MetricsFormat, renderMetrics, StatusFormatSchema } from "./render.ts";
export { type ContainerStatus, type DaemonState, emptyLatencyHistogram, type ForwardStatus, type LatencyHistogram, type StatusDocument, StatusDocumentSchema } from "./schema.ts";
export { showStatus } from "./show.ts";
export { waitUntilReady } from "./waiter.ts";
