import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { contextDescription, defaultContextName, dockerEndpointField, isValidContextName, planInstall, planUninstall, sshHostOfDescription } from "./rdhpf_context.ts";
import type { DockerContext } from "./local_context.ts";

const ours = (name: string, host = "ssh://docker@build-host"): DockerContext => ({ name, host: "unix:///run/rdhpf/build-host.sock", description: contextDescription(host) });
const theirs = (name: string): DockerContext => ({ name, host: "ssh://me@elsewhere", description: "my build box" });

describe("the description of rdhpf's contexts", () => {
  for (const host of ["ssh://docker@build-host", "dockerbox", "ssh://me@[fd00::10]:2222", "alias.with.dots"]) {
    it(`keeps the ssh host ${host} and gives it back`, () => assert.equal(sshHostOfDescription(contextDescription(host)), host));
  }
  const notOurs: Array<[string, string]> = [
    ["a user's own description", "my build box"],
    ["an empty one", ""],
    ["the prefix alone", "rdhpf: Docker on "],
    ["one with no host", "rdhpf: Docker on  through rdhpf's socket"],
    ["one whose host has a space", "rdhpf: Docker on a b through rdhpf's socket"],
    ["the prefix without the suffix", "rdhpf: Docker on box, edited by hand"],
  ];
  for (const [what, d] of notOurs) it(`does not take ${what} for rdhpf's`, () => assert.equal(sshHostOfDescription(d), null));
});

describe("defaultContextName", () => {
  const cases: Array<[{ host: string; port: number | null }, string]> = [
    [{ host: "build-host", port: null }, "rdhpf-build-host"],
    [{ host: "build-host.example", port: 2222 }, "rdhpf-build-host.example-2222"],
    [{ host: "fd00::10", port: null }, "rdhpf-fd00--10"],
    [{ host: "box%eth0", port: 22 }, "rdhpf-box-eth0-22"],
  ];
  for (const [target, want] of cases) {
    it(`names ${JSON.stringify(target)} ${want}, a name docker accepts`, () => {
      assert.equal(defaultContextName(target), want);
      assert.ok(isValidContextName(want));
    });
  }
  it("rejects names the docker CLI rejects", () => {
    for (const bad of ["", "x", "-x", "a b", "a/b", "ä-box"]) assert.equal(isValidContextName(bad), false, bad);
  });
});

describe("dockerEndpointField", () => {
  it("passes a plain path as is", () => assert.equal(dockerEndpointField("/run/rdhpf/box.sock"), "host=unix:///run/rdhpf/box.sock"));
  it("quotes a path with a comma or quote as one CSV field", () => assert.equal(dockerEndpointField('/tmp/a,b"c.sock'), '"host=unix:///tmp/a,b""c.sock"'));
});

describe("planInstall", () => {
  const req = { name: "rdhpf-build-host", sshHost: "ssh://docker@build-host", socketPath: "/run/rdhpf/build-host.sock" };
  const endpoint = ["--description", "rdhpf: Docker on ssh://docker@build-host through rdhpf's socket", "--docker", "host=unix:///run/rdhpf/build-host.sock"];

  it("creates the context when there is none of that name", () => {
    assert.deepEqual(planInstall({ ...req, use: false, existing: null }), {
      kind: "run", steps: [{ args: ["context", "create", "rdhpf-build-host", ...endpoint], says: "created docker context rdhpf-build-host" }],
    });
  });
  it("switches to it with --use", () => {
    const plan = planInstall({ ...req, use: true, existing: null });
    assert.equal(plan.kind, "run");
    assert.deepEqual(plan.kind === "run" && plan.steps.map((s) => s.args.slice(0, 2).join(" ")), ["context create", "context use"]);
  });
  it("updates a context rdhpf made before under that name", () => {
    const plan = planInstall({ ...req, use: false, existing: ours("rdhpf-build-host", "ssh://docker@old-host") });
    assert.deepEqual(plan.kind === "run" && plan.steps[0]!.args, ["context", "update", "rdhpf-build-host", ...endpoint]);
  });
  it("refuses to touch a context of that name that rdhpf did not make, and says what to do", () => {
    const plan = planInstall({ ...req, use: true, existing: theirs("rdhpf-build-host") });
    assert.equal(plan.kind, "refuse");
    assert.match(plan.kind === "refuse" ? `${plan.reason} / ${plan.hint}` : "", /not created by rdhpf.*ssh:\/\/me@elsewhere.*--name NAME/);
  });
});

describe("planUninstall", () => {
  it("removes a context rdhpf made", () => {
    assert.deepEqual(planUninstall({ name: "rdhpf-box", existing: ours("rdhpf-box"), current: "default" }), {
      kind: "run", steps: [{ args: ["context", "rm", "rdhpf-box"], says: "removed docker context rdhpf-box" }],
    });
  });
  it("switches to default first when it is the current context", () => {
    const plan = planUninstall({ name: "rdhpf-box", existing: ours("rdhpf-box"), current: "rdhpf-box" });
    assert.deepEqual(plan.kind === "run" && plan.steps.map((s) => s.args), [["context", "use", "default"], ["context", "rm", "rdhpf-box"]]);
  });
  it("refuses a context rdhpf did not make, naming its description and the command to remove it by hand", () => {
    const plan = planUninstall({ name: "build", existing: theirs("build"), current: "build" });
    assert.equal(plan.kind, "refuse");
    assert.match(plan.kind === "refuse" ? `${plan.reason} / ${plan.hint}` : "", /not created by rdhpf.*"my build box".*docker context rm build/);
  });
  it("refuses a name that does not exist, pointing at docker context ls", () => {
    const plan = planUninstall({ name: "rdhpf-gone", existing: null, current: "default" });
    assert.match(plan.kind === "refuse" ? plan.hint : "", /docker context ls/);
  });
});
