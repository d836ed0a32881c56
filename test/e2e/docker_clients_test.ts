/**
 * rdhpf's Docker socket with clients nobody here wrote, end to end on the
 * test bed: docker-compose (Python, docker-py), Testcontainers for Node
 * (dockerode), and the docker CLI commands that stream or hijack: `exec -it`
 * under a real pseudo-terminal, `stats`, `build`, and a `logs -f` / `events`
 * stream cut by a master SIGKILL. No client may dial anything but the socket
 * and 127.0.0.1/::1 (no registry is reachable; every image is the test bed's).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestbed, TESTBED_INDEX_HTML, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { docker, masterPidOf, runClient } from "./_docker_cli.ts";
import { cleanEnv, Daemon, freePort, httpGet, isRefused, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("Docker client tests");

/**
 * What may redirect a client away from DOCKER_HOST or make it dial elsewhere:
 * TLS settings, compose's own settings, Testcontainers' settings (its
 * ~/.testcontainers.properties is kept away by a HOME of the test's own).
 */
function clientEnv(base: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(cleanEnv())) {
    if (!/^(DOCKER_|COMPOSE_|TESTCONTAINERS_|TC_)/.test(k) && !/^(https?|no|all)_proxy$/i.test(k)) env[k] = v;
  }
  return { ...env, ...base };
}

/** The distinct targets of the connect() calls in an strace log: "unix:<path>", "inet:<addr>", or the raw address. */
function connectTargets(straceLog: string): string[] {
  const targets = new Set<string>();
  for (const line of straceLog.split("\n").filter((l) => l.includes(" connect("))) {
    const addr = /connect\(\d+, \{([^}]*)\}/.exec(line)?.[1];
    if (addr === undefined) {
      targets.add(`unparsed: ${line}`);
      continue;
    }
    if (/sa_family=AF_UNSPEC/.test(addr)) continue; // disconnects a UDP socket; dials nothing
    const path = /sun_path=@?"([^"]*)"/.exec(addr)?.[1];
    const ip = /inet_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"/.exec(addr)?.[1];
    targets.add(path !== undefined ? `unix:${path}` : ip !== undefined ? `inet:${ip}` : addr);
  }
  return [...targets];
}

/** Debian's docker CLI (package docker.io), whose BuildKit client is built in. */
const DEBIAN_DOCKER = "/usr/bin/docker";

