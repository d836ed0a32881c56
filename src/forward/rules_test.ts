import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RdhpfError } from "../errors.ts";
import { excludedBy, isIgnored, localPortFor, NO_RULES, parsePortMap, parsePortRanges } from "./rules.ts";

describe("parsePortRanges", () => {
  it("reads ports and ranges", () => {
    assert.deepEqual(parsePortRanges("3000-9999, 5432"), [{ from: 3000, to: 9999 }, { from: 5432, to: 5432 }]);
  });
  for (const bad of ["0", "70000", "a-b", "10-5", "1-2-3", "-5"]) {
    it(`refuses ${JSON.stringify(bad)} with exit status 2`, () => {
      assert.throws(() => parsePortRanges(bad, "--include-ports"), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && e.message.includes("--include-ports"));
    });
  }
});

describe("parsePortMap", () => {
  it("reads REMOTE:LOCAL", () => assert.deepEqual(parsePortMap("5432:15432"), [5432, 15432]));
  it("names the right form when the input is wrong", () => {
    assert.throws(() => parsePortMap("5432"), (e: unknown) => e instanceof RdhpfError && e.hint?.includes("REMOTE:LOCAL") === true);
  });
});

describe("rules", () => {
  it("excludes before it includes", () => {
    const rules = { include: parsePortRanges("1-100"), exclude: parsePortRanges("22"), map: {} };
    assert.equal(excludedBy(22, rules), "excluded by --exclude-ports");
    assert.equal(excludedBy(80, rules), null);
    assert.equal(excludedBy(8080, rules), "not in --include-ports");
  });
  it("ignores a label value that is not a port, and says so", () => {
    const choice = localPortFor(80, { "rdhpf.port.80": "$(reboot)" }, NO_RULES);
    assert.equal(choice.port, 80);
    assert.match(choice.note ?? "", /^label rdhpf\.port\.80="\$\(reboot\)" is not a port .*; forwarded on 80$/);
  });
  it("falls back to --map when the label is bad", () => {
    assert.equal(localPortFor(5432, { "rdhpf.port.5432": "99999" }, { ...NO_RULES, map: { "5432": 15432 } }).port, 15432);
  });
  it("takes a valid label over --map, with nothing to say", () => {
    assert.deepEqual(localPortFor(5432, { "rdhpf.port.5432": "25432" }, { ...NO_RULES, map: { "5432": 15432 } }), { port: 25432, note: null });
  });
  it("carries the note of a --map given twice", () => {
    const rules = { ...NO_RULES, map: { "5432": 25432 }, mapNotes: { "5432": "--map for remote port 5432 given with 15432 and 25432; the last applies" } };
    assert.deepEqual(localPortFor(5432, {}, rules), { port: 25432, note: rules.mapNotes["5432"] });
  });
  it("accepts true, 1 and yes for rdhpf.ignore", () => {
    assert.deepEqual(["true", "1", "yes", "false", ""].map((v) => isIgnored({ "rdhpf.ignore": v })), [true, true, true, false, false]);
  });
});
