import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fakeDockerDir } from "./_fake_docker_cli.ts";
import { currentDockerContext, findOnPath, parseContextInspect } from "./local_context.ts";

const inspect = (name: string, host: string) => JSON.stringify([{ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }]);

describe("parseContextInspect", () => {
  const cases: Array<[string, string, ReturnType<typeof parseContextInspect>]> = [
    ["an ssh context", inspect("build", "ssh://docker@build-host"), { name: "build", host: "ssh://docker@build-host", description: "" }],
    ["the default context", inspect("default", "unix:///var/run/docker.sock"), { name: "default", host: "unix:///var/run/docker.sock", description: "" }],
    ["a context without a docker endpoint", JSON.stringify([{ Name: "k8s", Endpoints: {} }]), { name: "k8s", host: "", description: "" }],
    ["an rdhpf context's description", JSON.stringify([{ Name: "rdhpf-box", Metadata: { Description: "rdhpf: Docker on box through rdhpf's socket" }, Endpoints: { docker: { Host: "unix:///run/rdhpf/box.sock" } } }]),
      { name: "rdhpf-box", host: "unix:///run/rdhpf/box.sock", description: "rdhpf: Docker on box through rdhpf's socket" }],
    ["null metadata", JSON.stringify([{ Name: "old", Metadata: null, Endpoints: {} }]), { name: "old", host: "", description: "" }],
    ["an empty list", "[]", null],
    ["not JSON", "Error: context not found", null],
  ];
  for (const [what, stdout, expected] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(parseContextInspect(stdout), expected));
  }
});

describe("currentDockerContext", () => {
  it("asks the docker CLI on PATH, which honours DOCKER_CONTEXT", async () => {
    const fake = fakeDockerDir(`[ "$1 $2" = "context inspect" ] || exit 9\necho '[{"Name":"'"\${DOCKER_CONTEXT:-default}"'","Endpoints":{"docker":{"Host":"ssh://me@'"\${DOCKER_CONTEXT:-default}"'-host"}}}]'`);
    try {
      assert.deepEqual(await currentDockerContext({ PATH: fake.path }), { name: "default", host: "ssh://me@default-host", description: "" });
      assert.deepEqual(await currentDockerContext({ PATH: fake.path, DOCKER_CONTEXT: "build" }), { name: "build", host: "ssh://me@build-host", description: "" });
    } finally {
      fake.cleanup();
    }
  });

  it("is null without a docker binary on PATH", async () => {
    assert.equal(await currentDockerContext({ PATH: "/nonexistent" }), null);
    assert.equal(await currentDockerContext({}), null);
  });

  it("is null when the docker CLI fails", async () => {
    const fake = fakeDockerDir(`echo 'context "gone": context not found' >&2\nexit 1`);
    try {
      assert.equal(await currentDockerContext({ PATH: fake.path }), null);
    } finally {
      fake.cleanup();
    }
  });

  it("gives up on a docker CLI that hangs, within its timeout", async () => {
    const fake = fakeDockerDir("exec sleep 10");
    const started = Date.now();
    try {
      assert.equal(await currentDockerContext({ PATH: fake.path }, 300), null);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    } finally {
      fake.cleanup();
    }
  });
});

describe("findOnPath", () => {
  it("finds an executable and skips directories that lack it", () => {
    const fake = fakeDockerDir("exit 0");
    try {
      assert.equal(findOnPath("docker", `/nonexistent:${fake.dir}`), join(fake.dir, "docker"));
      assert.equal(findOnPath("docker", "/nonexistent"), null);
    } finally {
      fake.cleanup();
    }
  });
});
