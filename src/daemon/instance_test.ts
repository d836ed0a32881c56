import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { fakeDockerDir } from "../docker/_fake_docker_cli.ts";
import { chooseTarget } from "./instance.ts";

/** A fake `docker` whose current context points at `host`; it leaves a mark when asked. */
function dockerWithContext(name: string, host: string) {
  const fake = fakeDockerDir(`touch "$(dirname "$0")/asked"\necho '[{"Name":"${name}","Endpoints":{"docker":{"Host":"${host}"}}}]'`);
  return { ...fake, asked: () => existsSync(join(fake.dir, "asked")) };
}

const usage = (re: RegExp) => (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && re.test(`${e.message}\n${e.hint}`);

describe("chooseTarget", () => {
  it("takes the current docker context's ssh:// endpoint when nothing else names a host", async () => {
    const docker = dockerWithContext("build", "ssh://docker@build-host.example:2222");
    try {
      const t = await chooseTarget(undefined, { PATH: docker.path });
      assert.deepEqual({ user: t.user, host: t.host, port: t.port }, { user: "docker", host: "build-host.example", port: 2222 });
      assert.equal(docker.asked(), true);
    } finally {
      docker.cleanup();
    }
  });

  const before: Array<[string, string | undefined, Record<string, string>, string]> = [
    ["--host", "cli-host", {}, "cli-host"],
    ["$RDHPF_HOST", undefined, { RDHPF_HOST: "env-host" }, "env-host"],
    ["an ssh:// $DOCKER_HOST", undefined, { DOCKER_HOST: "ssh://me@docker-host-var" }, "docker-host-var"],
  ];
  for (const [what, host, env, want] of before) {
    it(`prefers ${what} to the docker context and does not ask docker`, async () => {
      const docker = dockerWithContext("build", "ssh://docker@context-host");
      try {
        assert.equal((await chooseTarget(host, { PATH: docker.path, ...env })).host, want);
        assert.equal(docker.asked(), false);
      } finally {
        docker.cleanup();
      }
    });
  }

  it("exits 2 naming the context when its endpoint is not ssh://, listing every way to give a host", async () => {
    const docker = dockerWithContext("default", "unix:///var/run/docker.sock");
    try {
      await assert.rejects(chooseTarget(undefined, { PATH: docker.path }), usage(/--host[\s\S]*RDHPF_HOST[\s\S]*DOCKER_HOST[\s\S]*docker context use[\s\S]*"default" points at unix:\/\/\/var\/run\/docker.sock/));
    } finally {
      docker.cleanup();
    }
  });

  it("exits 2 listing the options when there is no docker CLI", async () => {
    await assert.rejects(chooseTarget(undefined, { PATH: "/nonexistent", DOCKER_HOST: "unix:///var/run/docker.sock" }), usage(/--host[\s\S]*RDHPF_HOST[\s\S]*DOCKER_HOST[\s\S]*docker context/));
  });

  it("refuses a bad ssh endpoint in the context like any other target", async () => {
    const docker = dockerWithContext("evil", "ssh://-oProxyCommand=x");
    try {
      await assert.rejects(chooseTarget(undefined, { PATH: docker.path }), usage(/invalid SSH target/));
    } finally {
      docker.cleanup();
    }
  });
});
