/**
 * The start hold, end to end: through rdhpf's Docker socket, `docker run -d
 * -p P:80 … && connect to 127.0.0.1:P` finds the port at the FIRST try (the
 * forward is there; whether httpd in the container is already up to answer
 * is counted and printed, not asserted: that is the container's business), and
 * `docker start`/`docker restart` likewise. The same loop with
 * `--no-start-hold` (the event path alone) is measured for comparison, not
 * asserted. Prints the time the hold adds to `docker run -d` and the time
 * of `docker ps` and of a raw `GET /containers/json` with and without it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { type DockerRun, docker as dockerCli } from "./_docker_cli.ts";
import { percentile, runThenConnectOnce, tryOnce } from "./_first_try.ts";
import { cleanEnv, Daemon, freePort, requireBinary } from "./_harness.ts";

/** The docker CLI through rdhpf's socket at `socketPath`. */
const docker = (socketPath: string, configDir: string, args: string[]) => dockerCli(`unix://${socketPath}`, configDir, args);

const skip = testbedSkipReason("start hold tests");
const RUNS = 30;
const TESTCONTAINERS_RUNS = 50;

/** One raw `GET /v1.41/containers/json` on a new connection to the socket; its time in ms. */
function rawList(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({ socketPath, path: "/v1.41/containers/json", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - started));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the start hold on rdhpf's Docker socket (compiled binary, real sshd + dockerd, real docker CLI)", { skip }, () => {
  let tb: Testbed;
  let configDir: string;
  let daemon: Daemon | null = null;
  const measured: Record<string, { runMs: number[]; firstTry: number }> = {};

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    configDir = mkdtempSync(join(tmpdir(), "rdhpf-docker-config-"));
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  async function startDaemon(args: string[]): Promise<string> {
    daemon = new Daemon(tb, args);
    await daemon.waitForLog(/docker events stream started/, 30_000);
    return (await daemon.status()).docker.client_socket!;
  }

  it(`answers on 127.0.0.1:P at the first try after docker run -d -p P:80, ${RUNS} of ${RUNS}`, async () => {
    const socketPath = await startDaemon([]);
    const { firstTry, answered, runMs, runtimeFailures } = await runThenConnectOnce((args) => docker(socketPath, configDir, args), tb.image, "hold", RUNS);
    if (runtimeFailures > 0) console.log(`${runtimeFailures} docker run failed in runc (dockerd's error) and were retried`);
    measured.on = { runMs, firstTry };
    console.log(`start hold on: ${firstTry} of ${RUNS} connected at the first try, ${answered} of ${RUNS} got httpd's answer on it; docker run -d p50 ${percentile(runMs, 50)} ms, p99 ${percentile(runMs, 99)} ms`);
    if (firstTry < RUNS) console.log(daemon!.logs().split("\n").filter((l) => /start response|Released/.test(l)).join("\n"));
    assert.equal(firstTry, RUNS);
  });

  it("holds docker start and docker restart too", async () => {
    const socketPath = (await daemon!.status()).docker.client_socket!;
    const port = await freePort();
    const created = await docker(socketPath, configDir, ["create", "--name", "hold-start", "-p", `${port}:80`, tb.image]);
    assert.equal(created.code, 0, created.stderr);
    try {
      for (const step of [["start"], ["stop", "-t", "0"], ["start"], ["restart", "-t", "0"]]) {
        let r = await docker(socketPath, configDir, [...step, "hold-start"]);
        // As in runThenConnectOnce: runc's failures on a loaded machine are retried.
        for (let retry = 0; r.code !== 0 && /OCI runtime create failed/.test(r.stderr) && retry < 3; retry++) r = await docker(socketPath, configDir, [...step, "hold-start"]);
        assert.equal(r.code, 0, r.stderr);
        if (step[0] !== "stop") assert.equal((await tryOnce(port)).connected, true, `port ${port} refused at the first try after docker ${step[0]}`);
      }
    } finally {
      await docker(socketPath, configDir, ["rm", "-f", "hold-start"]);
    }
  });

  it("has every port of a 3-service docker-compose up -d answer at the first try", async () => {
    const socketPath = (await daemon!.status()).docker.client_socket!;
    const ports = [await freePort(), await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-compose-"));
    const file = join(dir, "docker-compose.yml");
    writeFileSync(file, `version: "2.4"\nservices:\n${ports.map((p, i) => `  web${i}:\n    image: ${tb.image}\n    ports: ["${p}:80"]\n`).join("")}`);
    const compose = (args: string[]) => new Promise<DockerRun>((resolve) => {
      const started = performance.now();
      const child = spawn("docker-compose", ["-p", "rdhpfhold", "-f", file, ...args], { env: { ...cleanEnv(), DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONFIG: configDir }, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c));
      child.stderr.on("data", (c: Buffer) => (stderr += c));
      child.on("close", (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
    });
    try {
      const up = await compose(["up", "-d"]);
      assert.equal(up.code, 0, up.stderr);
      const attempts = await Promise.all(ports.map((p) => tryOnce(p)));
      console.log(`docker-compose up -d of 3 services: ${Math.round(up.ms)} ms; ${attempts.filter((a) => a.connected).length} of 3 connected at the first try`);
      assert.deepEqual(attempts.map((a) => a.connected), [true, true, true]);
    } finally {
      await compose(["down", "-t", "0"]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`passes Testcontainers' start with a wait strategy of ONE connection attempt, ${TESTCONTAINERS_RUNS} of ${TESTCONTAINERS_RUNS}`, async () => {
    const socketPath = (await daemon!.status()).docker.client_socket!;
    const r = await new Promise<DockerRun>((resolve) => {
      const started = performance.now();
      // Testcontainers runs on Node; Ryuk (its reaper image) is not on the test bed, and the ports are on 127.0.0.1.
      const child = spawn("node", [join(import.meta.dirname, "_testcontainers_once.mjs"), tb.image, String(TESTCONTAINERS_RUNS)], {
        env: { ...cleanEnv(), DOCKER_HOST: `unix://${socketPath}`, TESTCONTAINERS_RYUK_DISABLED: "true", TESTCONTAINERS_HOST_OVERRIDE: "127.0.0.1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c));
      child.stderr.on("data", (c: Buffer) => (stderr += c));
      child.on("close", (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
    });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { passed: number; count: number; failures: string[] };
    console.log(`Testcontainers, one connection attempt: ${result.passed} of ${result.count} passed in ${Math.round(r.ms)} ms ${result.failures.length ? JSON.stringify(result.failures) : ""}`);
    assert.equal(result.passed, TESTCONTAINERS_RUNS);
  });

  it("counts the holds and the time they added in rdhpf status", async () => {
    const h = (await daemon!.status()).start_hold;
    console.log(`status start_hold: ${JSON.stringify(h)}`);
    assert.equal(h.enabled, true);
    assert.ok(h.holds >= RUNS + 6 + TESTCONTAINERS_RUNS, `${h.holds} holds`);
    assert.equal(h.ready + h.nothing_to_wait_for + h.timeouts + h.errors, h.holds);
    assert.ok(h.ready >= RUNS + TESTCONTAINERS_RUNS, `${h.ready} ready`);
    assert.notEqual(h.added_ms.p50, null);
    assert.equal(await daemon!.stop(), 0);
    daemon!.cleanup();
    daemon = null;
  });

  it("without it (--no-start-hold): the same loop, measured for comparison", async () => {
    const socketPath = await startDaemon(["--no-start-hold"]);
    const { firstTry, answered, runMs } = await runThenConnectOnce((args) => docker(socketPath, configDir, args), tb.image, "nohold", RUNS);
    measured.off = { runMs, firstTry };
    console.log(`start hold off: ${firstTry} of ${RUNS} connected at the first try (${RUNS - firstTry} refused), ${answered} of ${RUNS} got httpd's answer; docker run -d p50 ${percentile(runMs, 50)} ms, p99 ${percentile(runMs, 99)} ms`);
    const h = (await daemon!.status()).start_hold;
    assert.equal(h.enabled, false);
    assert.equal(h.holds, 0);
  });

  it("prints what the hold costs: docker run -d (the loops above), and docker ps and a raw list on both sockets in turns", async () => {
    const { on, off } = measured;
    assert.ok(on && off, "both loops ran");
    console.log(`docker run -d (loops above, minutes apart): hold on p50 ${percentile(on.runMs, 50)} ms, p99 ${percentile(on.runMs, 99)} ms; off p50 ${percentile(off.runMs, 50)} ms, p99 ${percentile(off.runMs, 99)} ms`);
    // A second rdhpf with the hold on, forwarding nothing (so the two do not compete for ports), beside
    // the one without: both sockets are used in turns, so the machine's load falls on both alike.
    const holding = new Daemon(tb, ["--include-ports", "1"]);
    try {
      await holding.waitForLog(/docker events stream started/, 30_000);
      const sockets = { on: (await holding.status()).docker.client_socket!, off: (await daemon!.status()).docker.client_socket! };
      assert.notEqual(sockets.on, sockets.off);
      const times = { on: { ps: [] as number[], raw: [] as number[] }, off: { ps: [] as number[], raw: [] as number[] } };
      for (let block = 0; block < 10; block++) {
        for (const which of ["on", "off"] as const) {
          for (let i = 0; i < 2; i++) times[which].ps.push((await docker(sockets[which], configDir, ["ps"])).ms);
          for (let i = 0; i < 20; i++) times[which].raw.push(await rawList(sockets[which]));
        }
      }
      for (const [what, key] of [["docker ps", "ps"], ["GET /containers/json (new connection)", "raw"]] as const) {
        const [a, b] = [times.on[key], times.off[key]];
        console.log(`${what}, in turns: hold on p50 ${percentile(a, 50)} ms, p99 ${percentile(a, 99)} ms; off p50 ${percentile(b, 50)} ms, p99 ${percentile(b, 99)} ms; p50 difference ${Math.round((percentile(a, 50) - percentile(b, 50)) * 10) / 10} ms over ${a.length} each`);
      }
    } finally {
      await holding.stop();
      holding.cleanup();
    }
  });
});
