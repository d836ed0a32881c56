/**
 * The status document: what a running daemon answers on its control socket and
 * writes to its state file. `rdhpf status` renders it; docs/status.md documents
 * it; tests import this schema. Times are ISO 8601 UTC strings.
 *
 * @module
 */
import { z } from "zod";

export const ForwardStateSchema = z.enum(["active", "conflict", "pending", "unsupported", "ignored"]);
export type ForwardState = z.infer<typeof ForwardStateSchema>;

export const ForwardStatusSchema = z.object({
  container_id: z.string(),
  container_name: z.string(),
  local_addresses: z.array(z.string()),
  local_port: z.number().int(),
  remote_address: z.string(),
  remote_port: z.number().int(),
  protocol: z.enum(["tcp", "udp", "sctp"]),
  state: ForwardStateSchema,
  reason: z.string().nullable(),
  since: z.string(),
});
export type ForwardStatus = z.infer<typeof ForwardStatusSchema>;

export const HistoryEntrySchema = ForwardStatusSchema.extend({
  ended_at: z.string(),
  end_reason: z.string(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

/** A running container on the remote host, as rdhpf's last list saw it. */
export const ContainerStatusSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** Host ports of its published TCP bindings, deduplicated, ascending. */
  published_tcp_ports: z.array(z.number().int()),
});
export type ContainerStatus = z.infer<typeof ContainerStatusSchema>;

export const DaemonStateSchema = z.enum(["starting", "connected", "reconnecting", "degraded", "stopping"]);
export type DaemonState = z.infer<typeof DaemonStateSchema>;

/**
 * Upper bounds (seconds) of the add-latency histogram buckets: Prometheus'
 * default buckets, which span the measured adds (tens of ms) to a stalled
 * connection (seconds). `+Inf` is implied: its count is `count`.
 */
export const ADD_LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Cumulative histogram of forward add latencies since start (all adds, not the last 100). */
export const LatencyHistogramSchema = z.object({
  /** One per bound of ADD_LATENCY_BUCKETS_S, ascending: adds that took at most `le_s` seconds. */
  buckets: z.array(z.object({ le_s: z.number(), count: z.number().int() })),
  sum_s: z.number(),
  count: z.number().int(),
});
export type LatencyHistogram = z.infer<typeof LatencyHistogramSchema>;

/** The empty histogram: every bucket at 0. */
export function emptyLatencyHistogram(): LatencyHistogram {
  return { buckets: ADD_LATENCY_BUCKETS_S.map((le_s) => ({ le_s, count: 0 })), sum_s: 0, count: 0 };
}

/**
 * Start responses held on rdhpf's Docker socket until the container's
 * forwards were ready, by outcome (counters since start), and the time the
 * holds added over the last 100.
 */
export const StartHoldStatusSchema = z.object({
  enabled: z.boolean(),
  holds: z.number().int(),
  ready: z.number().int(),
  nothing_to_wait_for: z.number().int(),
  timeouts: z.number().int(),
  errors: z.number().int(),
  added_ms: z.object({ p50: z.number().nullable(), p99: z.number().nullable(), samples: z.number().int() }),
});
export type StartHoldStatus = z.infer<typeof StartHoldStatusSchema>;

export function emptyStartHoldStatus(): StartHoldStatus {
  return { enabled: false, holds: 0, ready: 0, nothing_to_wait_for: 0, timeouts: 0, errors: 0, added_ms: { p50: null, p99: null, samples: 0 } };
}

export const StatusDocumentSchema = z.object({
  host: z.string(),
  resolved: z.object({ user: z.string().nullable(), hostname: z.string(), port: z.number().int() }).nullable(),
  pid: z.number().int(),
  version: z.string(),
  /** Commit the binary was built from ("dev" from sources); "unknown" in state files of older daemons. */
  commit: z.string().default("unknown"),
  state: DaemonStateSchema,
  started_at: z.string(),
  updated_at: z.string(),
  last_error: z.string().nullable(),
  ssh: z.object({
    connected: z.boolean(),
    master_pid: z.number().int().nullable(),
    connections_opened: z.number().int(),
    reconnects: z.number().int(),
    connected_since: z.string().nullable(),
    consecutive_failures: z.number().int(),
  }),
  docker: z.object({
    connected: z.boolean(),
    server_version: z.string().nullable(),
    api_version: z.string().nullable(),
    transport: z.enum(["socket-forward", "dial-stdio"]).nullable(),
    endpoint: z.string().nullable(),
    events_received: z.number().int(),
    last_event_at: z.string().nullable(),
    event_stream_restarts: z.number().int(),
    /** The local Docker socket rdhpf serves for the user's tools; null when turned off. Came after 0.1.0. */
    client_socket: z.string().nullable().default(null),
  }),
  /**
   * rdhpf's Docker socket for the user's tools, as of now; null when turned
   * off (and in state files of daemons before it existed).
   */
  docker_socket: z.object({
    path: z.string(),
    connections: z.number().int(),
    connections_total: z.number().int(),
    sessions: z.number().int().nullable(),
    queued: z.number().int(),
    limit: z.number().int().nullable(),
  }).nullable().default(null),
  latency_ms: z.object({ p50: z.number().nullable(), p99: z.number().nullable(), samples: z.number().int() }),
  /** Defaults as for the totals below: older daemons kept no histogram. */
  add_latency: LatencyHistogramSchema.default(emptyLatencyHistogram),
  /** The start hold of rdhpf's Docker socket (see docs/status.md); came after 0.1.0, hence the default. */
  start_hold: StartHoldStatusSchema.default(emptyStartHoldStatus),
  /** Bytes rdhpf's logging wrote since start (log file or stderr), for the log volume alert. */
  log_bytes_written: z.number().int().default(0),
  forwards: z.array(ForwardStatusSchema),
  /**
   * Forwards that became active / ended since the daemon started (counters).
   * These three came after 0.1.0; the defaults let a new `rdhpf status` read
   * the state file an older daemon left behind during an upgrade.
   */
  forwards_added_total: z.number().int().default(0),
  forwards_removed_total: z.number().int().default(0),
  containers: z.array(ContainerStatusSchema).default([]),
  history: z.array(HistoryEntrySchema),
});
export type StatusDocument = z.infer<typeof StatusDocumentSchema>;
