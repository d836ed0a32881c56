/**
 * The human table of `rdhpf status`: one block per instance, a header with the
 * figures operators watch (connections opened, reconnects, events, latency),
 * then one row per forward, current ones first, then those that ended in the
 * last hour. Every line fits the width (100 columns by default); every string
 * that came from the remote goes through `displaySafe`.
 *
 * @module
 */
import { bracketIpv6, hostPort } from "../address.ts";
import { displaySafe, displayWidth, padColumns } from "../text_safety.ts";
import { ageMs, formatAge } from "./duration.ts";
import type { DaemonState, ForwardState, ForwardStatus, HistoryEntry, StatusDocument } from "./schema.ts";
import type { InstanceView } from "./view.ts";

/** Options of `formatTable`. */
export interface TableOptions {
  /** ANSI colours for states (only when stdout is a TTY and NO_COLOR is unset). */
  color: boolean;
  /** The moment ages are measured from. */
  now: Date;
  /** Terminal columns every line must fit; default 100, at least 80 is assumed. */
  width?: number;
}

const DEFAULT_WIDTH = 100;
const INDENT = "  ";
const GAP = "  ";
const LABEL_COLUMNS = 12;
/** Forwards that ended longer ago are not shown. */
const HISTORY_WINDOW_MS = 3_600_000;
const HISTORY_MAX_ROWS = 100;
/** Below this, the reason goes on its own line under the row. */
const MIN_REASON_COLUMNS = 16;

const ANSI = { green: "\x1b[32m", red: "\x1b[31m", yellow: "\x1b[33m", dim: "\x1b[2m", reset: "\x1b[0m" } as const;

const FORWARD_COLOR: Record<ForwardState | "ended", keyof typeof ANSI> = {
  active: "green", conflict: "red", pending: "yellow", unsupported: "dim", ignored: "dim", ended: "dim",
};
const DAEMON_COLOR: Record<DaemonState, keyof typeof ANSI> = {
  connected: "green", starting: "yellow", reconnecting: "yellow", degraded: "red", stopping: "dim",
};

function paint(text: string, color: keyof typeof ANSI, on: boolean): string {
  return on ? `${ANSI[color]}${text}${ANSI.reset}` : text;
}

/** `127.0.0.1,[::1]:8080`; `-:5353` when nothing listens locally. */
function localText(f: ForwardStatus): string {
  const addrs = f.local_addresses.map(bracketIpv6);
  return `${addrs.length ? addrs.join(",") : "-"}:${f.local_port}`;
}


interface Row {
  cells: string[]; // already display-safe
  state: ForwardState | "ended";
  reason: string | null; // raw, escaped when laid out
}

const COLUMNS = [
  { title: "CONTAINER", max: 24, min: 9 },
  { title: "ID", max: 12, min: 12 },
  { title: "LOCAL", max: 24, min: 10 },
  { title: "REMOTE", max: 24, min: 10 },
  { title: "PROTO", max: 5, min: 5 },
  { title: "STATE", max: 11, min: 11 },
  { title: "SINCE", max: 7, min: 7 },
] as const;
/** Columns given up first when the table is too wide: container, local, remote. */
const SHRINK_ORDER = [0, 2, 3];
const STATE_COLUMN = 5;

function forwardRow(f: ForwardStatus, now: Date): Row {
  const since = ageMs(f.since, now);
  return {
    cells: [f.container_name, f.container_id.slice(0, 12), localText(f), hostPort(f.remote_address, f.remote_port), f.protocol, f.state, since === null ? "?" : formatAge(since)],
    state: f.state,
    reason: f.reason,
  };
}

function historyRow(h: HistoryEntry, now: Date): Row {
  const ended = ageMs(h.ended_at, now);
  return {
    cells: [h.container_name, h.container_id.slice(0, 12), localText(h), hostPort(h.remote_address, h.remote_port), h.protocol, "ended", ended === null ? "?" : `${formatAge(ended)}`],
    state: "ended",
    reason: h.end_reason,
  };
}

/** Recent history, newest first, capped. */
function recentHistory(history: HistoryEntry[], now: Date): HistoryEntry[] {
  return history
    .filter((h) => {
      const age = ageMs(h.ended_at, now);
      return age === null || age <= HISTORY_WINDOW_MS;
    })
    .sort((a, b) => b.ended_at.localeCompare(a.ended_at))
    .slice(0, HISTORY_MAX_ROWS);
}

