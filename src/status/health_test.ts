import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sampleDocument } from "./_sample_document.ts";
import { instanceHealth, statusExitCode, unhealthyReason } from "./health.ts";
import type { DaemonState, StatusDocument } from "./schema.ts";
import type { InstanceView } from "./view.ts";

function healthyDoc(state: DaemonState = "connected"): StatusDocument {
  const doc = sampleDocument();
  return { ...doc, state, forwards: doc.forwards.filter((f) => f.state !== "conflict") };
}
const live = (doc: StatusDocument): InstanceView => ({ doc, live: true, staleAgeS: null, unresponsive: false });
const stale = (doc: StatusDocument): InstanceView => ({ doc, live: false, staleAgeS: 5, unresponsive: false });

describe("instanceHealth", () => {
  const cases: [string, InstanceView, string][] = [
    ["connected without conflicts is healthy", live(healthyDoc()), "healthy"],
    ["a forward in conflict degrades it", live(sampleDocument()), "degraded"],
    ["reconnecting degrades it", live(healthyDoc("reconnecting")), "degraded"],
    ["degraded is degraded", live(healthyDoc("degraded")), "degraded"],
    ["still starting is not yet healthy", live(healthyDoc("starting")), "degraded"],
    ["a stale view is down, whatever it last said", stale(healthyDoc()), "down"],
  ];
  for (const [name, view, want] of cases) it(name, () => assert.equal(instanceHealth(view), want));
});

describe("statusExitCode", () => {
  const cases: [string, InstanceView[], number][] = [
    ["0 when every live instance is healthy", [live(healthyDoc()), live(healthyDoc())], 0],
    ["3 when any live instance is degraded", [live(healthyDoc()), live(sampleDocument())], 3],
    ["1 when nothing answers", [stale(healthyDoc())], 1],
    ["1 when there is no instance at all", [], 1],
    ["0 when a healthy instance runs beside an old state file", [live(healthyDoc()), stale(healthyDoc())], 0],
  ];
  for (const [name, views, want] of cases) it(name, () => assert.equal(statusExitCode(views), want));
});

describe("unhealthyReason (the answer of /healthz)", () => {
  it("is null when connected with no forward in conflict", () => assert.equal(unhealthyReason(healthyDoc()), null));

  it("names the local ports in conflict", () => {
    assert.equal(unhealthyReason({ ...sampleDocument(), state: "degraded" }), "1 forward(s) in conflict, on local port(s) 5432");
  });

  it("says the connection is down, with the state and the last error", () => {
    const doc = healthyDoc("reconnecting");
    const down = { ...doc, last_error: "ssh: connect to host timed out", ssh: { ...doc.ssh, connected: false } };
    assert.equal(unhealthyReason(down), `not connected to ${doc.host} (state reconnecting): ssh: connect to host timed out`);
  });

  it("names a state other than connected while ssh is up", () => {
    assert.equal(unhealthyReason({ ...healthyDoc("degraded"), last_error: "Docker API does not answer" }), "state degraded: Docker API does not answer");
  });

  it("is one line whatever the last error holds", () => {
    const doc = healthyDoc("degraded");
    assert.doesNotMatch(unhealthyReason({ ...doc, last_error: "a\nb\r\nc" })!, /[\r\n]/);
  });
});
