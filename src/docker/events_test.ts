import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { containerEventEffect, eventAction, eventContainerId, isContainerLifecycleEvent } from "./events.ts";
import { type DockerEvent, DockerEventSchema } from "./schemas.ts";

// A real stream from dockerd 20.10: run (with a health check), exec, rename,
// pause/unpause, restart, stop, rm -f, run --rm, kill.
const captured: DockerEvent[] = readFileSync(new URL("./testdata/events_api1.41.jsonl", import.meta.url), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => DockerEventSchema.parse(JSON.parse(l)));

describe("isContainerLifecycleEvent", () => {
  const expected: Record<string, boolean> = {
    create: false,
    attach: false,
    start: true,
    exec_create: false,
    exec_start: false,
    exec_die: false,
    health_status: false,
    rename: true,
    pause: true,
    unpause: true,
    kill: true,
    die: true,
    stop: true,
    restart: true,
    destroy: true,
  };

  it("classifies every action of a captured dockerd stream", () => {
    const seen = new Set(captured.map(eventAction));
    assert.deepEqual([...seen].sort(), Object.keys(expected).sort());
    for (const e of captured) assert.equal(isContainerLifecycleEvent(e), expected[eventAction(e)], e.Action);
  });

  const cases: Array<[string, DockerEvent, boolean]> = [
    ["an API 1.52+ start without status", { Type: "container", Action: "start", Actor: { ID: "abc" } }, true],
    ["a pre-1.22 die without Type", { status: "die", id: "abc" }, true],
    ["a network event", { Type: "network", Action: "destroy", Actor: { ID: "net" } }, false],
    ["an image event", { Type: "image", Action: "delete", Actor: { ID: "sha" } }, false],
    ["a start naming no container", { Type: "container", Action: "start" }, false],
    ["exec_start with its command", { Type: "container", Action: "exec_start: sh -c 'rm -rf /'", Actor: { ID: "abc" } }, false],
    ["health_status with its state", { Type: "container", Action: "health_status: unhealthy", Actor: { ID: "abc" } }, false],
    ["oom (a die follows)", { Type: "container", Action: "oom", Actor: { ID: "abc" } }, false],
  ];
  for (const [title, e, want] of cases) {
    it(`${want ? "resyncs on" : "ignores"} ${title}`, () => assert.equal(isContainerLifecycleEvent(e), want));
  }
});

describe("eventAction and eventContainerId", () => {
  const cases: Array<[DockerEvent, string, string | null]> = [
    [{ Action: "exec_create: /bin/sh -c true", Actor: { ID: "a" } }, "exec_create", "a"],
    [{ Action: "health_status: healthy", Actor: { ID: "b" } }, "health_status", "b"],
    [{ status: "start", id: "c" }, "start", "c"],
    [{ Action: "die", Actor: { ID: "" }, id: "d" }, "die", "d"],
    [{ Action: "die", Actor: {} }, "die", null],
  ];
  for (const [e, action, id] of cases) {
    it(`reads ${JSON.stringify(e)} as ${action} of ${id}`, () => {
      assert.deepEqual([eventAction(e), eventContainerId(e)], [action, id]);
    });
  }
});

describe("containerEventEffect", () => {
  const cases: Array<[string, DockerEvent, { id: string; effect: string } | null]> = [
    ["forgets on die, without asking the Engine", { Type: "container", Action: "die", Actor: { ID: "abc" } }, { id: "abc", effect: "forget" }],
    ["forgets on destroy", { Type: "container", Action: "destroy", Actor: { ID: "abc" } }, { id: "abc", effect: "forget" }],
    ["looks up a started container", { Type: "container", Action: "start", Actor: { ID: "abc" } }, { id: "abc", effect: "inspect" }],
    ["looks up a paused container: it keeps its ports", { Type: "container", Action: "pause", Actor: { ID: "abc" } }, { id: "abc", effect: "inspect" }],
    ["looks up a renamed container", { Type: "container", Action: "rename", Actor: { ID: "abc", Attributes: { name: "new", oldName: "/old" } } }, { id: "abc", effect: "inspect" }],
    ["ignores create", { Type: "container", Action: "create", Actor: { ID: "abc" } }, null],
  ];
  for (const [title, e, want] of cases) it(title, () => assert.deepEqual(containerEventEffect(e), want));
});
