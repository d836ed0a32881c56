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
  it("ignores a label value that is not a port", () => {
    assert.equal(localPortFor(80, { "rdhpf.port.80": "$(reboot)" }, NO_RULES), 80);
  });
  it("accepts true, 1 and yes for rdhpf.ignore", () => {
    assert.deepEqual(["true", "1", "yes", "false", ""].map((v) => isIgnored({ "rdhpf.ignore": v })), [true, true, true, false, false]);
  });
});