/** Column widths from content, shrunk until the fixed columns fit `width`. */
function columnWidths(rows: Row[], width: number): number[] {
  const widths = COLUMNS.map((c, i) => {
    let w = c.title.length;
    for (const r of rows) w = Math.max(w, displayWidth(displaySafe(r.cells[i]!, c.max)));
    return Math.min(Math.max(w, c.min), c.max);
  });
  const used = () => INDENT.length + widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
  for (const i of SHRINK_ORDER) {
    const over = used() - width;
    if (over <= 0) break;
    widths[i] = Math.max(COLUMNS[i]!.min, widths[i]! - over);
  }
  return widths;
}

function layoutRows(rows: Row[], widths: number[], width: number, titles: { since: string; reason: string }, color: boolean): string[] {
  const fixed = INDENT.length + widths.reduce((a, b) => a + b, 0) + GAP.length * widths.length;
  const reasonColumns = width - fixed;
  const inlineReasons = reasonColumns >= MIN_REASON_COLUMNS;
  const reasonTitle = titles.reason;
  const columnTitles = COLUMNS.map((c) => (c.title === "SINCE" ? titles.since : c.title));
  const header = INDENT + columnTitles.map((t, i) => padColumns(t, widths[i]!)).join(GAP) + (inlineReasons ? GAP + reasonTitle : "");
  const lines = [header.trimEnd()];
  for (const r of rows) {
    const cells = r.cells.map((text, i) => {
      const padded = padColumns(displaySafe(text, widths[i]!), widths[i]!);
      return i === STATE_COLUMN ? paint(padded, FORWARD_COLOR[r.state], color) : padded;
    });
    let line = INDENT + cells.join(GAP);
    let below: string | null = null;
    if (r.reason !== null && r.reason !== "") {
      const full = displaySafe(r.reason, width);
      if (inlineReasons && displayWidth(full) <= reasonColumns) line += GAP + full;
      else below = `${INDENT}${INDENT}${reasonTitle.toLowerCase()}: ${displaySafe(r.reason, width - 2 * INDENT.length - reasonTitle.length - 2)}`;
    }
    lines.push(line.trimEnd());
    if (below !== null) lines.push(below);
  }
  return lines;
}

function labelled(label: string, value: string, width: number): string {
  return `${INDENT}${label.padEnd(LABEL_COLUMNS)}${displaySafe(value, width - INDENT.length - LABEL_COLUMNS)}`;
}

function titleLine(view: InstanceView, width: number, color: boolean): string {
  const { doc } = view;
  if (view.live) {
    const host = displaySafe(doc.host, width - doc.state.length - GAP.length);
    return `${host}${GAP}${paint(doc.state, DAEMON_COLOR[doc.state], color)}`;
  }
  const age = view.staleAgeS === null ? "an unknown time" : formatAge(view.staleAgeS * 1000);
  const [status, detail] = view.unresponsive
    ? ["not answering", `(PID ${doc.pid} exists; last state from ${age} ago: ${doc.state})`]
    : ["not running", `(last state from ${age} ago: ${doc.state})`];
  const host = displaySafe(doc.host, Math.max(10, width - status.length - detail.length - 2 * GAP.length));
  return `${host}${GAP}${paint(status, view.unresponsive ? "yellow" : "red", color)}${GAP}${detail}`;
}

function ageText(iso: string | null, now: Date): string | null {
  const ms = ageMs(iso, now);
  return ms === null ? null : formatAge(ms);
}