describe("third-party Docker clients through rdhpf's socket (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  let socketPath: string;
  /** HOME and DOCKER_CONFIG of the clients: nothing of this machine's user reaches them. */
  let home: string;
  let env: Record<string, string>;
  const dockerSock = (args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}) =>
    docker(`unix://${socketPath}`, join(home, ".docker"), args, { ...opts, env: { ...env, ...opts.env } });

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    home = mkdtempSync(join(tmpdir(), "rdhpf-clients-home-"));
    daemon = new Daemon(tb);
    await daemon.waitForLog(/docker events stream started/, 30_000);
    socketPath = (await daemon.status()).docker.client_socket!;
    assert.ok(socketPath, "status shows no Docker socket");
    env = clientEnv({ HOME: home, DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONFIG: join(home, ".docker") });
  });

  after(async () => {
    await tb?.docker(["rm", "-f", "cli-tty", "cli-stats", "cli-stream"]).catch(() => undefined);
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("docker-compose: up -d of 3 services with published ports, ps, logs; every port answers; down removes them", async () => {
    const project = `rdhpf-${process.pid}-${Date.now().toString(36)}`;
    const ports = [await freePort(), await freePort(), await freePort()];
    const names = ["alpha", "beta", "gamma"];
    const file = join(home, "compose.yaml");
    // No `build:`, the image is local and `pull_policy: never`: compose dials nothing but the socket.
    writeFileSync(file, [
      "services:",
      ...names.flatMap((n, i) => [
        `  ${n}:`,
        `    image: ${tb.image}`,
        "    pull_policy: never",
        `    command: ["sh", "-c", "echo compose-${n} ready; exec httpd -f -p 80 -h /www"]`,
        `    ports: ["${ports[i]}:80"]`,
      ]),
      "",
    ].join("\n"));
    // Under strace: every connect() of compose and its children is recorded, to prove it dials only the socket.
    const trace = join(home, "compose.strace");
    // compose 1.29 posts each command's name to Docker Desktop's local CLI socket (default
    // /var/run/docker-cli.sock, no opt-out): point it at a path of this test that nothing serves.
    const metricsSocket = join(home, "compose-metrics.sock");
    const compose = (args: string[]) =>
      runClient("strace", ["-f", "-qq", "-A", "-e", "trace=connect", "-o", trace, "docker-compose", "-p", project, "-f", file, ...args], {
        env: { ...env, METRICS_SOCKET_FILE: `http+unix://${metricsSocket}` },
        timeoutMs: 120_000,
      });
    let downed = false;
    try {
      const up = await compose(["up", "-d", "--no-build"]);
      assert.equal(up.code, 0, up.stderr);
      const upMs = up.ms;
      const t0 = Date.now();
      for (const port of ports) assert.equal(await waitFor(`published port ${port} answering`, () => httpGet(port), 10_000).then((b) => b.endsWith(TESTBED_INDEX_HTML)), true);
      const answeredMs = Date.now() - t0;

      const ps = await compose(["ps"]);
      assert.equal(ps.code, 0, ps.stderr);
      for (const [i, n] of names.entries()) assert.match(ps.stdout, new RegExp(`${project}_${n}_1 .* Up .*:${ports[i]}->80/tcp`));
      const logs = await compose(["logs", "--no-color"]);
      assert.equal(logs.code, 0, logs.stderr);
      for (const n of names) assert.match(logs.stdout, new RegExp(`compose-${n} ready`));

      // httpd as PID 1 ignores SIGTERM: stop at once rather than after compose's default 10 s.
      const down = await compose(["down", "--timeout", "1"]);
      assert.equal(down.code, 0, down.stderr);
      downed = true;
      const t1 = Date.now();
      for (const port of ports) await waitFor(`port ${port} closed after down`, () => isRefused(port), 10_000);
      console.log(`docker-compose: up -d ${upMs} ms, all 3 ports answering ${answeredMs} ms after it returned; down ${down.ms} ms, ports gone ${Date.now() - t1} ms after it returned`);
      const left = await tb.docker(["ps", "-aq", "--filter", `label=com.docker.compose.project=${project}`]);
      assert.equal(left.stdout.trim(), "", "compose down left containers behind");
      const dialed = connectTargets(readFileSync(trace, "utf8"));
      assert.ok(dialed.includes(`unix:${socketPath}`), `compose never dialed the socket: ${dialed.join(", ")}`);
      assert.deepEqual(dialed.filter((d) => d !== `unix:${socketPath}` && d !== `unix:${metricsSocket}`), [], "docker-compose dialed something other than rdhpf's socket");
    } finally {
      if (!downed) await compose(["down", "--timeout", "1"]);
    }
  });

  it("Testcontainers for Node: a GenericContainer with Wait.forHttp answers at getHost():getMappedPort(80), dialing only the socket and loopback", async () => {
    const script = join(dirname(fileURLToPath(import.meta.url)), "_testcontainers_client.mjs");
    // This machine image has /.dockerenv, so Testcontainers would take the Docker bridge gateway
    // (an address on the remote host) as the containers' host; a laptop or CI runner needs no override.
    const r = await runClient("node", [script, tb.image], {
      env: { ...env, TESTCONTAINERS_RYUK_DISABLED: "true", TESTCONTAINERS_HOST_OVERRIDE: "localhost", DEBUG: "testcontainers*" },
      timeoutMs: 90_000,
    });
    assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
    const seen = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { host: string; port: number; status: number; body: string; startMs: number; dialed: string[] };
    console.log(`Testcontainers: start (with the HTTP wait) ${seen.startMs} ms, whole run ${r.ms} ms; mapped port ${seen.port}; dialed ${[...new Set(seen.dialed)].join(", ")}`);
    assert.equal(seen.host, "localhost");
    assert.equal(seen.status, 200);
    assert.equal(seen.body, TESTBED_INDEX_HTML);
    assert.ok(seen.dialed.length > 0, "the probe saw no connection at all");
    const elsewhere = seen.dialed.filter((d) => d !== `unix:${socketPath}` && !new RegExp(`^tcp:(localhost|127\\.0\\.0\\.1|::1):${seen.port}$`).test(d));
    assert.deepEqual(elsewhere, [], "Testcontainers dialed something other than rdhpf's socket and the mapped port on loopback");
    assert.doesNotMatch(r.stderr, /Pulling image/, "Testcontainers tried to pull the local image");
    assert.match(r.stderr, /ConfigurationStrategy/, "Testcontainers did not take DOCKER_HOST");
    await waitFor(`port ${seen.port} closed after stop`, () => isRefused(seen.port), 10_000);
  });

  it("docker exec -it under a real pseudo-terminal (script) runs with a TTY and returns the exit code", async () => {
    const run = await dockerSock(["run", "-d", "--name", "cli-tty", tb.image, "sleep", "600"]);
    assert.equal(run.code, 0, run.stderr);
    // `script` gives the docker CLI a pty as stdin/stdout, as an interactive shell would.
    const cmd = `docker exec -it cli-tty sh -c 'if [ -t 0 ] && [ -t 1 ]; then echo tty-$((6*7)); fi; exit 3'`;
    const r = await runClient("script", ["-qec", cmd, "/dev/null"], { env, timeoutMs: 30_000 });
    assert.match(r.stdout, /tty-42\r?\n/, r.stderr);
    assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
  });

  it("docker stats --no-stream reports the container's usage", async () => {
    const run = await dockerSock(["run", "-d", "--name", "cli-stats", tb.image, "sleep", "600"]);
    assert.equal(run.code, 0, run.stderr);
    const r = await dockerSock(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "cli-stats"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^cli-stats \d+(\.\d+)?[kKMG]i?B \/ \S+ \d+\n$/);
  });

  // BuildKit: the docker CLI first on PATH here (28) needs its buildx component for
  // BuildKit and has none; Debian's own CLI (/usr/bin/docker, 20.10, installed with the
  // test bed's docker.io) still carries the BuildKit client, and is used for it below.
  it("docker build with the classic builder (DOCKER_BUILDKIT=0): context upload, RUN, and the image runs", async () => {
    const ctx = mkdtempSync(join(home, "build-"));
    const tag = `rdhpf-built:${process.pid}`;
    try {
      writeFileSync(join(ctx, "Dockerfile"), `FROM ${tb.image}\nCOPY payload.txt /www/payload.txt\nRUN echo built-$((6*7)) > /www/built.txt\n`);
      const payload = "payload ".repeat(200_000);
      writeFileSync(join(ctx, "payload.txt"), payload);
      const b = await dockerSock(["build", "-q", "-t", tag, ctx], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 120_000 });
      assert.equal(b.code, 0, b.stderr);
      console.log(`docker build (classic, ${(payload.length / 1e6).toFixed(1)} MB context): ${b.ms} ms`);
      const r = await dockerSock(["run", "--rm", tag, "sh", "-c", "cat /www/built.txt; wc -c < /www/payload.txt"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `built-42\n${payload.length}\n`);
    } finally {
      await tb.docker(["rmi", "-f", tag]);
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it("docker build with BuildKit (Debian's docker CLI 20.10): its /session h2c upgrade passes through the relay", { skip: existsSync(DEBIAN_DOCKER) ? false : `${DEBIAN_DOCKER} not installed` }, async () => {
    const ctx = mkdtempSync(join(home, "buildkit-"));
    const tag = `rdhpf-buildkit:${process.pid}`;
    try {
      writeFileSync(join(ctx, "Dockerfile"), `FROM ${tb.image}\nCOPY payload.txt /www/payload.txt\nRUN echo buildkit-$((6*7)) > /www/built.txt\n`);
      const payload = "buildkit ".repeat(100_000);
      writeFileSync(join(ctx, "payload.txt"), payload);
      const b = await runClient(DEBIAN_DOCKER, ["build", "--progress", "plain", "-t", tag, ctx], { env: { ...env, DOCKER_BUILDKIT: "1" }, timeoutMs: 180_000 });
      assert.equal(b.code, 0, `${b.stdout}\n${b.stderr}`);
      // BuildKit's plain progress (on stderr) names its steps: proof that the BuildKit path, not the classic builder, ran.
      assert.match(b.stderr, /#\d+ \[\d\/\d\] RUN echo buildkit/);
      console.log(`docker build (BuildKit, ${(payload.length / 1e6).toFixed(1)} MB context): ${b.ms} ms`);
      const r = await dockerSock(["run", "--rm", tag, "sh", "-c", "cat /www/built.txt; wc -c < /www/payload.txt"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `buildkit-42\n${payload.length}\n`);
    } finally {
      await tb.docker(["rmi", "-f", tag]);
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it("ends docker logs -f and docker events within seconds when the master is SIGKILLed; the next command succeeds", async () => {
    const run = await dockerSock(["run", "-d", "--name", "cli-stream", tb.image, "sh", "-c", "while true; do echo tick; sleep 0.2; done"]);
    assert.equal(run.code, 0, run.stderr);
    const streams: Array<{ what: string; child: ChildProcess; out: string; ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> }> = [];
    for (const args of [["logs", "-f", "cli-stream"], ["events", "--format", "{{.Type}} {{.Action}}"]]) {
      const child = spawn("docker", args, { env, stdio: ["ignore", "pipe", "pipe"] });
      const s = { what: `docker ${args[0]}`, child, out: "", ended: new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() }))) };
      child.stdout!.on("data", (d) => (s.out += d));
      child.stderr!.on("data", (d) => (s.out += d));
      streams.push(s);
    }
    try {
      await waitFor("docker logs -f to stream", () => streams[0]!.out.includes("tick\ntick\n"), 10_000);
      // An event through the running `docker events`, so that its stream is known to be live.
      assert.equal((await dockerSock(["pause", "cli-stream"])).code, 0);
      assert.equal((await dockerSock(["unpause", "cli-stream"])).code, 0);
      await waitFor("docker events to stream", () => streams[1]!.out.includes("container unpause"), 10_000);

      const masterPid = masterPidOf(daemon);
      assert.ok(masterPid);
      const killedAt = Date.now();
      process.kill(masterPid, "SIGKILL");
      const timeout = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 10_000));
      for (const s of streams) {
        const end = await Promise.race([s.ended, timeout]);
        assert.notEqual(end, "hung", `${s.what} still runs 10 s after the master was killed`);
        if (end !== "hung") console.log(`${s.what} ended ${end.at - killedAt} ms after the master SIGKILL (exit ${end.code})`);
      }
      const after = await dockerSock(["ps", "--format", "{{.Names}}"], { timeoutMs: 40_000 });
      assert.equal(after.code, 0, after.stderr);
      assert.match(after.stdout, /cli-stream/);
      assert.notEqual(masterPidOf(daemon), masterPid);
    } finally {
      for (const s of streams) s.child.kill("SIGKILL");
    }
  });
});
