import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { fakeDockerDir } from "../docker/_fake_docker_cli.ts";
import { chooseTarget, hostServingSocket } from "./instance.ts";

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

describe("chooseTarget with rdhpf's own socket and contexts", () => {
  const stateDoc = (host: string, socket: string | null) => JSON.stringify({ host, docker: { client_socket: socket } });

  it("takes the ssh host from the description of a current rdhpf context", async () => {
    const docker = fakeDockerDir(`echo '[{"Name":"rdhpf-box","Metadata":{"Description":"rdhpf: Docker on ssh://docker@build-box:2222 through rdhpf'"'"'s socket"},"Endpoints":{"docker":{"Host":"unix:///run/x/build-box.sock"}}}]'`);
    try {
      const t = await chooseTarget(undefined, { PATH: docker.path });
      assert.deepEqual({ user: t.user, host: t.host, port: t.port }, { user: "docker", host: "build-box", port: 2222 });
    } finally {
      docker.cleanup();
    }
  });

  it("maps DOCKER_HOST=unix://<an rdhpf socket> back to the host in that instance's state file, without asking docker", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-choose-"));
    const docker = dockerWithContext("default", "unix:///var/run/docker.sock");
    try {
      writeFileSync(join(dir, "aaaa.state.json"), stateDoc("other-host", join(dir, "other-host.sock")));
      writeFileSync(join(dir, "bbbb.state.json"), stateDoc("ssh://me@build-box", join(dir, "build-box.sock")));
      writeFileSync(join(dir, "cccc.state.json"), "{half written");
      const env = { PATH: docker.path, RDHPF_STATE_DIR: dir };
      assert.equal((await chooseTarget(undefined, { ...env, DOCKER_HOST: `unix://${join(dir, "build-box.sock")}` })).host, "build-box");
      assert.equal(docker.asked(), false);
      assert.equal(hostServingSocket(dir, join(dir, "nobody.sock")), null);
      await assert.rejects(chooseTarget(undefined, { ...env, DOCKER_HOST: `unix://${join(dir, "nobody.sock")}` }), usage(/no Docker host given/));
    } finally {
      docker.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("maps a current context whose endpoint is an rdhpf socket back to its host", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-choose-"));
    const docker = dockerWithContext("mine", `unix://${join(dir, "box.sock")}`);
    try {
      writeFileSync(join(dir, "bbbb.state.json"), stateDoc("box", join(dir, "box.sock")));
      assert.equal((await chooseTarget(undefined, { PATH: docker.path, RDHPF_STATE_DIR: dir })).host, "box");
    } finally {
      docker.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
