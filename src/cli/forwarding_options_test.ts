import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import { buildRules, dockerSocketSetting, forwardingSettings, parseMaxForwards } from "./forwarding_options.ts";

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

describe("buildRules", () => {
  it("lets the last --map for a remote port apply and keeps a note saying so", () => {
    const rules = buildRules(undefined, undefined, ["5432:15432", "6379:16379", "5432:25432"]);
    assert.deepEqual(rules.map, { "5432": 25432, "6379": 16379 });
    assert.deepEqual(rules.mapNotes, { "5432": "--map for remote port 5432 given with 15432, 25432; the last, 25432, applies" });
  });
  it("has nothing to say about a --map repeated with the same local port", () => {
    assert.equal(buildRules(undefined, undefined, ["5432:15432", "5432:15432"]).mapNotes, undefined);
  });
});

describe("the Docker socket setting", () => {
  const settings = (o: { dockerSocket?: string | boolean }, cfg: { dockerSocket?: string | false } = {}) => forwardingSettings({ bind: [], map: [], ...o }, cfg).dockerSocket;
  it("serves at the default path unless told otherwise", () => assert.equal(settings({}), "default"));
  it("takes --docker-socket as an absolute path", () => assert.equal(settings({ dockerSocket: "run/d.sock" }), resolve("run/d.sock")));
  it("turns it off with --no-docker-socket, even when the config file names a path", () => assert.equal(settings({ dockerSocket: false }, { dockerSocket: "/x.sock" }), false));
  it("takes the config file's path or false when the command line says nothing", () => {
    assert.equal(settings({}, { dockerSocket: "/x.sock" }), "/x.sock");
    assert.equal(settings({}, { dockerSocket: false }), false);
  });
  it("refuses a path with control characters", () => assert.throws(() => dockerSocketSetting("/a\nb.sock"), /invalid Docker socket path/));
});
