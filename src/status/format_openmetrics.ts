/**
 * OpenMetrics 1.0 text exposition of the status documents, so the alert
 * conditions operators care about can be scraped: SSH sessions per hour
 * (`rate(rdhpf_ssh_connections_opened_total[1h])`), consecutive failures,
 * forwards in conflict, event stream restarts.
 *
 * Spec: https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md
 * An instance that did not answer live exposes only `rdhpf_up 0`: figures
 * from a stopped daemon's last state file are not current measurements.
 *
 * @module
 */
import { replaceUnsafe } from "../text_safety.ts";
import { ForwardStateSchema, DaemonStateSchema, type StatusDocument } from "./schema.ts";
import type { InstanceView } from "./view.ts";

type MetricType = "gauge" | "counter" | "summary" | "info" | "stateset";

interface Sample {
  /** Suffix after the family name: "", "_total", "_created", "_count", "_info". */
  suffix: string;
  labels: [string, string][];
  value: number;
  /** Render as a float even when integral (timestamps, seconds). */
  float?: boolean;
}

interface Family {
  name: string;
  type: MetricType;
  unit?: string;
  help: string;
  /** Samples for one live instance. */
  samples(doc: StatusDocument, host: [string, string], now: Date): Sample[];
}

const seconds = (iso: string | null): number | null => {
  if (iso === null) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t / 1000;
};

/** A counter's `_total`, with `_created` = daemon start (counters start at 0 then). */
function counter(doc: StatusDocument, host: [string, string], value: number): Sample[] {
  const created = seconds(doc.started_at);
  const out: Sample[] = [{ suffix: "_total", labels: [host], value }];
  if (created !== null) out.push({ suffix: "_created", labels: [host], value: created, float: true });
  return out;
}

const gauge = (host: [string, string], value: number, float = false): Sample[] => [{ suffix: "", labels: [host], value, float }];

const UP_HELP = "1 when the rdhpf daemon answered on its control socket, 0 when it did not (its other figures are then absent).";

/** Families exposed for live instances only. */
const FAMILIES: Family[] = [
  {
    name: "rdhpf", type: "info", help: "rdhpf daemon version.",
    samples: (doc, host) => [{ suffix: "_info", labels: [host, ["version", doc.version]], value: 1 }],
  },
  {
    name: "rdhpf_state", type: "stateset", help: "Daemon state: connected, or why not.",
    samples: (doc, host) => DaemonStateSchema.options.map((s) => ({ suffix: "", labels: [host, ["rdhpf_state", s]], value: doc.state === s ? 1 : 0 })),
  },
  {
    name: "rdhpf_uptime_seconds", type: "gauge", unit: "seconds", help: "Seconds since the daemon started.",
    samples: (doc, host, now) => {
      const started = seconds(doc.started_at);
      return started === null ? [] : gauge(host, Math.max(0, now.getTime() / 1000 - started), true);
    },
  },
  {
    name: "rdhpf_forwards", type: "gauge", help: "Current forwards by state.",
    samples: (doc, host) => ForwardStateSchema.options.map((s) => ({
      suffix: "", labels: [host, ["state", s]], value: doc.forwards.filter((f) => f.state === s).length,
    })),
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
    name: "rdhpf_containers", type: "gauge", help: "Running containers on the remote host, as of rdhpf's last list (0 while not connected).",
    samples: (doc, host) => gauge(host, doc.containers.length),
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
    name: "rdhpf_forward_add_latency_ms", type: "summary", unit: "ms",
    help: "Milliseconds from a Docker event to its forward being active, over the last 100 adds.",
    samples: (doc, host) => [
      { suffix: "", labels: [host, ["quantile", "0.5"]], value: doc.latency_ms.p50 ?? Number.NaN },
      { suffix: "", labels: [host, ["quantile", "0.99"]], value: doc.latency_ms.p99 ?? Number.NaN },
      { suffix: "_count", labels: [host], value: doc.latency_ms.samples },
    ],
  },
];

/**
 * Label value escaping of the text format (backslash, double quote, line
 * feed). The format has no escape for other unsafe characters (ESC, bidi):
 * they become U+FFFD, as lone surrogates must anyway to keep the output UTF-8.
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

function sampleLine(name: string, s: Sample): string {
  const labels = s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
  return `${name}${s.suffix}{${labels}} ${formatNumber(s.value, s.float)}`;
}

/** The exposition for all views, ending in "# EOF\n". */
export function formatOpenMetrics(views: InstanceView[], now: Date): string {
  const lines = ["# TYPE rdhpf_up gauge", `# HELP rdhpf_up ${UP_HELP}`];
  for (const view of views) lines.push(sampleLine("rdhpf_up", { suffix: "", labels: [["host", view.doc.host]], value: view.live ? 1 : 0 }));
  for (const f of FAMILIES) {
    lines.push(`# TYPE ${f.name} ${f.type}`);
    if (f.unit) lines.push(`# UNIT ${f.name} ${f.unit}`);
    lines.push(`# HELP ${f.name} ${f.help}`);
    for (const view of views.filter((v) => v.live)) {
      for (const s of f.samples(view.doc, ["host", view.doc.host], now)) lines.push(sampleLine(f.name, s));
    }
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}
