import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ContainerInspectSchema, ContainerSummarySchema, DockerEventSchema, VersionSchema } from "./schemas.ts";

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");

describe("Engine API schemas on real dockerd 20.10 payloads", () => {
  it("reads /version", () => {
    const v = VersionSchema.parse(JSON.parse(fixture("version_api1.41.json")));
    assert.deepEqual(
      { version: v.Version, api: v.ApiVersion, min: v.MinAPIVersion, os: v.Os, arch: v.Arch },
      { version: "20.10.24+dfsg1", api: "1.41", min: "1.12", os: "linux", arch: "amd64" },
    );
  });

  it("reads every item of /containers/json", () => {
    const items: unknown[] = JSON.parse(fixture("containers_json_api1.41.json"));
    assert.equal(items.length, 11);
    for (const item of items) assert.ok(ContainerSummarySchema.safeParse(item).success);
  });

  it("reads every /containers/{id}/json, running or not", () => {
    const all: Record<string, unknown> = JSON.parse(fixture("container_inspect_api1.41.json"));
    const running = Object.entries(all).map(([name, p]) => [name, ContainerInspectSchema.parse(p).State.Running]);
    assert.deepEqual(running.find(([n]) => n === "created-only"), ["created-only", false]);
    assert.equal(running.filter(([, r]) => r).length, 11);
  });

  it("reads every event of a captured stream, including exec and health events", () => {
    const lines = fixture("events_api1.41.jsonl").split("\n").filter(Boolean);
    assert.equal(lines.length, 36);
    for (const line of lines) assert.ok(DockerEventSchema.safeParse(JSON.parse(line)).success, line);
  });

  it("drops unknown fields instead of failing on them", () => {
    const parsed = ContainerSummarySchema.parse({ Id: "a", Created: 1, Names: ["/a"], Future: { x: 1 } });
    assert.equal("Future" in parsed, false);
  });
});

describe("Engine API schemas are lenient where the API is", () => {
  const accepted: Array<[string, unknown]> = [
    ["a summary with null Ports and null Labels", { Id: "a", Created: 1, Names: ["/a"], Ports: null, Labels: null }],
    ["a summary without State (API < 1.23)", { Id: "a", Created: 1, Names: ["/a"] }],
    ["an exposed-only port without IP and PublicPort", { Id: "a", Created: 1, Ports: [{ PrivatePort: 80, Type: "tcp" }] }],
  ];
  for (const [title, payload] of accepted) {
    it(`accepts ${title}`, () => assert.ok(ContainerSummarySchema.safeParse(payload).success));
  }

  const acceptedEvents: Array<[string, unknown]> = [
    ["an API 1.52+ event without status and id", { Type: "container", Action: "start", Actor: { ID: "a", Attributes: {} }, time: 1, timeNano: 1 }],
    ["a pre-1.22 event with status and id only", { status: "die", id: "a", time: 1 }],
    ["an Action with details", { Type: "container", Action: "health_status: healthy", Actor: { ID: "a" } }],
    ["null Attributes", { Type: "container", Action: "die", Actor: { ID: "a", Attributes: null } }],
  ];
  for (const [title, payload] of acceptedEvents) {
    it(`accepts ${title}`, () => assert.ok(DockerEventSchema.safeParse(payload).success));
  }

  const rejected: Array<[string, unknown]> = [
    ["an event with neither Action nor status", { Type: "container", Actor: { ID: "a" } }],
    ["an event that is not an object", ["start"]],
    ["a label value that is not a string", { Type: "container", Action: "start", Actor: { ID: "a", Attributes: { n: 1 } } }],
  ];
  for (const [title, payload] of rejected) {
    it(`rejects ${title}`, () => assert.equal(DockerEventSchema.safeParse(payload).success, false));
  }

  it("rejects a summary without Id", () => {
    assert.equal(ContainerSummarySchema.safeParse({ Created: 1, Names: ["/a"] }).success, false);
  });
  it("rejects a /version whose ApiVersion is not MAJOR.MINOR", () => {
    assert.equal(VersionSchema.safeParse({ Version: "x", ApiVersion: "latest" }).success, false);
  });
});
