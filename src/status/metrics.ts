/**
 * The metrics of rdhpf as one model: which families exist, their type, unit,
 * help and samples for a set of instance views. Two renderers write it out:
 * OpenMetrics 1.0 (format_openmetrics.ts) and the Prometheus text format
 * 0.0.4 (format_prometheus.ts), so `rdhpf status --format openmetrics`,
 * `--format prometheus` and the daemon's `/metrics` cannot disagree on a
 * figure. docs/status.md lists every family (checked by docs_test.ts).
 *
 * Naming follows Prometheus' conventions: base units in the name (seconds,
 * bytes), `_total` for counters. Every sample carries `host` (the target as
 * the user wrote it) and `resolved` (user@host:port as ssh resolved it);
 * container names are never label values, so the series count stays bounded.
 *
 * An instance that did not answer live exposes only `rdhpf_up 0`: figures
 * from a stopped daemon's last state file are not current measurements.
 *
 * @module
 */
import { DaemonStateSchema, ForwardStateSchema, type StatusDocument } from "./schema.ts";
import type { InstanceView } from "./view.ts";

/**
 * OpenMetrics types. `info` and `stateset` do not exist in the Prometheus
 * text format, which renders them as gauges.
 */
export type MetricType = "gauge" | "counter" | "histogram" | "info" | "stateset";

export interface MetricSample {
  /** Suffix after the family name: "", "_total", "_created", "_bucket", "_sum", "_count", "_info". */
  suffix: string;
  labels: [string, string][];
  value: number;
  /** Render as a float even when integral (timestamps, seconds, bucket bounds). */
  float?: boolean;
}

export interface MetricFamily {
  /** The OpenMetrics family name: a counter's without `_total`, an info's without `_info`. */
  name: string;
  type: MetricType;
  /** Base unit, a suffix of the name (OpenMetrics `# UNIT`). */
  unit?: "seconds" | "bytes";
  help: string;
  samples: MetricSample[];
}

/** Definition of a family; `samples` is called once per live instance. */
interface FamilyDef {
  name: string;
  type: MetricType;
  unit?: MetricFamily["unit"];
  help: string;
  samples(doc: StatusDocument, host: [string, string][], now: Date): MetricSample[];
}

type Labels = [string, string][];

const seconds = (iso: string | null): number | null => {
  if (iso === null) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t / 1000;
};

/** The `resolved` label: user@host:port, spelled as the instance identity in rdhpf's logs; "" when unknown. */
export function resolvedLabel(doc: StatusDocument): string {
  const r = doc.resolved;
  if (r === null) return "";
  return `${r.user === null ? "" : `${r.user}@`}${r.hostname}:${r.port}`;
}

function hostLabels(doc: StatusDocument): Labels {
  return [["host", doc.host], ["resolved", resolvedLabel(doc)]];
}

/** A counter's `_total`, with `_created` = daemon start (counters start at 0 then). */
function counter(doc: StatusDocument, host: Labels, value: number): MetricSample[] {
  const created = seconds(doc.started_at);
  const out: MetricSample[] = [{ suffix: "_total", labels: host, value }];
  if (created !== null) out.push({ suffix: "_created", labels: host, value: created, float: true });
  return out;
}

const gauge = (host: Labels, value: number, float = false): MetricSample[] => [{ suffix: "", labels: host, value, float }];

export const UP_HELP = "1 when the rdhpf daemon answered, 0 when it did not (its other figures are then absent).";

