import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { emptyLatencyHistogram, emptyStartHoldStatus, type StatusDocument } from "../status/schema.ts";
import { decideAdoption, type PreviousMaster, recordedForwards } from "./adoption.ts";

const forward = {
  localPort: 5432, remoteHost: "127.0.0.1", remotePort: 5432, bindAddresses: ["127.0.0.1", "::1"],
  containerId: "c1", containerName: "db", sinceMs: Date.parse("2026-01-01T00:00:00.000Z"), reason: null,
};

/** A master that checks out in every respect; each row below spoils one fact. */
const sound: PreviousMaster = {
  masterPid: 4242, alive: true, ours: true, socketPresent: true, answersCheck: true, recorded: { forwards: [forward], masterPid: 4242 },
};

describe("decideAdoption", () => {
  it("adopts a master that is alive, ours, reachable and whose forwards are recorded, with those forwards", () => {
    assert.deepEqual(decideAdoption(sound), { action: "adopt", masterPid: 4242, forwards: [forward] });
  });

  it("adopts a master that holds no forwards", () => {
    assert.deepEqual(decideAdoption({ ...sound, recorded: { forwards: [], masterPid: 4242 } }), { action: "adopt", masterPid: 4242, forwards: [] });
  });

  const rows: Array<[string, Partial<PreviousMaster>, RegExp, "end it" | "leave it"]> = [
    ["no master recorded", { masterPid: null, alive: false, ours: false }, /no SSH master/, "leave it"],
    ["the master is gone", { alive: false, ours: false, answersCheck: false }, /is gone/, "leave it"],
    ["the pid now belongs to another process", { ours: false, answersCheck: false }, /no longer our SSH master/, "leave it"],
    ["the control socket is missing", { socketPresent: false, answersCheck: false }, /control socket is missing/, "end it"],
    ["the master does not answer -O check (stopped, hung)", { answersCheck: false }, /does not answer/, "end it"],
    ["the state file is unreadable", { recorded: { unreadable: "the state file is not JSON" } }, /unknown: the state file is not JSON/, "end it"],
    ["the state file names another master", { recorded: { forwards: [forward], masterPid: 99 } }, /names SSH master 99, the lock 4242/, "end it"],
    ["the state file names no master (the run ended it)", { recorded: { forwards: [], masterPid: null } }, /names SSH master none/, "end it"],
  ];
  for (const [when, spoil, reason, fate] of rows) {
    it(`starts clean when ${when}, and ${fate === "end it" ? "ends" : "leaves"} the old pid`, () => {
      const d = decideAdoption({ ...sound, ...spoil });
      assert.equal(d.action, "start-clean");
      if (d.action !== "start-clean") return;
      assert.match(d.reason, reason);
      assert.equal(d.endMaster, fate === "end it" ? 4242 : null);
    });
  }
});

function stateText(doc: Partial<StatusDocument>): string {
  const base: StatusDocument = {
    host: "h", resolved: null, pid: 1, version: "0", commit: "x", state: "connected", started_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z", last_error: null,
    ssh: { connected: true, master_pid: 4242, connections_opened: 1, reconnects: 0, connected_since: null, consecutive_failures: 0 },
    docker: {
      connected: true, server_version: null, api_version: null, transport: null, endpoint: null, events_received: 0, last_event_at: null,
      event_stream_restarts: 0, client_socket: null,
    },
    latency_ms: { p50: null, p99: null, samples: 0 }, add_latency: emptyLatencyHistogram(), log_bytes_written: 0, forwards: [],
    forwards_added_total: 0, forwards_removed_total: 0, containers: [], history: [], docker_socket: null, start_hold: emptyStartHoldStatus(),
  };
  return JSON.stringify({ ...base, ...doc });
}

describe("recordedForwards", () => {
  const row = {
    container_id: "c1", container_name: "db", local_addresses: ["127.0.0.1", "::1"], local_port: 5432, remote_address: "127.0.0.1",
    remote_port: 5432, protocol: "tcp" as const, state: "active" as const, reason: null, since: "2026-01-01T00:00:00.000Z",
  };

  it("takes the active forwards and the master pid of a state file", () => {
    const r = recordedForwards(stateText({ forwards: [row, { ...row, local_port: 6379, state: "conflict", reason: "busy" }] }));
    assert.deepEqual(r, { forwards: [forward], masterPid: 4242 });
  });

  it("names why a state file cannot be trusted", () => {
    assert.deepEqual(recordedForwards(null), { unreadable: "no state file" });
    assert.deepEqual(recordedForwards("{ not json"), { unreadable: "the state file is not JSON" });
    assert.deepEqual(recordedForwards(JSON.stringify({ forwards: [] })), { unreadable: "the state file does not match the status schema" });
  });
});
