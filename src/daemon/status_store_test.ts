import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { StatusDocumentSchema } from "../status/schema.ts";
import { percentile, StatusStore } from "./status_store.ts";

const port = (publicPort: number, protocol: "tcp" | "udp" = "tcp", hostIp = "0.0.0.0") => ({ privatePort: 80, publicPort, hostIp, protocol });
const empty = { active: [], blocked: [], history: [], bindAddresses: ["127.0.0.1", "::1"] };

describe("StatusStore", () => {
  it("lists running containers by name with their published TCP host ports, deduplicated and ascending", () => {
    const store = new StatusStore("h", 1, "0.0.0");
    store.setContainers([
      { id: "bbb", name: "web", labels: {}, createdS: 1, ports: [port(8443), port(8080), port(8080, "tcp", "::"), port(5353, "udp")] },
      { id: "aaa", name: "idle", labels: {}, createdS: 2, ports: [] },
    ]);
    const doc = StatusDocumentSchema.parse(store.document(empty));
    assert.deepEqual(doc.containers, [
      { id: "aaa", name: "idle", published_tcp_ports: [] },
      { id: "bbb", name: "web", published_tcp_ports: [8080, 8443] },
    ]);
  });

  it("shows where the Docker socket is served, and null when it is off", () => {
    assert.equal(new StatusStore("h", 1, "0.0.0", null, undefined, "/run/rdhpf/h.sock").document(empty).docker.client_socket, "/run/rdhpf/h.sock");
    assert.equal(new StatusStore("h", 1, "0.0.0").document(empty).docker.client_socket, null);
  });

  it("reads a state file of an older rdhpf, which had no Docker socket field", () => {
    const doc = new StatusStore("h", 1, "0.0.0").document(empty);
    const { client_socket: _, ...olderDocker } = doc.docker;
    assert.equal(StatusDocumentSchema.parse({ ...doc, docker: olderDocker }).docker.client_socket, null);
  });

  it("counts the start holds by outcome, with the time they added", () => {
    const store = new StatusStore("h", 1, "0.0.0", null, undefined, "/run/rdhpf/h.sock");
    assert.deepEqual(store.document(empty).start_hold, { enabled: false, holds: 0, ready: 0, nothing_to_wait_for: 0, timeouts: 0, errors: 0, added_ms: { p50: null, p99: null, samples: 0 } });
    store.startHoldEnabled(true);
    for (const [o, ms] of [["ready", 12.34], ["ready", 20], ["nothing-to-wait-for", 3], ["timeout", 2000], ["error", 5]] as const) store.recordStartHold(o, ms);
    const h = StatusDocumentSchema.parse(store.document(empty)).start_hold;
    assert.deepEqual({ ...h, added_ms: undefined }, { enabled: true, holds: 5, ready: 2, nothing_to_wait_for: 1, timeouts: 1, errors: 1, added_ms: undefined });
    assert.deepEqual(h.added_ms, { p50: 12.3, p99: 2000, samples: 5 });
  });

  it("reads a state file of an older rdhpf, which had no start hold", () => {
    const doc: Record<string, unknown> = { ...new StatusStore("h", 1, "0.0.0").document(empty) };
    delete doc.start_hold;
    assert.equal(StatusDocumentSchema.parse(doc).start_hold.enabled, false);
  });

  it("reports the forward counters", () => {
    const store = new StatusStore("h", 1, "0.0.0");
    store.forwardsChanged(3, 1);
    const doc = store.document(empty);
    assert.equal(doc.forwards_added_total, 3);
    assert.equal(doc.forwards_removed_total, 1);
  });

  it("counts every add latency into cumulative histogram buckets, with their sum, beyond the last 100", () => {
    const store = new StatusStore("h", 1, "0.0.0");
    // 4 ms, exactly 10 ms (le is inclusive), 300 ms, 30 s (only +Inf), and 200 more at 20 ms.
    for (const ms of [4, 10, 300, 30_000]) store.recordLatency(ms);
    for (let i = 0; i < 200; i++) store.recordLatency(20);
    const doc = StatusDocumentSchema.parse(store.document(empty));
    const counts = Object.fromEntries(doc.add_latency.buckets.map((b) => [b.le_s, b.count]));
    assert.deepEqual(counts, { 0.005: 1, 0.01: 2, 0.025: 202, 0.05: 202, 0.1: 202, 0.25: 202, 0.5: 203, 1: 203, 2.5: 203, 5: 203, 10: 203 });
    assert.equal(doc.add_latency.count, 204);
    assert.ok(Math.abs(doc.add_latency.sum_s - (0.004 + 0.01 + 0.3 + 30 + 200 * 0.02)) < 1e-9, String(doc.add_latency.sum_s));
    assert.equal(doc.latency_ms.samples, 100, "the percentiles still cover the last 100");
  });

  it("shows the build commit and the log's byte count it is given", () => {
    let bytes = 10;
    const store = new StatusStore("h", 1, "0.0.0", null, { commit: "abc1234", logBytesWritten: () => bytes });
    assert.equal(store.document(empty).commit, "abc1234");
    bytes = 250;
    assert.equal(store.document(empty).log_bytes_written, 250);
  });
});

describe("StatusStore state", () => {
  const desired = { containerId: "c1", containerName: "busy", containerCreatedS: 1, localPort: 5432, remoteHost: "127.0.0.1", remotePort: 5432, protocol: "tcp" as const, disposition: "wanted" as const, reason: null };
  const blocked = { ...empty, blocked: [{ desired, reason: "local port 5432 is in use by pid 9 (postgres)", sinceMs: 0 }] };

  it("says degraded as soon as a row is in conflict, before the engine's reconcile has finished", () => {
    const store = new StatusStore("h", 1, "0.0.0");
    store.enter("connected", null);
    const doc = store.document(blocked);
    assert.equal(doc.state, "degraded");
    assert.equal(doc.last_error, "some forwards are in conflict");
  });

  it("says connected again once the conflict is gone", () => {
    const store = new StatusStore("h", 1, "0.0.0");
    store.enter("connected", null);
    assert.equal(store.document(blocked).state, "degraded");
    const doc = store.document(empty);
    assert.equal(doc.state, "connected");
    assert.equal(doc.last_error, null);
  });

  it("keeps degraded for other trouble, and reconnecting whatever the rows say", () => {
    const store = new StatusStore("h", 1, "0.0.0");
    store.enter("degraded", "Docker event stream interrupted");
    assert.equal(store.document(empty).state, "degraded");
    store.enter("reconnecting");
    assert.equal(store.document(blocked).state, "reconnecting");
  });
});

describe("percentile", () => {
  const cases: [number[], number, number | null][] = [
    [[], 50, null],
    [[7], 99, 7],
    [[5, 1, 3, 2, 4], 50, 3],
    [[5, 1, 3, 2, 4], 99, 5],
  ];
  for (const [samples, p, want] of cases) it(`p${p} of [${samples}] is ${want}`, () => assert.equal(percentile(samples, p), want));
});
