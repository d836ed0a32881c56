/**
 * `rdhpf context install|uninstall` with the real docker CLI (its own
 * DOCKER_CONFIG, so this machine's ~/.docker is untouched), against the real
 * test bed: the context reaches the remote engine through rdhpf's socket, the
 * ssh host is found again from it, and only rdhpf's own contexts are removed.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { cleanEnv, Daemon, type ExecResult, rdhpf, requireBinary } from "./_harness.ts";

const skip = testbedSkipReason("docker context tests");

describe("rdhpf context install/uninstall with the real docker CLI (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  let configDir: string;
  let name: string;
  let socketPath: string;
  /** The docker CLI with this test's DOCKER_CONFIG and no DOCKER_HOST: contexts decide. */
  const docker = (args: string[], env: Record<string, string> = {}) =>
    new Promise<ExecResult>((resolve) => {
      execFile("docker", args, { env: { ...cleanEnv(), DOCKER_CONFIG: configDir, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  const env = (extra: Record<string, string> = {}) => ({ RDHPF_STATE_DIR: daemon.stateDir, DOCKER_CONFIG: configDir, ...extra });

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    configDir = mkdtempSync(join(tmpdir(), "rdhpf-docker-config-"));
    daemon = new Daemon(tb);
    await daemon.waitForLog(/docker events stream started/, 60_000).catch((err) => {
      throw new Error(`${err.message}; rdhpf said:\n${daemon.logs()}`);
    });
    name = `rdhpf-${tb.alias}`;
    socketPath = (await daemon.status()).docker.client_socket!;
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it("creates rdhpf-<host>, whose description names the ssh host and whose endpoint is rdhpf's socket", async () => {
    const r = await rdhpf(["context", "install", "--host", tb.alias, "-F", tb.sshConfigFile], env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`created docker context ${name}\\n`));
    const ls = await docker(["context", "ls", "--format", "{{.Name}}|{{.Description}}|{{.DockerEndpoint}}"]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(ls.stdout.split("\n").includes(`${name}|rdhpf: Docker on ${tb.alias} through rdhpf's socket|unix://${socketPath}`), ls.stdout);
  });

  it("reaches the remote engine with docker --context NAME ps", async () => {
    const ps = await docker(["--context", name, "ps"]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /CONTAINER ID/);
    const v = await docker(["--context", name, "version", "--format", "{{.Server.Version}}"]);
    assert.equal(v.stdout.trim(), (await daemon.status()).docker.server_version);
  });

  it("updates its own context when installed again, and switches to it with --use", async () => {
    const r = await rdhpf(["context", "install", "--host", tb.alias, "-F", tb.sshConfigFile, "--use"], env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`updated docker context ${name}\\nswitched the docker CLI to context ${name}\\n`));
    assert.equal((await docker(["context", "show"])).stdout.trim(), name);
    const ps = await docker(["ps"]);
    assert.equal(ps.code, 0, ps.stderr);
  });

  it("finds the ssh host again while rdhpf's context is current, with no --host", async () => {
    const r = await rdhpf(["env", "-F", tb.sshConfigFile], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `export DOCKER_HOST=unix://${socketPath}\n`);
    // The same instance: a second run for that host is refused by the first one's lock.
    const again = await rdhpf(["run", "-F", tb.sshConfigFile], env());
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, new RegExp(`Docker host taken from the current docker context, an rdhpf context[\\s\\S]*${tb.alias}`));
  });

  it("finds the ssh host from DOCKER_HOST=unix://<rdhpf's socket>", async () => {
    const r = await rdhpf(["env", "-F", tb.sshConfigFile], env({ DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONTEXT: "default" }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `export DOCKER_HOST=unix://${socketPath}\n`);
  });

  it("refuses to install over, or uninstall, a context rdhpf did not create", async () => {
    assert.equal((await docker(["context", "create", "mine", "--description", "my own", "--docker", "host=unix:///nonexistent.sock"])).code, 0);
    const install = await rdhpf(["context", "install", "--host", tb.alias, "-F", tb.sshConfigFile, "--name", "mine"], env());
    assert.equal(install.code, 1);
    assert.match(install.stderr, /"mine" exists and was not created by rdhpf[\s\S]*hint: choose another name with --name/);
    const uninstall = await rdhpf(["context", "uninstall", "--name", "mine"], env());
    assert.equal(uninstall.code, 1);
    assert.match(uninstall.stderr, /not created by rdhpf \(its description is "my own"\)[\s\S]*hint: remove it yourself if you mean to: docker context rm mine/);
    const ls = await docker(["context", "ls", "--format", "{{.Name}}|{{.Description}}"]);
    assert.ok(ls.stdout.split("\n").includes("mine|my own"), `the user's context is untouched: ${ls.stdout}`);
  });

  it("says the docker CLI is missing, with the next step", async () => {
    const r = await rdhpf(["context", "install", "--host", tb.alias, "-F", tb.sshConfigFile], env({ PATH: "/nonexistent", RDHPF_SSH: "/usr/bin/ssh" }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the docker CLI is not on PATH[\s\S]*hint: install the docker client/);
  });

  it("uninstalls the current rdhpf context after switching docker to default", async () => {
    const r = await rdhpf(["context", "uninstall"], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `switched the docker CLI to context default\nremoved docker context ${name}\n`);
    assert.equal((await docker(["context", "show"])).stdout.trim(), "default");
    const ls = await docker(["context", "ls", "--format", "{{.Name}}"]);
    assert.deepEqual(ls.stdout.trim().split("\n").sort(), ["default", "mine"]);
  });
});
