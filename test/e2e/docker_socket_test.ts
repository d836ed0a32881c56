/**
 * rdhpf's Docker socket, used by the real docker CLI as a user would
 * (`eval "$(rdhpf env)"`), against the real test bed: every kind of Engine
 * API traffic passes, reconnects are waited out, and no docker command costs
 * an SSH connection.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { type DockerRun, docker, masterPidOf, sshPathWithConfigOf } from "./_docker_cli.ts";
import { Daemon, freePort, httpGet, rdhpf, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("Docker socket tests");

/**
 * docker commands sent through DOCKER_HOST=ssh:// for the SSH cost
 * comparison. Each opens a connection and a session with a login shell: 100
 * of them took 146 s here (110 connections, 110 sessions), so CI sends 20 and
 * checks that the cost grows with their number.
 */
const SSH_RUNS = 20;

/**
 * Session channels the test bed's sshd opened so far: at LogLevel DEBUG1 it
 * logs one `server_input_channel_open: ctype session` per session (a remote
 * command, a shell, `docker system dial-stdio`); the socket forward's
 * channels are `ctype direct-streamlocal@openssh.com` instead.
 */
function sessionsOpened(tb: Testbed): number {
  return tb.sshdLog().match(/server_input_channel_open: ctype session /g)?.length ?? 0;
}

