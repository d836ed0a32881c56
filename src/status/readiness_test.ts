import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SAMPLE_NOW, sampleDocument } from "./_sample_document.ts";
import { assessReadiness, type ProbeOutcome, probeTarget, type WaitRequest } from "./readiness.ts";
import type { ForwardStatus, StatusDocument } from "./schema.ts";

const req = (over: Partial<WaitRequest>): WaitRequest => ({ ports: [], containers: [], all: false, ...over });
const fwd = (doc: StatusDocument, name: string): ForwardStatus => doc.forwards.find((f) => f.container_name === name)!;
/** Outcome map in which the given forwards answered. */
function answered(...fs: ForwardStatus[]): Map<string, ProbeOutcome> {
  return new Map(fs.map((f) => [probeTarget(f).key, { ok: true } as ProbeOutcome]));
}

describe("assessReadiness", () => {
  it("is ready when the requested port is active and a connection through it succeeded", () => {
    const doc = sampleDocument();
    const r = assessReadiness(doc, req({ ports: [8080] }), answered(fwd(doc, "web")), SAMPLE_NOW);
    assert.deepEqual(r.missing, []);
    assert.equal(r.ready, true);
    assert.deepEqual(r.satisfied.map((t) => t.label), ["127.0.0.1:8080 (web)"]);
  });

  it("asks for a probe of an active forward before calling it ready", () => {
    const r = assessReadiness(sampleDocument(), req({ ports: [8080] }), new Map(), SAMPLE_NOW);
    assert.equal(r.ready, false);
    assert.deepEqual(r.toProbe.map((t) => [t.address, t.port]), [["127.0.0.1", 8080]]);
    assert.match(r.missing[0]!, /port 8080 \(web\): forwarded, connection through the tunnel not yet confirmed/);
  });

  it("reports a failed probe with its reason", () => {
    const doc = sampleDocument();
    const outcomes = new Map([[probeTarget(fwd(doc, "web")).key, { ok: false, reason: "nothing listens on 127.0.0.1:8080" } as ProbeOutcome]]);
    const r = assessReadiness(doc, req({ ports: [8080] }), outcomes, SAMPLE_NOW);
    assert.match(r.missing[0]!, /failed: nothing listens on 127\.0\.0\.1:8080/);
  });

  it("does not trust a probe of an earlier forward on the same port", () => {
    const doc = sampleDocument();
    const outcomes = answered(fwd(doc, "web"));
    fwd(doc, "web").since = "2026-11-27T17:59:59.000Z"; // re-created since
    assert.equal(assessReadiness(doc, req({ ports: [8080] }), outcomes, SAMPLE_NOW).ready, false);
  });

  const missingCases: [string, Partial<WaitRequest>, RegExp][] = [
    ["a port in conflict, with the reason", { ports: [5432] }, /^port 5432 \(db\): conflict: local port 5432 is in use by postgres \(pid 812\)/],
    ["a UDP-only port", { ports: [5353] }, /^port 5353 \(dns\): published only as udp, which cannot be forwarded over SSH$/],
    ["a port nobody publishes", { ports: [9999] }, /^port 9999: not published by any running container$/],
    ["a port whose forward ended, with when and why", { ports: [5433] }, /^port 5433: not published .*the forward for migrate ended 20m ago: container stopped\)$/],
    ["an unknown container", { containers: ["nope"] }, /^container nope: no running container of that name publishes a port/],
    ["a container with only UDP", { containers: ["dns"] }, /^container dns: no forwardable TCP port \(5353\/udp published only as udp/],
    ["a container's port in conflict", { containers: ["db"] }, /^container db port 5432: conflict: local port 5432/],
    ["--all with a port in conflict", { all: true }, /^port 5432 \(db\): conflict/],
  ];
  for (const [what, r, want] of missingCases) {
    it(`names ${what} as missing`, () => {
      const doc = sampleDocument();
      const verdict = assessReadiness(doc, req(r), answered(...doc.forwards), SAMPLE_NOW);
      assert.equal(verdict.ready, false);
      assert.ok(verdict.missing.some((m) => want.test(m)), verdict.missing.join("\n"));
    });
  }

  it("waits for every TCP port of a named container, found by name or ID prefix", () => {
    const doc = sampleDocument();
    doc.forwards.push({ ...fwd(doc, "web"), local_port: 8443, remote_port: 8443 });
    const byName = assessReadiness(doc, req({ containers: ["web"] }), new Map(), SAMPLE_NOW);
    assert.deepEqual(byName.toProbe.map((t) => t.port), [8080, 8443]);
    const byId = assessReadiness(doc, req({ containers: ["3f2a9c1b"] }), new Map(), SAMPLE_NOW);
    assert.deepEqual(byId.toProbe.map((t) => t.port), [8080, 8443]);
  });

  it("with --all, waits for every TCP forward and skips ignored ones", () => {
    const doc = sampleDocument();
    doc.forwards = doc.forwards.filter((f) => f.state !== "conflict");
    doc.forwards.push({ ...fwd(doc, "web"), container_name: "skip", local_port: 22, state: "ignored", reason: "label rdhpf.ignore=true" });
    const r = assessReadiness(doc, req({ all: true }), answered(...doc.forwards), SAMPLE_NOW);
    assert.deepEqual(r.missing, []);
    assert.deepEqual(r.satisfied.map((t) => t.port).sort(), [3000, 8080]);
  });

  it("with --all, is not satisfied by the empty list of a daemon still starting", () => {
    const doc = { ...sampleDocument(), state: "starting" as const, forwards: [] };
    const r = assessReadiness(doc, req({ all: true }), new Map(), SAMPLE_NOW);
    assert.equal(r.ready, false);
    assert.match(r.missing[0]!, /still starting/);
  });

  it("with --all, is not satisfied while rdhpf is reconnecting", () => {
    const doc = sampleDocument();
    doc.state = "reconnecting";
    doc.forwards = doc.forwards.filter((f) => f.state === "active");
    assert.equal(assessReadiness(doc, req({ all: true }), answered(...doc.forwards), SAMPLE_NOW).ready, false);
  });

  it("probes each forward once even when asked for by port and by container", () => {
    const r = assessReadiness(sampleDocument(), req({ ports: [8080], containers: ["web"] }), new Map(), SAMPLE_NOW);
    assert.equal(r.toProbe.length, 1);
  });

  it("probes ::1 when the forward listens only there", () => {
    const doc = sampleDocument();
    fwd(doc, "web").local_addresses = ["::1"];
    assert.equal(assessReadiness(doc, req({ ports: [8080] }), new Map(), SAMPLE_NOW).toProbe[0]?.address, "::1");
  });

  it("points at the port an --on-conflict next-free forward moved to", () => {
    const doc = sampleDocument();
    const web = fwd(doc, "web");
    web.local_port = 8081;
    web.reason = "wanted 8080 (busy: pid 812 (nginx)); next free";
    const r = assessReadiness(doc, req({ ports: [8080] }), new Map(), SAMPLE_NOW);
    assert.equal(r.ready, false);
    assert.match(r.missing[0]!, /^port 8080: web is forwarded on local port 8081 instead \(--on-conflict next-free: wanted 8080 \(busy: pid 812 \(nginx\)\); next free\); wait for --port 8081/);
  });

  it("escapes hostile container names in what it prints", () => {
    const doc = sampleDocument();
    fwd(doc, "db").container_name = "db\x1b[2J\nFAKE";
    const r = assessReadiness(doc, req({ ports: [5432] }), new Map(), SAMPLE_NOW);
    assert.doesNotMatch(r.missing.join(""), /[\u0000-\u001f]/);
  });
});
