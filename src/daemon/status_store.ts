/**
 * The daemon's live figures, and their rendering into the status document
 * (src/status/schema.ts) that `rdhpf status` shows. Only this file turns
 * engine state into that document.
 *
 * @module
 */
import type { ActiveForward, BlockedForward, DesiredForward, EndedForward } from "../forward/mod.ts";
import type { ObservedContainer } from "../docker/mod.ts";
import { type ContainerStatus, type DaemonState, emptyLatencyHistogram, type ForwardStatus, type LatencyHistogram, type StatusDocument } from "../status/mod.ts";
import type { HoldOutcome } from "./start_hold.ts";

const LATENCY_SAMPLES = 100;
/** `last_error` while the only trouble is forwards in conflict. */
const CONFLICT_ERROR = "some forwards are in conflict";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Nearest-rank percentile of unsorted samples; null when empty. */
export function percentile(samples: number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** What the status shows of an open Docker link. */
/** rdhpf's Docker socket as of now (see the status document's `docker_socket`). */
export interface DockerSocketCounts {
  path: string;
  /** Client connections open (relayed or waiting for a link). */
  connections: number;
  /** Client connections accepted since start. */
  accepted: number;
  /** dial-stdio: bridges (remote sessions) in use, rdhpf's own included; null otherwise. */
  sessions: number | null;
  /** dial-stdio: connections waiting for a free session. */
  queued: number;
  /** dial-stdio: most sessions at once; null otherwise. */
  limit: number | null;
}

export interface DockerLinkInfo {
  serverVersion: string;
  apiVersion: string;
  transport: "socket-forward" | "dial-stdio";
  endpoint: string;
}

/**
 * The daemon's figures. Fields are read only here, in `document()`; the
 * engine reports what happened through the named methods, so every change
 * of the status has one name to search for.
 */
export class StatusStore {
  private state: DaemonState = "starting";
  private lastError: string | null = null;
  private readonly startedAtMs = Date.now();
  private updatedAtMs = Date.now();

  private ssh = { connected: false, masterPid: null as number | null, connectionsOpened: 0, reconnects: 0, connectedSinceMs: null as number | null, consecutiveFailures: 0 };
  private docker = {
    connected: false, serverVersion: null as string | null, apiVersion: null as string | null,
    transport: null as DockerLinkInfo["transport"] | null, endpoint: null as string | null,
    eventsReceived: 0, lastEventAtMs: null as number | null, eventStreamRestarts: 0,
  };
  /** Forward add latencies (ms, event received → forward active), the last 100, for the percentiles. */
  private readonly addLatenciesMs: number[] = [];
  /** Every add since start, for the scraped histogram: a scraper computes rates and quantiles from cumulative counts. */
  private readonly addLatency: LatencyHistogram = emptyLatencyHistogram();
  /** Published ports that are reported but not forwarded, from the last reconcile. */
  private reported: DesiredForward[] = [];
  /** Running containers of the last list; empty while there is no SSH connection. */
  private containers: ContainerStatus[] = [];
  /** Forwards that became active / ended since start, whatever the reason. */
  private forwardsAdded = 0;
  private forwardsRemoved = 0;
  /** Start holds of the Docker socket: counts by outcome, and the last 100 added times (ms). */
  private startHold = { enabled: false, holds: 0, ready: 0, nothing_to_wait_for: 0, timeouts: 0, errors: 0 };
  private readonly startHoldAddedMs: number[] = [];

  constructor(
    readonly host: string,
    readonly pid: number,
    readonly version: string,
    private readonly resolved: StatusDocument["resolved"] = null,
    private readonly build: { commit: string; logBytesWritten: () => number } = { commit: "dev", logBytesWritten: () => 0 },
    /** See the status document's `docker.client_socket`. */
    private readonly clientSocket: string | null = null,
  ) {}

  touch(): void {
    this.updatedAtMs = Date.now();
  }

  /** Whether the state is "connected" with no error: what a reconcile leaves behind, so one that changed nothing need not set it again. */
  get connectedClean(): boolean {
    return this.state === "connected" && this.lastError === null;
  }

  /** The daemon's state; `lastError` stays as it was unless given. */
  enter(state: DaemonState, lastError: string | null = this.lastError): void {
    this.state = state;
    this.lastError = lastError;
  }

  /** The SSH master answers; `reconnect`: an earlier one had answered before. */
  connected(masterPid: number | null, reconnect: boolean, opened = true): void {
    this.ssh = {
      ...this.ssh, connected: true, masterPid, connectionsOpened: this.ssh.connectionsOpened + (opened ? 1 : 0),
      reconnects: this.ssh.reconnects + (reconnect ? 1 : 0), connectedSinceMs: Date.now(), consecutiveFailures: 0,
    };
  }

  /** An attempt to connect failed. */
  connectFailed(): void {
    this.ssh.consecutiveFailures++;
  }

  /** Without a connection rdhpf sees no container: rows from the last list would be stale. */
  containersUnknown(): void {
    this.containers = [];
    this.reported = [];
  }

  /** The SSH master is gone. */
  disconnected(): void {
    this.ssh = { ...this.ssh, connected: false, masterPid: null, connectedSinceMs: null };
  }

  dockerLinked(info: DockerLinkInfo): void {
    Object.assign(this.docker, { connected: true, ...info });
  }

  dockerUnlinked(): void {
    this.docker.connected = false;
  }

  /** A discovery moved the endpoint; the next link opens there. */
  dockerEndpointMoved(endpoint: string): void {
    this.docker.endpoint = endpoint;
  }

  /** The endpoint last linked or discovered, null before the first. */
  get dockerEndpoint(): string | null {
    return this.docker.endpoint;
  }

  dockerEvent(atMs: number): void {
    this.docker.eventsReceived++;
    this.docker.lastEventAtMs = atMs;
  }

  eventStreamRestarted(): void {
    this.docker.eventStreamRestarts++;
  }

  /** Forwards became active or ended, for the totals. */
  forwardsChanged(added: number, removed: number): void {
    this.forwardsAdded += added;
    this.forwardsRemoved += removed;
  }

  recordLatency(ms: number): void {
    this.addLatenciesMs.push(ms);
    if (this.addLatenciesMs.length > LATENCY_SAMPLES) this.addLatenciesMs.shift();
    const s = ms / 1000;
    for (const b of this.addLatency.buckets) if (s <= b.le_s) b.count++;
    this.addLatency.sum_s += s;
    this.addLatency.count++;
  }

  /** Whether the Docker socket holds start responses (see start_hold.ts). */
  startHoldEnabled(enabled: boolean): void {
    this.startHold.enabled = enabled;
  }

  /** One start hold ended: its outcome and the time it added to the Docker call. */
  recordStartHold(outcome: HoldOutcome["outcome"], addedMs: number): void {
    this.startHold.holds++;
    if (outcome === "ready") this.startHold.ready++;
    else if (outcome === "nothing-to-wait-for") this.startHold.nothing_to_wait_for++;
    else if (outcome === "timeout") this.startHold.timeouts++;
    else this.startHold.errors++;
    this.startHoldAddedMs.push(Math.round(addedMs * 10) / 10);
    if (this.startHoldAddedMs.length > LATENCY_SAMPLES) this.startHoldAddedMs.shift();
  }

  /** Remembers the containers of a list, in the document's shape. */
  setContainers(containers: ObservedContainer[]): void {
    this.containers = containers
      .map((c) => ({
        id: c.id, name: c.name,
        published_tcp_ports: [...new Set(c.ports.filter((p) => p.protocol === "tcp").map((p) => p.publicPort))].sort((a, b) => a - b),
      }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  /** The ports of the last reconcile that are reported but not forwarded (claimed, ignored, unsupported). */
  setReported(desired: DesiredForward[]): void {
    this.reported = desired.filter((d) => d.disposition !== "wanted");
  }

  /** Renders the document from the store and the applier's tables. */
  document(forwards: { active: Iterable<ActiveForward>; blocked: Iterable<BlockedForward>; history: EndedForward[]; bindAddresses: string[]; dockerSocket?: DockerSocketCounts | null }): StatusDocument {
    const rows: ForwardStatus[] = [];
    for (const f of forwards.active) {
      rows.push({
        container_id: f.containerId, container_name: f.containerName, local_addresses: f.bindAddresses, local_port: f.localPort,
        remote_address: f.remoteHost, remote_port: f.remotePort, protocol: "tcp", state: "active", reason: f.reason ?? null, since: iso(f.sinceMs)!,
      });
    }
    for (const b of forwards.blocked) rows.push(this.reportedRow(b.desired, "conflict", b.reason, b.sinceMs, forwards.bindAddresses));
    for (const d of this.reported) {
      const state = d.disposition === "claimed" ? "conflict" : d.disposition === "unsupported" ? "unsupported" : d.disposition === "ignored" ? "ignored" : "pending";
      rows.push(this.reportedRow(d, state, d.reason, this.updatedAtMs, forwards.bindAddresses));
    }
    rows.sort((a, b) => a.local_port - b.local_port || a.container_name.localeCompare(b.container_name));
    const { state, lastError } = this.stateGiven(rows);
    return {
      host: this.host,
      resolved: this.resolved,
      pid: this.pid,
      version: this.version,
      commit: this.build.commit,
      state,
      started_at: iso(this.startedAtMs)!,
      updated_at: iso(this.updatedAtMs)!,
      last_error: lastError,
      ssh: {
        connected: this.ssh.connected, master_pid: this.ssh.masterPid, connections_opened: this.ssh.connectionsOpened,
        reconnects: this.ssh.reconnects, connected_since: iso(this.ssh.connectedSinceMs), consecutive_failures: this.ssh.consecutiveFailures,
      },
      docker: {
        connected: this.docker.connected, server_version: this.docker.serverVersion, api_version: this.docker.apiVersion,
        transport: this.docker.transport, endpoint: this.docker.endpoint, events_received: this.docker.eventsReceived,
        last_event_at: iso(this.docker.lastEventAtMs), event_stream_restarts: this.docker.eventStreamRestarts,
        client_socket: this.clientSocket,
      },
      docker_socket: forwards.dockerSocket
        ? {
          path: forwards.dockerSocket.path, connections: forwards.dockerSocket.connections, connections_total: forwards.dockerSocket.accepted,
          sessions: forwards.dockerSocket.sessions, queued: forwards.dockerSocket.queued, limit: forwards.dockerSocket.limit,
        }
        : null,
      latency_ms: { p50: percentile(this.addLatenciesMs, 50), p99: percentile(this.addLatenciesMs, 99), samples: this.addLatenciesMs.length },
      add_latency: { buckets: this.addLatency.buckets.map((b) => ({ ...b })), sum_s: this.addLatency.sum_s, count: this.addLatency.count },
      start_hold: { ...this.startHold, added_ms: { p50: percentile(this.startHoldAddedMs, 50), p99: percentile(this.startHoldAddedMs, 99), samples: this.startHoldAddedMs.length } },
      log_bytes_written: this.build.logBytesWritten(),
      forwards: rows,
      forwards_added_total: this.forwardsAdded,
      forwards_removed_total: this.forwardsRemoved,
      containers: this.containers,
      history: forwards.history.map((h) => ({
        container_id: h.containerId, container_name: h.containerName, local_addresses: h.bindAddresses, local_port: h.localPort,
        remote_address: h.remoteHost, remote_port: h.remotePort, protocol: "tcp" as const, state: "active" as const, reason: null,
        since: iso(h.sinceMs)!, ended_at: iso(h.endedAtMs)!, end_reason: h.endReason,
      })),
    };
  }

  /**
   * The state as the rows show it: a connected instance with a forward in
   * conflict is `degraded`. Derived here, from the same rows, rather than set
   * by the engine after a reconcile, because the control socket can answer
   * while the applier is halfway through one; so the header, the rows and
   * `rdhpf status`'s exit code agree at every instant.
   */
  private stateGiven(rows: ForwardStatus[]): { state: DaemonState; lastError: string | null } {
    if (this.state === "connected" && rows.some((r) => r.state === "conflict")) return { state: "degraded", lastError: this.lastError ?? CONFLICT_ERROR };
    return { state: this.state, lastError: this.lastError };
  }

  private reportedRow(d: DesiredForward, state: ForwardStatus["state"], reason: string | null, sinceMs: number, bind: string[]): ForwardStatus {
    return {
      container_id: d.containerId, container_name: d.containerName, local_addresses: state === "unsupported" || state === "ignored" ? [] : bind,
      local_port: d.localPort, remote_address: d.remoteHost, remote_port: d.remotePort, protocol: d.protocol, state, reason, since: iso(sinceMs)!,
    };
  }
}