describe("rdhpf's Docker socket with the real docker CLI (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  let host: string;
  let socketPath: string;
  let configDir: string;
  const dockerSock = (args: string[], opts?: Parameters<typeof docker>[3]) => docker(host, configDir, args, opts);

  before(async () => {
    requireBinary();
    // Two sessions per connection at most: the socket's clients must ride channels, not sessions.
    // DEBUG1: sshd then logs every session it opens (see sessionsOpened).
    tb = await startTestbed({ sshdExtraConfig: ["MaxSessions 2", "LogLevel DEBUG1"] });
    configDir = mkdtempSync(join(tmpdir(), "rdhpf-docker-config-"));
    daemon = new Daemon(tb);
    await daemon.waitForLog(/docker events stream started/, 30_000);
    const env = await rdhpf(["env", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: daemon.stateDir });
    assert.equal(env.code, 0, env.stderr);
    const m = /^export DOCKER_HOST=(unix:\/\/(\S+))\n$/.exec(env.stdout);
    assert.ok(m, `rdhpf env printed ${JSON.stringify(env.stdout)}`);
    host = m[1]!;
    socketPath = m[2]!;
  });

  after(async () => {
    await dockerSock(["rm", "-f", "sock-web", "sock-exec"]).catch(() => undefined);
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it("serves the socket at <runtime dir>/<alias>.sock, mode 0600, and shows it in status", async () => {
    assert.equal(socketPath, join(daemon.stateDir, `${tb.alias}.sock`));
    const st = statSync(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal((await daemon.status()).docker.client_socket, socketPath);
  });

  it("refuses, with exit 2 before connecting, a --docker-socket in a directory others can write", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "rdhpf-e2e-"));
    try {
      const r = await rdhpf(["run", "--host", tb.alias, "-F", tb.sshConfigFile, "--docker-socket", join(tmpdir(), "rdhpf-shared.sock")], { RDHPF_STATE_DIR: stateDir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /refusing to serve the Docker socket .* not private/);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("runs docker ps and docker version through it", async () => {
    const ps = await dockerSock(["ps"]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /CONTAINER ID/);
    const v = await dockerSock(["version", "--format", "{{.Server.Version}}"]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), (await daemon.status()).docker.server_version);
  });

  it("starts a container with a published port that then answers on 127.0.0.1", async () => {
    const port = await freePort();
    const r = await dockerSock(["run", "-d", "--name", "sock-web", "-p", `${port}:80`, tb.image]);
    assert.equal(r.code, 0, r.stderr);
    const body = await waitFor(`port ${port} answering`, () => httpGet(port), 15_000);
    assert.match(body, /hello from busybox httpd/);
  });

  it("pipes stdin through docker run -i: bytes round-trip and EOF ends the container", async () => {
    const input = Buffer.alloc(512 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7919) % 251;
    const r = await dockerSock(["run", "--rm", "-i", tb.image, "cat"], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Buffer.from(r.stdout, "latin1").equals(input), true, `got ${r.stdout.length} bytes back of ${input.length}`);
  });

  it("runs docker exec without a TTY and reads docker logs", async () => {
    const run = await dockerSock(["run", "-d", "--name", "sock-exec", tb.image, "sh", "-c", "echo started-$((6*7)); sleep 600"]);
    assert.equal(run.code, 0, run.stderr);
    const exec = await dockerSock(["exec", "sock-exec", "sh", "-c", "echo exec-$((2+3))"]);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, "exec-5\n");
    await waitFor("the container's log line", async () => (await dockerSock(["logs", "sock-exec"])).stdout === "started-42\n", 10_000);
  });

  it("streams docker events between --since and --until", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await dockerSock(["run", "--rm", tb.image, "sh", "-c", "exit 0"]);
    assert.equal(r.code, 0, r.stderr);
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await dockerSock(["events", "--since", String(since), "--until", String(until), "--filter", "type=container", "--format", "{{.Action}}"]);
    assert.equal(ev.code, 0, ev.stderr);
    for (const action of ["create", "start", "die", "destroy"]) assert.ok(ev.stdout.split("\n").includes(action), `no ${action} in ${JSON.stringify(ev.stdout)}`);
  });

  it("copies a file into a container and back with docker cp", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-cp-"));
    try {
      const content = `copied ${"z".repeat(100_000)}\n`;
      writeFileSync(join(dir, "in.txt"), content);
      const into = await dockerSock(["cp", join(dir, "in.txt"), "sock-exec:/tmp/in.txt"]);
      assert.equal(into.code, 0, into.stderr);
      const seen = await dockerSock(["exec", "sock-exec", "cat", "/tmp/in.txt"]);
      assert.equal(seen.stdout, content);
      const out = await dockerSock(["cp", "sock-exec:/tmp/in.txt", join(dir, "out.txt")]);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(readFileSync(join(dir, "out.txt"), "utf8"), content);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("removes containers with docker rm -f", async () => {
    const r = await dockerSock(["rm", "-f", "sock-web", "sock-exec"]);
    assert.equal(r.code, 0, r.stderr);
    const ps = await dockerSock(["ps", "-a", "--format", "{{.Names}}"]);
    assert.doesNotMatch(ps.stdout, /sock-web|sock-exec/);
  });

  it("carries 50 concurrent docker commands over one connection whose sshd allows 2 sessions", async () => {
    const before = tb.acceptedConnections();
    const started = Date.now();
    const runs = await Promise.all(Array.from({ length: 50 }, () => dockerSock(["ps", "-a", "--format", "{{.ID}}"])));
    const failed = runs.filter((r) => r.code !== 0);
    console.log(`50 concurrent docker ps through the socket: ${Date.now() - started} ms, ${failed.length} failed`);
    assert.equal(failed.length, 0, failed[0]?.stderr);
    assert.equal(tb.acceptedConnections() - before, 0);
  });

  it("costs no SSH connection and no session per docker command, where DOCKER_HOST=ssh:// costs at least one of each", async () => {
    const connections0 = tb.acceptedConnections();
    const sessions0 = sessionsOpened(tb);
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) assert.equal((await dockerSock(["ps"])).code, 0);
    const socketMs = Date.now() - t0;
    const socketConnections = tb.acceptedConnections() - connections0;
    const socketSessions = sessionsOpened(tb) - sessions0;

    const ssh = sshPathWithConfigOf(tb);
    try {
      const env = ssh.env;
      const sshConnections0 = tb.acceptedConnections();
      const sshSessions0 = sessionsOpened(tb);
      const t1 = Date.now();
      for (let i = 0; i < SSH_RUNS; i++) {
        const r = await docker(`ssh://${tb.alias}`, configDir, ["ps"], { env });
        assert.equal(r.code, 0, r.stderr);
      }
      const sshMs = Date.now() - t1;
      await waitFor("sshd to log the last connection", () => tb.acceptedConnections() - sshConnections0 >= SSH_RUNS, 5000).catch(() => undefined);
      const sshConnections = tb.acceptedConnections() - sshConnections0;
      const sshSessions = sessionsOpened(tb) - sshSessions0;
      console.log(`100 x docker ps through rdhpf's socket: ${socketConnections} SSH connections, ${socketSessions} sessions, ${socketMs} ms; ` +
        `${SSH_RUNS} x through DOCKER_HOST=ssh://: ${sshConnections} SSH connections, ${sshSessions} sessions, ${sshMs} ms`);
      assert.equal(socketConnections, 0);
      assert.equal(socketSessions, 0);
      assert.ok(sshConnections >= SSH_RUNS, `DOCKER_HOST=ssh:// opened ${sshConnections} connections for ${SSH_RUNS} commands`);
      assert.ok(sshSessions >= SSH_RUNS, `DOCKER_HOST=ssh:// opened ${sshSessions} sessions for ${SSH_RUNS} commands`);
    } finally {
      ssh.cleanup();
    }
  });

  it("lets docker commands wait out a reconnect after the master is SIGKILLed, then succeed", async () => {
    const masterPid = masterPidOf(daemon);
    assert.ok(masterPid);
    const results: DockerRun[] = [];
    const first = await dockerSock(["ps"]);
    results.push(first);
    process.kill(masterPid, "SIGKILL");
    // Right after the kill: these start while the link is gone and must wait for the next one.
    results.push(...await Promise.all(Array.from({ length: 5 }, () => dockerSock(["ps", "--format", "{{.ID}}"]))));
    for (let i = 0; i < 3; i++) results.push(await dockerSock(["version", "--format", "{{.Server.Version}}"]));
    const failed = results.filter((r) => r.code !== 0);
    console.log(`around a master SIGKILL: ${results.length} docker commands, ${failed.length} failed, slowest ${Math.max(...results.map((r) => r.ms))} ms`);
    assert.equal(failed.length, 0, failed[0]?.stderr);
    assert.notEqual(masterPidOf(daemon), masterPid);
    assert.ok(statSync(socketPath).isSocket(), "the socket file stayed");
  });

  it("removes the socket at shutdown", async () => {
    assert.equal(await daemon.stop("SIGTERM"), 0);
    assert.throws(() => statSync(socketPath), /ENOENT/);
  });
});

describe("rdhpf's Docker socket when sshd refuses stream-local forwarding (dial-stdio)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  let configDir: string;

  before(async () => {
    requireBinary();
    tb = await startTestbed({ sshdExtraConfig: ["AllowStreamLocalForwarding no"] });
    configDir = mkdtempSync(join(tmpdir(), "rdhpf-docker-config-"));
    daemon = new Daemon(tb);
    await daemon.waitForLog(/docker events stream started/, 30_000);
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it("relays docker ps and docker run -i through dial-stdio", async () => {
    const st = await daemon.status();
    assert.equal(st.docker.transport, "dial-stdio");
    const host = `unix://${st.docker.client_socket}`;
    const ps = await docker(host, configDir, ["ps"]);
    assert.equal(ps.code, 0, ps.stderr);
    const input = Buffer.from("through dial-stdio\n".repeat(1000));
    const cat = await docker(host, configDir, ["run", "--rm", "-i", tb.image, "cat"], { input });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, input.toString("latin1"));
  });

  it("shows the default session limit of 8 in status", async () => {
    const ds = (await daemon.status()).docker_socket;
    assert.equal(ds?.limit, 8);
    assert.ok(ds !== null && ds.sessions !== null && ds.sessions >= 1, `sessions ${ds?.sessions}: the event stream holds one`);
  });
});

describe("rdhpf's Docker socket over dial-stdio when sshd allows 2 sessions", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  let configDir: string;

  before(async () => {
    requireBinary();
    // Each dial-stdio bridge is one SSH session, and rdhpf's event stream holds one of the two.
    tb = await startTestbed({ sshdExtraConfig: ["AllowStreamLocalForwarding no", "MaxSessions 2"] });
    configDir = mkdtempSync(join(tmpdir(), "rdhpf-docker-config-"));
    daemon = new Daemon(tb, ["--max-docker-sessions", "2"]);
    await daemon.waitForLog(/docker events stream started/, 30_000);
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it("runs 20 concurrent docker commands within 2 sessions by queueing, and shows the queue in status", async () => {
    const st0 = await daemon.status();
    assert.equal(st0.docker.transport, "dial-stdio");
    assert.deepEqual({ limit: st0.docker_socket?.limit, path: st0.docker_socket?.path }, { limit: 2, path: st0.docker.client_socket });
    const host = `unix://${st0.docker.client_socket}`;
    const refusals = () => tb.sshdLog().split("\n").filter((l) => /no more sessions/.test(l)).length;
    const refused0 = refusals();
    let maxQueued = 0;
    let maxSessions = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const ds = (await daemon.status()).docker_socket;
        maxQueued = Math.max(maxQueued, ds?.queued ?? 0);
        maxSessions = Math.max(maxSessions, ds?.sessions ?? 0);
      }
    })();
    const started = Date.now();
    const runs = await Promise.all(Array.from({ length: 20 }, () => docker(host, configDir, ["ps", "-a", "--format", "{{.ID}}"])));
    const ms = Date.now() - started;
    sampling = false;
    await sampler;
    const failed = runs.filter((r) => r.code !== 0);
    const st1 = await daemon.status();
    console.log(
      `20 concurrent docker ps over dial-stdio within 2 sessions: ${ms} ms (slowest ${Math.max(...runs.map((r) => r.ms))} ms), ${failed.length} failed; ` +
        `status saw up to ${maxQueued} queued, ${maxSessions} sessions; sshd refused ${refusals() - refused0} sessions (retried); ` +
        `${(st1.docker_socket?.connections_total ?? 0) - (st0.docker_socket?.connections_total ?? 0)} connections accepted`,
    );
    assert.equal(failed.length, 0, failed[0]?.stderr);
    assert.ok(maxSessions <= 2, `status showed ${maxSessions} sessions`);
    assert.ok(maxQueued > 0, "20 commands over 2 sessions never showed a queue");
    assert.ok((st1.docker_socket?.connections_total ?? 0) - (st0.docker_socket?.connections_total ?? 0) >= 20);
  });
});
