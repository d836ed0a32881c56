import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ReconnectCause, type ReconnectPlan, reconnectPlan } from "./reconnect_plan.ts";

describe("reconnectPlan", () => {
  const cases: Array<[string, ReconnectCause, number, ReconnectPlan]> = [
    ["a silent path (ConnectTimeout) backs off and watches the path", { why: "attempt-failed", kind: "timeout" }, 0, { delayMs: 1_000, watchPath: true }],
    ["a master ended by its keepalive is replaced at once, watching the path", { why: "session-lost", kind: "timeout" }, 0, { delayMs: 0, watchPath: true }],
    ["a path that answers with an error (no route, blackhole) watches the path", { why: "attempt-failed", kind: "unreachable" }, 2, { delayMs: 4_000, watchPath: true }],
    ["a session closed by the remote backs off and watches the path", { why: "session-lost", kind: "unreachable" }, 0, { delayMs: 1_000, watchPath: true }],
    ["a name that does not resolve watches the path", { why: "attempt-failed", kind: "dns" }, 1, { delayMs: 2_000, watchPath: true }],
    ["the backoff grows while the path stays dead", { why: "attempt-failed", kind: "timeout" }, 3, { delayMs: 8_000, watchPath: true }],
    ["the backoff stops growing at 30 s", { why: "attempt-failed", kind: "timeout" }, 12, { delayMs: 30_000, watchPath: true }],
    ["a failure that is not the network keeps the plain backoff", { why: "attempt-failed", kind: "unknown" }, 1, { delayMs: 2_000, watchPath: false }],
    ["a session ended without an SSH failure (check failed) keeps the plain backoff", { why: "session-lost", kind: null }, 0, { delayMs: 1_000, watchPath: false }],
    ["auth trouble retries at the cap and never probes", { why: "attempt-failed", kind: "auth" }, 0, { delayMs: 30_000, watchPath: false }],
    ["a changed host key retries at the cap and never probes", { why: "attempt-failed", kind: "host-key-changed" }, 0, { delayMs: 30_000, watchPath: false }],
    ["an attempt abandoned because the path came back is followed by a new one at once", { why: "path-back" }, 5, { delayMs: 0, watchPath: true }],
  ];
  for (const [name, cause, attempt, plan] of cases) {
    it(name, () => assert.deepEqual(reconnectPlan(cause, attempt), plan));
  }
});
