import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { forwardingSettings, parseMaxForwards } from "./forwarding_options.ts";

describe("parseMaxForwards", () => {
  for (const [text, n] of [["1", 1], ["1000", 1000], ["65535", 65535]] as const) {
    it(`reads ${text}`, () => assert.equal(parseMaxForwards(text), n));
  }
  for (const text of ["0", "65536", "-5", "1e3", "10.5", "", "many"]) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseMaxForwards(text), InvalidArgumentError));
  }
});

describe("forwardingSettings", () => {
  const none = { bind: [], map: [] };
  it("caps forwards at 4096 by default", () => assert.equal(forwardingSettings(none, {}).maxForwards, 4096));
  it("takes maxForwards from the config file", () => assert.equal(forwardingSettings(none, { maxForwards: 300 }).maxForwards, 300));
  it("prefers --max-forwards over the config file", () => assert.equal(forwardingSettings({ ...none, maxForwards: 20 }, { maxForwards: 300 }).maxForwards, 20));
});
