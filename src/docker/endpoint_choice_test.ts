import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ENDPOINT, type DiscoveryOutcome } from "./endpoint.ts";
import { chooseEndpoint, type EndpointChoice } from "./endpoint_choice.ts";

const ROOTLESS = "unix:///run/user/1000/docker.sock";
const OTHER = "tcp://10.0.0.5:2375";
const failed: DiscoveryOutcome = { kind: "failed", reason: "timed out" };

describe("chooseEndpoint", () => {
  const cases: Array<[string, string | null, DiscoveryOutcome, EndpointChoice]> = [
    ["keeps the known endpoint when discovery fails", ROOTLESS, failed, { kind: "keep", endpoint: ROOTLESS, reason: "timed out" }],
    ["does not guess the default when discovery fails and nothing is known", null, failed, { kind: "unknown", reason: "timed out" }],
    ["uses what discovery reported when nothing was known", null, { kind: "reported", endpoint: ROOTLESS }, { kind: "use", endpoint: ROOTLESS, changedFrom: null }],
    ["stays on the known endpoint when discovery confirms it", ROOTLESS, { kind: "reported", endpoint: ROOTLESS }, { kind: "use", endpoint: ROOTLESS, changedFrom: null }],
    ["switches when discovery reports a different endpoint, naming the old one", ROOTLESS, { kind: "reported", endpoint: OTHER }, { kind: "use", endpoint: OTHER, changedFrom: ROOTLESS }],
    ["uses the default when discovery succeeded and reported nothing", null, { kind: "nothing" }, { kind: "use", endpoint: DEFAULT_ENDPOINT, changedFrom: null }],
    ["switches to the default only when discovery succeeded and reported nothing", ROOTLESS, { kind: "nothing" }, { kind: "use", endpoint: DEFAULT_ENDPOINT, changedFrom: ROOTLESS }],
    ["stays on the default when discovery reports nothing again", DEFAULT_ENDPOINT, { kind: "nothing" }, { kind: "use", endpoint: DEFAULT_ENDPOINT, changedFrom: null }],
  ];
  for (const [name, known, outcome, expected] of cases) {
    it(name, () => assert.deepEqual(chooseEndpoint(known, outcome), expected));
  }
});
