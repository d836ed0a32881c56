/**
 * The truth comparison itself: it must accept the status of a correct
 * daemon and name each way a wrong one differs from `ss` and `docker ps`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sampleDocument } from "../../src/status/_sample_document.ts";
import type { StatusDocument } from "../../src/status/schema.ts";
import { type Listener, type RemoteContainer, truthMismatches } from "./_truth.ts";

const MASTER = 48220;
const SELF = 1000;

/** web (8080, active) and db (5432, conflict: held by the test), as ss and docker ps would show them. */
function world(): { doc: StatusDocument; containers: RemoteContainer[]; listeners: Listener[] } {
  const base = sampleDocument();
  const [web, , db] = base.forwards;
  const doc: StatusDocument = {
    ...base,
    forwards: [web!, db!],
    containers: [
      { id: db!.container_id, name: "db", published_tcp_ports: [5432] },
      { id: web!.container_id, name: "web", published_tcp_ports: [8080] },
    ],
    forwards_added_total: 3,
    forwards_removed_total: 2,
  };
  const containers: RemoteContainer[] = [
    { id: web!.container_id, name: "web", bindings: [{ hostIp: "0.0.0.0", hostPort: 8080, protocol: "tcp" }, { hostIp: "::", hostPort: 8080, protocol: "tcp" }] },
    { id: db!.container_id, name: "db", bindings: [{ hostIp: "0.0.0.0", hostPort: 5432, protocol: "tcp" }] },
  ];
  const listeners: Listener[] = [
    { address: "127.0.0.1", port: 8080, pid: MASTER },
    { address: "::1", port: 8080, pid: MASTER },
    { address: "127.0.0.1", port: 5432, pid: SELF },
    { address: "0.0.0.0", port: 22, pid: 1 },
  ];
  return { doc, containers, listeners };
}

const check = (w: ReturnType<typeof world>) => truthMismatches(w.doc, w.containers, w.listeners, { ports: [5000, 9000] }, SELF);

describe("truthMismatches", () => {
  it("accepts a status that equals ss and docker ps, ignoring listeners outside the test's ports", () => {
    assert.deepEqual(check(world()), []);
  });

  const cases: Array<[string, (w: ReturnType<typeof world>) => void, RegExp]> = [
    ["an active forward without its listener", (w) => w.listeners.splice(1, 1), /active forward ::1:8080 has no listener of the master/],
    ["a master listener status does not list", (w) => w.listeners.push({ address: "127.0.0.1", port: 7000, pid: MASTER }), /listens on 127\.0\.0\.1:7000, which status does not list/],
    ["a stranger on the test's ports", (w) => w.listeners.push({ address: "127.0.0.1", port: 7001, pid: 4242 }), /127\.0\.0\.1:7001 is held by PID 4242/],
    ["a forward of a container that stopped", (w) => w.containers.splice(0, 1), /of web 3f2a9c1b7d4e, which is not running/],
    ["a published port without a forward", (w) => w.containers[1]!.bindings.push({ hostIp: "0.0.0.0", hostPort: 6000, protocol: "tcp" }), /db publishes 0\.0\.0\.0:6000\/tcp but status has no forward/],
    ["containers[] that differ from docker ps", (w) => w.doc.containers.pop(), /containers\[\] .* but docker ps/],
    ["a forward still pending", (w) => (w.doc.forwards[1]!.state = "pending"), /db 5432\/tcp is pending/],
    ["a conflict without a reason", (w) => (w.doc.forwards[1]!.reason = null), /db 5432\/tcp is conflict without a reason/],
    ["a forward to the wrong remote address", (w) => (w.doc.forwards[0]!.remote_address = "10.0.0.1"), /connects to 10\.0\.0\.1, Docker bound 0\.0\.0\.0,::/],
    ["counters that do not add up", (w) => (w.doc.forwards_removed_total = 0), /forwards_added_total 3 - forwards_removed_total 0 != 1 active/],
    ["a lost SSH connection", (w) => (w.doc.ssh = { ...w.doc.ssh, connected: false }), /ssh not connected/],
  ];
  for (const [what, spoil, want] of cases) {
    it(`reports ${what}`, () => {
      const w = world();
      spoil(w);
      assert.match(check(w).join("\n"), want);
    });
  }
});
