import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildProgram, commandsNeeded } from "./mod.ts";

const ALL = ["run", "status", "wait", "service", "doctor", "env", "context", "completions"];

describe("commandsNeeded: a command's modules load only when it runs", () => {
  const cases: Array<[string, string[], string[]]> = [
    ["rdhpf status loads only status", ["status", "--format", "json"], ["status"]],
    ["rdhpf run loads only run", ["run", "--host", "ssh://h"], ["run"]],
    ["rdhpf wait --help loads only wait", ["wait", "--help"], ["wait"]],
    ["the top-level help loads all", ["--help"], ALL],
    ["no arguments (help) loads all", [], ALL],
    ["an unknown command loads all, for the suggestion", ["stauts"], ALL],
    ["completions describe the whole tree", ["completions", "bash"], ALL],
  ];
  for (const [name, argv, want] of cases) it(name, () => assert.deepEqual(commandsNeeded(argv), want));
});

describe("buildProgram", () => {
  it("has every command, in help order, plus version", async () => {
    assert.deepEqual((await buildProgram()).commands.map((c) => c.name()), [...ALL, "version"]);
  });
  it("has just the command asked for, plus version", async () => {
    assert.deepEqual((await buildProgram(["status"])).commands.map((c) => c.name()), ["status", "version"]);
  });
});