/** Families exposed for live instances only, in exposition order. */
const FAMILIES: FamilyDef[] = [
  {
    name: "rdhpf_build", type: "info", help: "Version and commit of the running rdhpf (value 1).",
    samples: (doc, host) => [{ suffix: "_info", labels: [...host, ["version", doc.version], ["commit", doc.commit]], value: 1 }],
  },
  {
    name: "rdhpf_start_time_seconds", type: "gauge", unit: "seconds", help: "Unix time the daemon process started.",
    samples: (doc, host) => {
      const started = seconds(doc.started_at);
      return started === null ? [] : gauge(host, started, true);
    },
  },
  {
    name: "rdhpf_uptime_seconds", type: "gauge", unit: "seconds", help: "Seconds since the daemon started.",
    samples: (doc, host, now) => {
      const started = seconds(doc.started_at);
      return started === null ? [] : gauge(host, Math.max(0, now.getTime() / 1000 - started), true);
    },
  },
  {
    name: "rdhpf_state", type: "stateset", help: "Daemon state: connected, or why not (1 for the current state).",
    samples: (doc, host) => DaemonStateSchema.options.map((s) => ({ suffix: "", labels: [...host, ["rdhpf_state", s]], value: doc.state === s ? 1 : 0 })),
  },
  {
    name: "rdhpf_ssh_connected", type: "gauge", help: "1 while the SSH ControlMaster connection is up.",
    samples: (doc, host) => gauge(host, doc.ssh.connected ? 1 : 0),
  },
  {
    name: "rdhpf_ssh_connections_opened", type: "counter",
    help: "Authenticated SSH connections opened since start (1 plus one per reconnect after a real failure).",
    samples: (doc, host) => counter(doc, host, doc.ssh.connections_opened),
  },
  {
    name: "rdhpf_ssh_reconnects", type: "counter", help: "SSH reconnects since start.",
    samples: (doc, host) => counter(doc, host, doc.ssh.reconnects),
  },
  {
    name: "rdhpf_ssh_consecutive_failures", type: "gauge", help: "Failed SSH connection attempts since the last success.",
    samples: (doc, host) => gauge(host, doc.ssh.consecutive_failures),
  },
  {
    name: "rdhpf_docker_connected", type: "gauge", help: "1 while the remote Docker Engine API answers.",
    samples: (doc, host) => gauge(host, doc.docker.connected ? 1 : 0),
  },
  {
    name: "rdhpf_docker_events_received", type: "counter", help: "Docker events received since start.",
    samples: (doc, host) => counter(doc, host, doc.docker.events_received),
  },
  {
    name: "rdhpf_docker_event_stream_restarts", type: "counter", help: "Times the Docker event stream had to be restarted.",
    samples: (doc, host) => counter(doc, host, doc.docker.event_stream_restarts),
  },
  {
    name: "rdhpf_docker_last_event_timestamp_seconds", type: "gauge", unit: "seconds", help: "Unix time of the last Docker event received.",
    samples: (doc, host) => {
      const t = seconds(doc.docker.last_event_at);
      return t === null ? [] : gauge(host, t, true);
    },
  },
  {
    name: "rdhpf_docker_socket_connections", type: "gauge", help: "Client connections open on rdhpf's Docker socket (relayed, or waiting for a link or a dial-stdio session).",
    samples: (doc, host) => (doc.docker_socket === null ? [] : gauge(host, doc.docker_socket.connections)),
  },
  {
    name: "rdhpf_docker_socket_connections_accepted", type: "counter", help: "Client connections rdhpf's Docker socket accepted since start (each an Engine API connection relayed to the remote host).",
    samples: (doc, host) => (doc.docker_socket === null ? [] : counter(doc, host, doc.docker_socket.connections_total)),
  },
  {
    name: "rdhpf_docker_socket_queued", type: "gauge", help: "Connections waiting for a free dial-stdio session (0 with a socket forward).",
    samples: (doc, host) => (doc.docker_socket === null ? [] : gauge(host, doc.docker_socket.queued)),
  },
  {
    name: "rdhpf_containers", type: "gauge", help: "Running containers on the remote host, as of rdhpf's last list (0 while not connected).",
    samples: (doc, host) => gauge(host, doc.containers.length),
  },
  {
    name: "rdhpf_forwards", type: "gauge", help: "Current forwards by state.",
    samples: (doc, host) => ForwardStateSchema.options.map((s) => ({
      suffix: "", labels: [...host, ["state", s]], value: doc.forwards.filter((f) => f.state === s).length,
    })),
  },
  {
    name: "rdhpf_forward_state", type: "gauge",
    help: "1 per local port and state of the current forward rows (rows of several containers on one port and state share a series).",
    samples: (doc, host) => {
      const seen = new Set<string>();
      const out: MetricSample[] = [];
      for (const f of doc.forwards) {
        const key = `${f.local_port}/${f.state}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ suffix: "", labels: [...host, ["local_port", String(f.local_port)], ["state", f.state]], value: 1 });
      }
      return out;
    },
  },
  {
    name: "rdhpf_forwards_added", type: "counter", help: "Forwards that became active since start (re-adds after a reconnect count again).",
    samples: (doc, host) => counter(doc, host, doc.forwards_added_total),
  },
  {
    name: "rdhpf_forwards_removed", type: "counter", help: "Forwards that ended since start, whatever the reason (container stopped, port claimed, connection lost, shutdown).",
    samples: (doc, host) => counter(doc, host, doc.forwards_removed_total),
  },
  {
    name: "rdhpf_forward_add_latency_seconds", type: "histogram", unit: "seconds", help: "Seconds from a Docker event to its forward being active.",
    samples: (doc, host) => {
      const h = doc.add_latency;
      const created = seconds(doc.started_at);
      return [
        ...h.buckets.map((b) => ({ suffix: "_bucket", labels: [...host, ["le", formatLe(b.le_s)]] as Labels, value: b.count })),
        { suffix: "_bucket", labels: [...host, ["le", "+Inf"]], value: h.count },
        { suffix: "_sum", labels: host, value: h.sum_s, float: true },
        { suffix: "_count", labels: host, value: h.count },
        ...(created === null ? [] : [{ suffix: "_created", labels: host, value: created, float: true }]),
      ];
    },
  },
  {
    name: "rdhpf_start_holds", type: "counter",
    help: "Start responses held on rdhpf's Docker socket until the container's forwards were ready, by outcome (ready, nothing_to_wait_for, timeout, error).",
    samples: (doc, host) => {
      const h = doc.start_hold;
      const created = seconds(doc.started_at);
      return ([["ready", h.ready], ["nothing_to_wait_for", h.nothing_to_wait_for], ["timeout", h.timeouts], ["error", h.errors]] as const).flatMap(([outcome, n]) => [
        { suffix: "_total", labels: [...host, ["outcome", outcome]] as Labels, value: n },
        ...(created === null ? [] : [{ suffix: "_created", labels: [...host, ["outcome", outcome]] as Labels, value: created, float: true }]),
      ]);
    },
  },
  {
    name: "rdhpf_log_bytes_written", type: "counter", help: "Bytes rdhpf's logging wrote since start (log file or stderr).",
    samples: (doc, host) => counter(doc, host, doc.log_bytes_written),
  },
];

/** A bucket bound as OpenMetrics wants it: a float with a decimal point ("1.0", "0.005"). */
function formatLe(v: number): string {
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** The metric families for all views: `rdhpf_up` for each, the rest for live ones. */
export function metricFamilies(views: InstanceView[], now: Date): MetricFamily[] {
  const up: MetricFamily = {
    name: "rdhpf_up", type: "gauge", help: UP_HELP,
    samples: views.map((v) => ({ suffix: "", labels: hostLabels(v.doc), value: v.live ? 1 : 0 })),
  };
  const live = views.filter((v) => v.live);
  return [up, ...FAMILIES.map((f) => ({
    name: f.name, type: f.type, unit: f.unit, help: f.help,
    samples: live.flatMap((v) => f.samples(v.doc, hostLabels(v.doc), now)),
  }))];
}

/** Name, type and help of every family, for docs/status.md's check. */
export function metricCatalog(): { name: string; type: MetricType; help: string }[] {
  return [{ name: "rdhpf_up", type: "gauge" as const, help: UP_HELP }, ...FAMILIES.map(({ name, type, help }) => ({ name, type, help }))];
}
