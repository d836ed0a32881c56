import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runCommand, startHoldSetting } from "./run.ts";

describe("rdhpf run --no-start-hold", () => {
  it("holds start responses by default, and not with the flag or \"startHold\": false", () => {
    assert.equal(startHoldSetting(undefined, undefined), true);
    assert.equal(startHoldSetting(true, undefined), true);
    assert.equal(startHoldSetting(false, undefined), false);
    assert.equal(startHoldSetting(true, false), false);
    assert.equal(startHoldSetting(false, true), false, "the command line beats the file");
  });

  it("parses the flag into startHold", () => {
    const parse = (argv: string[]) => runCommand().exitOverride().action(() => undefined).parse(argv, { from: "user" }).opts().startHold;
    assert.equal(parse([]), true);
    assert.equal(parse(["--no-start-hold"]), false);
  });
});
