import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { loadConfigFile } from "./config_file.ts";

function withFile(content: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-cfg-"));
  try {
    const path = join(dir, "config.json");
    writeFileSync(path, content);
    fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("loadConfigFile", () => {
  it("reads the run settings", () => {
    withFile(JSON.stringify({ host: "ssh://me@docker", excludePorts: "22", logLevel: "debug" }), (p) => {
      assert.deepEqual(loadConfigFile(p), { host: "ssh://me@docker", excludePorts: "22", logLevel: "debug" });
    });
  });
  it("reads metricsListen and names it when it is not [ADDR:]PORT", () => {
    withFile(JSON.stringify({ metricsListen: "127.0.0.1:9469" }), (p) => assert.deepEqual(loadConfigFile(p), { metricsListen: "127.0.0.1:9469" }));
    withFile(JSON.stringify({ metricsListen: "localhost:9469" }), (p) => {
      assert.throws(() => loadConfigFile(p), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && /metricsListen: invalid --metrics-listen "localhost:9469"/.test(e.message));
    });
  });
  it("is empty when the default file does not exist", () => {
    assert.deepEqual(loadConfigFile(undefined, { HOME: "/nonexistent-home" }), {});
  });
  it("names an unknown key", () => {
    withFile(JSON.stringify({ hots: "x" }), (p) => {
      assert.throws(() => loadConfigFile(p), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && e.message.includes("hots"));
    });
  });
  it("names a key with a bad value", () => {
    withFile(JSON.stringify({ logLevel: "loud" }), (p) => {
      assert.throws(() => loadConfigFile(p), (e: unknown) => e instanceof RdhpfError && e.message.includes("logLevel"));
    });
  });
  it("reads maxForwards and names it when it is not a whole number from 1 to 65535", () => {
    withFile(JSON.stringify({ maxForwards: 1000 }), (p) => assert.deepEqual(loadConfigFile(p), { maxForwards: 1000 }));
    for (const bad of [0, 70000, 1.5, "100"]) {
      withFile(JSON.stringify({ maxForwards: bad }), (p) => {
        assert.throws(() => loadConfigFile(p), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && e.message.includes("maxForwards"));
      });
    }
  });
  it("reads startHold and names it when it is not true or false", () => {
    withFile(JSON.stringify({ startHold: false }), (p) => assert.deepEqual(loadConfigFile(p), { startHold: false }));
    withFile(JSON.stringify({ startHold: "no" }), (p) => {
      assert.throws(() => loadConfigFile(p), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && e.message.includes("startHold"));
    });
  });
  it("reads the conflict policy and names it when it is bad", () => {
    withFile(JSON.stringify({ onConflict: "next-free" }), (p) => assert.deepEqual(loadConfigFile(p), { onConflict: "next-free" }));
    withFile(JSON.stringify({ onConflict: "steal" }), (p) => {
      assert.throws(() => loadConfigFile(p), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && e.message.includes("onConflict"));
    });
  });
  const badRules: Array<[Record<string, unknown>, string]> = [
    [{ includePorts: "3000-" }, "includePorts"],
    [{ excludePorts: "22,abc" }, "excludePorts"],
    [{ map: ["5432:15432", "5433"] }, "map.1"],
  ];
  for (const [content, key] of badRules) {
    it(`names ${key} when its port rule does not parse`, () => {
      withFile(JSON.stringify(content), (p) => {
        assert.throws(() => loadConfigFile(p), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && e.message.includes(`${key}:`));
      });
    });
  }
  it("says where JSON is broken", () => {
    withFile("{ host: ", (p) => assert.throws(() => loadConfigFile(p), (e: unknown) => e instanceof RdhpfError && e.message.includes("not valid JSON")));
  });
  it("refuses a missing explicit file", () => {
    assert.throws(() => loadConfigFile("/nonexistent/rdhpf.json"), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2);
  });
});
