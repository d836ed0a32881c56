import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ReconnectCause, type ReconnectPlan, reconnectPlan } from "./reconnect_plan.ts";

describe("reconnectPlan", () => {
  const cases: Array<[string, ReconnectCause, number, ReconnectPlan]> = [
    ["a silent path (ConnectTimeout) backs off and watches the path", { why: "attempt-failed", kind: "timeout" }, 0, { delayMs: 1_000, watchPath: true }],
    ["a master ended by its keepalive is replaced at once, watching the path", { why: "session-lost", kind: "timeout", livedMs: 60_000, pathAnswers: false }, 0, { delayMs: 0, watchPath: true }],
    ["a path that answers with an error (no route, blackhole) watches the path", { why: "attempt-failed", kind: "unreachable" }, 2, { delayMs: 4_000, watchPath: true }],
    ["a session closed by the remote while the path is silent backs off and watches the path", { why: "session-lost", kind: "unreachable", livedMs: 60_000, pathAnswers: false }, 0, { delayMs: 1_000, watchPath: true }],
    ["a session closed by the remote while the path answers is replaced at once", { why: "session-lost", kind: "unreachable", livedMs: 60_000, pathAnswers: true }, 0, { delayMs: 0, watchPath: true }],
    ["a killed master (no SSH failure kind) is replaced at once while the path answers", { why: "session-lost", kind: "unknown", livedMs: 60_000, pathAnswers: true }, 0, { delayMs: 0, watchPath: false }],
    ["a killed master behind ProxyJump (path not probed) is replaced at once", { why: "session-lost", kind: "unknown", livedMs: 60_000, pathAnswers: null }, 0, { delayMs: 0, watchPath: false }],
    ["a master that failed its health check is replaced at once while the path answers", { why: "session-lost", kind: null, livedMs: 60_000, pathAnswers: true }, 0, { delayMs: 0, watchPath: false }],
    ["a killed master whose path is silent backs off", { why: "session-lost", kind: "unknown", livedMs: 60_000, pathAnswers: false }, 0, { delayMs: 1_000, watchPath: false }],
    ["a session that died soon after it connected backs off (no tight loop)", { why: "session-lost", kind: "unknown", livedMs: 4_999, pathAnswers: true }, 0, { delayMs: 1_000, watchPath: false }],
    ["when the immediate replacement failed, the backoff takes over", { why: "attempt-failed", kind: "unknown" }, 1, { delayMs: 2_000, watchPath: false }],
    ["a second loss in the same streak backs off", { why: "session-lost", kind: "unknown", livedMs: 60_000, pathAnswers: true }, 1, { delayMs: 2_000, watchPath: false }],
    ["a name that does not resolve watches the path", { why: "attempt-failed", kind: "dns" }, 1, { delayMs: 2_000, watchPath: true }],
    ["the backoff grows while the path stays dead", { why: "attempt-failed", kind: "timeout" }, 3, { delayMs: 8_000, watchPath: true }],
    ["the backoff stops growing at 30 s", { why: "attempt-failed", kind: "timeout" }, 12, { delayMs: 30_000, watchPath: true }],
    ["a failure that is not the network keeps the plain backoff", { why: "attempt-failed", kind: "unknown" }, 1, { delayMs: 2_000, watchPath: false }],
    ["a session ended without an SSH failure (check failed) on a silent path keeps the plain backoff", { why: "session-lost", kind: null, livedMs: 60_000, pathAnswers: false }, 0, { delayMs: 1_000, watchPath: false }],
    ["auth trouble retries at the cap and never probes", { why: "attempt-failed", kind: "auth" }, 0, { delayMs: 30_000, watchPath: false }],
    ["a changed host key retries at the cap and never probes", { why: "attempt-failed", kind: "host-key-changed" }, 0, { delayMs: 30_000, watchPath: false }],
    ["an attempt abandoned because the path came back is followed by a new one at once", { why: "path-back" }, 5, { delayMs: 0, watchPath: true }],
  ];
  for (const [name, cause, attempt, plan] of cases) {
    it(name, () => assert.deepEqual(reconnectPlan(cause, attempt), plan));
  }
});
