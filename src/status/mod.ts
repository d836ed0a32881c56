/**
 * The status document (schema), how it is read from a running instance or
 * its state file, rendered (table, JSON, YAML, OpenMetrics), watched and
 * waited on. Everything outside this folder uses it through this module.
 *
 * @module
 */
export { queryInstance, type InstanceSelection } from "./client.ts";
export { parseDuration } from "./duration.ts";
export { StatusFormatSchema } from "./render.ts";
export { type ContainerStatus, type DaemonState, type ForwardStatus, type StatusDocument } from "./schema.ts";
export { showStatus } from "./show.ts";
export { waitUntilReady } from "./waiter.ts";
