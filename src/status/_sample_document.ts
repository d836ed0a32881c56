/**
 * A realistic status document for tests and for the examples in
 * docs/status.md (which are generated from it, so they stay true).
 *
 * @module
 */
import type { ForwardStatus, HistoryEntry, StatusDocument } from "./schema.ts";

/** Fixed "now" of the sample: every age in the examples is relative to it. */
export const SAMPLE_NOW = new Date("2026-11-27T18:00:00.000Z");

const ago = (s: number) => new Date(SAMPLE_NOW.getTime() - s * 1000).toISOString();

function forward(over: Partial<ForwardStatus>): ForwardStatus {
  return {
    container_id: "3f2a9c1b7d4e8f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718",
    container_name: "web",
    local_addresses: ["127.0.0.1", "::1"],
    local_port: 8080,
    remote_address: "127.0.0.1",
    remote_port: 8080,
    protocol: "tcp",
    state: "active",
    reason: null,
    since: ago(7980),
    ...over,
  };
}

/** A connected instance with active, conflict and unsupported forwards, two ended ones, and a container that publishes nothing. */
export function sampleDocument(): StatusDocument {
  const history: HistoryEntry[] = [
    {
      ...forward({ container_id: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d", container_name: "migrate", local_port: 5433, remote_port: 5433, since: ago(1500) }),
      ended_at: ago(1200),
      end_reason: "container stopped",
    },
    {
      ...forward({ container_id: "aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66", container_name: "api-old", local_port: 3000, remote_port: 3000, since: ago(5000) }),
      ended_at: ago(600),
      end_reason: "port claimed by api",
    },
  ];
  return {
    host: "ssh://deploy@docker-01.example.internal",
    resolved: { user: "deploy", hostname: "docker-01.example.internal", port: 22 },
    pid: 48213,
    version: "0.1.0",
    commit: "1a2b3c4",
    state: "connected",
    started_at: ago(7990),
    updated_at: ago(2),
    last_error: null,
    ssh: { connected: true, master_pid: 48220, connections_opened: 1, reconnects: 0, connected_since: ago(7989), consecutive_failures: 0 },
    docker: {
      connected: true,
      server_version: "20.10.24",
      api_version: "1.41",
      transport: "socket-forward",
      endpoint: "unix:///var/run/docker.sock",
      client_socket: "/run/user/1000/rdhpf/build-host.example.sock",
      events_received: 1834,
      last_event_at: ago(3),
      event_stream_restarts: 0,
    },
    docker_socket: { path: "/run/user/1000/rdhpf/build-host.example.sock", connections: 2, connections_total: 1412, sessions: null, queued: 0, limit: null },
    latency_ms: { p50: 42, p99: 181.5, samples: 100 },
    add_latency: {
      buckets: [[0.005, 0], [0.01, 3], [0.025, 25], [0.05, 92], [0.1, 134], [0.25, 157], [0.5, 159], [1, 160], [2.5, 160], [5, 160], [10, 160]]
        .map(([le_s, count]) => ({ le_s: le_s!, count: count! })),
      sum_s: 8.32,
      count: 160,
    },
    start_hold: { enabled: true, holds: 57, ready: 51, nothing_to_wait_for: 5, timeouts: 1, errors: 0, added_ms: { p50: 14, p99: 48.5, samples: 57 } },
    log_bytes_written: 48_213,
    forwards: [
      forward({}),
      forward({ container_id: "b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c", container_name: "api", local_port: 3000, remote_port: 3000, since: ago(600) }),
      forward({
        container_id: "c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80912",
        container_name: "db",
        local_port: 5432,
        remote_port: 5432,
        state: "conflict",
        reason: "local port 5432 is in use by postgres (pid 812); find it with `lsof -i :5432`",
        since: ago(300),
      }),
      forward({
        container_id: "d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3",
        container_name: "dns",
        local_addresses: [],
        local_port: 5353,
        remote_address: "127.0.0.1",
        remote_port: 5353,
        protocol: "udp",
        state: "unsupported",
        reason: "UDP cannot be forwarded over SSH",
        since: ago(7980),
      }),
    ],
    forwards_added_total: 57,
    forwards_removed_total: 55,
    containers: [
      { id: "b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c", name: "api", published_tcp_ports: [3000] },
      { id: "c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80912", name: "db", published_tcp_ports: [5432] },
      { id: "d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3", name: "dns", published_tcp_ports: [] },
      { id: "3f2a9c1b7d4e8f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718", name: "web", published_tcp_ports: [8080] },
      { id: "5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3", name: "worker", published_tcp_ports: [] },
    ],
    history,
  };
}