function headerLines(view: InstanceView, now: Date, width: number): string[] {
  const { doc } = view;
  const lines: string[] = [];
  if (doc.resolved) {
    const r = doc.resolved;
    lines.push(labelled("resolved", `${r.user ? `${r.user}@` : ""}${hostPort(r.hostname, r.port)}`, width));
  }
  lines.push(labelled("rdhpf", `PID ${doc.pid}, version ${doc.version}, up ${ageText(doc.started_at, now) ?? "?"}`, width));
  const ssh = doc.ssh;
  const master = ssh.master_pid === null ? "no master" : `master PID ${ssh.master_pid}`;
  const connectedFor = ageText(ssh.connected_since, now);
  lines.push(labelled("ssh", ssh.connected ? `connected for ${connectedFor ?? "?"}, ${master}` : `not connected, ${master}`, width));
  lines.push(labelled(
    "connections",
    `${ssh.connections_opened} opened since start, ${ssh.reconnects} reconnects, ${ssh.consecutive_failures} consecutive failures`,
    width,
  ));
  const d = doc.docker;
  const engine = d.server_version ? `Docker ${d.server_version} (API ${d.api_version ?? "?"})` : "Docker version unknown";
  const via = d.transport ? ` via ${d.transport}${d.endpoint ? ` to ${d.endpoint}` : ""}` : "";
  lines.push(labelled("docker", `${d.connected ? "connected" : "not connected"}, ${engine}${via}`, width));
  if (d.client_socket) lines.push(labelled("socket", `DOCKER_HOST=unix://${d.client_socket} for docker, compose, Testcontainers`, width));
  const ds = doc.docker_socket;
  if (ds) {
    const sessions = ds.limit === null ? "" : `; dial-stdio sessions ${ds.sessions ?? 0} of ${ds.limit}, ${ds.queued} queued`;
    lines.push(labelled("clients", `${ds.connections} open, ${ds.connections_total} since start${sessions}`, width));
  }
  const lastEvent = ageText(d.last_event_at, now);
  lines.push(labelled(
    "events",
    `${d.events_received} received, ${lastEvent === null ? "none yet" : `last ${lastEvent} ago`}, ${d.event_stream_restarts} stream restarts`,
    width,
  ));
  const l = doc.latency_ms;
  lines.push(labelled(
    "add latency",
    l.samples === 0 || l.p50 === null ? "no forward added yet" : `p50 ${l.p50} ms, p99 ${l.p99 ?? "?"} ms over the last ${l.samples} adds`,
    width,
  ));
  if (d.client_socket) lines.push(labelled("start hold", startHoldText(doc.start_hold), width));
  lines.push(labelled("containers", containerCounts(doc), width));
  lines.push(labelled("forwards", `${forwardCounts(doc)}; ${doc.forwards_added_total} added, ${doc.forwards_removed_total} removed since start`, width));
  if (doc.last_error) lines.push(labelled("last error", doc.last_error, width));
  return lines;
}

/** The Docker socket's start hold: how the holds ended and the time they added. */
function startHoldText(h: StatusDocument["start_hold"]): string {
  if (!h.enabled && h.holds === 0) return "off (--no-start-hold)";
  const added = h.added_ms.p50 === null ? "" : `; added p50 ${h.added_ms.p50} ms, p99 ${h.added_ms.p99 ?? "?"} ms`;
  return `${h.holds} held (${h.ready} ready, ${h.nothing_to_wait_for} no TCP port, ${h.timeouts} timed out, ${h.errors} errors)${added}`;
}

function containerCounts(doc: StatusDocument): string {
  if (!doc.ssh.connected && doc.containers.length === 0) return "unknown while not connected";
  const publishing = doc.containers.filter((c) => c.published_tcp_ports.length > 0).length;
  return `${doc.containers.length} running, ${publishing} with published TCP ports`;
}

function forwardCounts(doc: StatusDocument): string {
  if (doc.forwards.length === 0) return "none";
  const counts = new Map<string, number>();
  for (const f of doc.forwards) counts.set(f.state, (counts.get(f.state) ?? 0) + 1);
  const order: ForwardState[] = ["active", "conflict", "pending", "unsupported", "ignored"];
  return order.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(", ");
}

function currentOrder(a: ForwardStatus, b: ForwardStatus): number {
  return a.container_name.localeCompare(b.container_name) || a.local_port - b.local_port;
}

function instanceBlock(view: InstanceView, opts: Required<TableOptions>): string[] {
  const { now, width, color } = opts;
  const current = [...view.doc.forwards].sort(currentOrder).map((f) => forwardRow(f, now));
  const ended = recentHistory(view.doc.history, now).map((h) => historyRow(h, now));
  const lines = [titleLine(view, width, color), ...headerLines(view, now, width), ""];
  const widths = columnWidths([...current, ...ended], width);
  if (current.length === 0) lines.push(`${INDENT}no forwards`);
  else lines.push(...layoutRows(current, widths, width, { since: "SINCE", reason: "REASON" }, color));
  if (ended.length > 0) {
    lines.push("", `${INDENT}ended in the last hour:`);
    lines.push(...layoutRows(ended, widths, width, { since: "ENDED", reason: "END REASON" }, color));
  }
  return lines;
}

/** Renders views as the human table; ends with a newline. */
export function formatTable(views: InstanceView[], opts: TableOptions): string {
  // `width: undefined` (renderStatus passes its option through) must not override the default.
  const full: Required<TableOptions> = { ...opts, width: opts.width ?? DEFAULT_WIDTH };
  if (views.length === 0) return "no rdhpf instance found\n";
  return views.map((v) => instanceBlock(v, full).join("\n")).join("\n\n") + "\n";
}
