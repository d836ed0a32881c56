/**
 * End-to-end: `rdhpf run --metrics-listen` of the compiled binary against a
 * real test bed, checked with the real tools: `promtool check metrics` on the
 * live exposition, and a real `prometheus` that scrapes it and answers a query.
 * Everything listens on 127.0.0.1 only.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { cleanEnv, Daemon, freePort, httpGet, localListeners, rdhpf, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("end-to-end metrics tests");
const OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(3000) });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

/** The uptime sample moves with the clock; every other line must be equal. */
const withoutUptime = (text: string) => text.split("\n").filter((l) => !l.startsWith("rdhpf_uptime_seconds{")).join("\n");

describe("rdhpf run --metrics-listen (compiled binary, real sshd + dockerd, promtool, prometheus)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  let metricsPort: number;
  let base: string;
  const identity = () => daemon.status().then((d) => `${d.resolved!.user}@${d.resolved!.hostname}:${d.resolved!.port}`);

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    assert.equal((await tb.docker(["run", "-d", "--name", "web", "-p", "28401:80", tb.image])).code, 0);
    metricsPort = await freePort();
    base = `http://127.0.0.1:${metricsPort}`;
    daemon = new Daemon(tb, ["--metrics-listen", `127.0.0.1:${metricsPort}`]);
    await waitFor("web forwarded", () => httpGet(28401), 15_000);
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
  });

  it("listens on 127.0.0.1 only", async () => {
    const mine = (await localListeners()).filter((l) => l.endsWith(`:${metricsPort}`));
    assert.deepEqual(mine, [`127.0.0.1:${metricsPort}`]);
  });

  it("serves Prometheus text 0.0.4 by default and OpenMetrics when the Accept header asks for it", async () => {
    const plain = await get(`${base}/metrics`);
    assert.equal(plain.status, 200);
    assert.equal(plain.type, PROMETHEUS_TEXT);
    assert.match(plain.body, /^# TYPE rdhpf_ssh_connections_opened_total counter$/m);
    assert.doesNotMatch(plain.body, /# EOF/);

    const om = await get(`${base}/metrics`, { accept: "application/openmetrics-text; version=1.0.0" });
    assert.equal(om.type, OPENMETRICS);
    assert.match(om.body, /^# TYPE rdhpf_build info$/m);
    assert.ok(om.body.endsWith("# EOF\n"));
  });

  it("serves in OpenMetrics exactly what `rdhpf status --format openmetrics` prints", async () => {
    const om = await get(`${base}/metrics`, { accept: "application/openmetrics-text" });
    const r = await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile, "--format", "openmetrics"], { RDHPF_STATE_DIR: daemon.stateDir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(withoutUptime(r.stdout), withoutUptime(om.body));
    const prom = await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile, "--format", "prometheus"], { RDHPF_STATE_DIR: daemon.stateDir });
    assert.equal(withoutUptime(prom.stdout), withoutUptime((await get(`${base}/metrics`)).body));
  });

  it("counts a forward added on a Docker event in the add-latency histogram, and the log's bytes", async () => {
    assert.equal((await tb.docker(["run", "-d", "--name", "late", "-p", "28403:80", tb.image])).code, 0);
    await waitFor("late forwarded", () => httpGet(28403), 15_000);
    const { body } = await get(`${base}/metrics`);
    const value = (re: RegExp) => Number(re.exec(body)?.[1]);
    const count = value(/^rdhpf_forward_add_latency_seconds_count\{[^}]*\} (\S+)$/m);
    assert.ok(count >= 1, body);
    assert.equal(value(/^rdhpf_forward_add_latency_seconds_bucket\{[^}]*le="\+Inf"\} (\S+)$/m), count);
    assert.ok(value(/^rdhpf_forward_add_latency_seconds_sum\{[^}]*\} (\S+)$/m) > 0);
    // rdhpf logs to stderr here, and writes nothing else there: once quiet, the count equals what we read.
    await waitFor("log bytes equal to the daemon's output", async () => {
      const scraped = Number(/^rdhpf_log_bytes_written_total\{[^}]*\} (\S+)$/m.exec((await get(`${base}/metrics`)).body)?.[1]);
      return scraped > 0 && scraped === Buffer.byteLength(daemon.logs());
    }, 5000, 200);
  });

  it("passes `promtool check metrics` on the live exposition: exit 0, no output", async () => {
    const { body } = await get(`${base}/metrics`);
    const r = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8", timeout: 20_000 });
    assert.equal(`${r.stdout}${r.stderr}`, "");
    assert.equal(r.status, 0);
  });

  it("answers /healthz 200 when healthy, 503 with the port while a forward is in conflict", async () => {
    assert.deepEqual(await get(`${base}/healthz`).then((r) => [r.status, r.body]), [200, "ok\n"]);
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(28402, "127.0.0.1", () => r()));
    try {
      assert.equal((await tb.docker(["run", "-d", "--name", "busy", "-p", "28402:80", tb.image])).code, 0);
      const r = await waitFor("/healthz 503", async () => {
        const res = await get(`${base}/healthz`);
        return res.status === 503 ? res : null;
      }, 15_000);
      assert.equal(r.body, "1 forward(s) in conflict, on local port(s) 28402\n");
    } finally {
      squatter.close();
      await tb.docker(["rm", "-f", "busy"]);
    }
    await waitFor("/healthz 200 again", async () => (await get(`${base}/healthz`)).status === 200, 15_000);
  });

  it("is scraped by a real prometheus, which answers rdhpf_ssh_connections_opened_total with the host labels", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-prometheus-"));
    const webPort = await freePort();
    writeFileSync(join(dir, "prometheus.yml"), [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      "  - job_name: rdhpf",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${metricsPort}"]`,
      "",
    ].join("\n"));
    const prom: ChildProcess = spawn("prometheus", [
      `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${webPort}`, "--log.level=warn",
    ], { env: cleanEnv(), stdio: ["ignore", "ignore", "pipe"], cwd: dir });
    let promLog = "";
    prom.stderr!.on("data", (d) => (promLog += d));
    const exited = new Promise((r) => prom.on("exit", r));
    try {
      type Result = { metric: Record<string, string>; value: [number, string] };
      const query = async (q: string): Promise<Result[]> => {
        const res = await get(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(q)}`);
        const json = JSON.parse(res.body) as { status: string; data: { result: Result[] } };
        assert.equal(json.status, "success");
        return json.data.result;
      };
      const results = await waitFor("prometheus has scraped rdhpf", async () => {
        const r = await query("rdhpf_ssh_connections_opened_total");
        return r.length > 0 ? r : null;
      }, 30_000, 250).catch((err: Error) => assert.fail(`${err.message}\nprometheus log:\n${promLog}`));
      const doc = await daemon.status();
      assert.equal(results.length, 1);
      assert.equal(Number(results[0]!.value[1]), doc.ssh.connections_opened);
      assert.equal(results[0]!.metric.host, tb.alias);
      assert.equal(results[0]!.metric.resolved, await identity());
      assert.equal(results[0]!.metric.job, "rdhpf");
      // Prometheus asks for OpenMetrics: the info family arrives as rdhpf_build_info.
      const build = await query("rdhpf_build_info");
      assert.equal(build.length, 1);
      assert.equal(build[0]!.metric.version, doc.version);
      assert.equal(Number((await query(`up{job="rdhpf"}`))[0]!.value[1]), 1);
      // Prometheus itself listens on loopback only.
      const promListeners = (await localListeners()).filter((l) => l.endsWith(`:${webPort}`));
      assert.deepEqual(promListeners, [`127.0.0.1:${webPort}`]);
    } finally {
      prom.kill("SIGTERM");
      const t = setTimeout(() => prom.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("answers /healthz 503 'not connected' while the connection is down, 200 once back", async () => {
    const before = await daemon.status();
    await tb.setLinkUp(false);
    try {
      // The cut alone goes unnoticed until keepalives fail; ending the master makes rdhpf notice now.
      process.kill(before.ssh.master_pid!, "SIGKILL");
      const r = await waitFor("/healthz 503 not connected", async () => {
        const res = await get(`${base}/healthz`);
        return res.status === 503 && res.body.startsWith("not connected") ? res : null;
      }, 10_000);
      assert.match(r.body, new RegExp(`^not connected to ${tb.alias} \\(state reconnecting\\)`));
      assert.equal(r.body.split("\n").length, 2, "one line");
      // The endpoint answers from the daemon's figures, without waiting on the dead link.
      const started = Date.now();
      assert.match((await get(`${base}/metrics`)).body, /^rdhpf_ssh_connected\{[^}]*\} 0$/m);
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    } finally {
      await tb.setLinkUp(true);
    }
    await waitFor("/healthz 200 after reconnecting", async () => (await get(`${base}/healthz`)).status === 200, 30_000);
    const { body } = await get(`${base}/metrics`);
    assert.match(body, /^rdhpf_ssh_reconnects_total\{[^}]*\} 1$/m);
  });

  it("exits 2 at start, naming --metrics-listen, for a port in use or a bad value", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "rdhpf-e2e-"));
    try {
      const run = (value: string) => rdhpf(["run", "--host", tb.alias, "-F", tb.sshConfigFile, "--metrics-listen", value], { RDHPF_STATE_DIR: stateDir });
      const inUse = await run(`127.0.0.1:${metricsPort}`);
      assert.equal(inUse.code, 2, inUse.stderr);
      assert.match(inUse.stderr, new RegExp(`--metrics-listen 127\\.0\\.0\\.1:${metricsPort}: the port is already in use\\nhint: .*lsof -i :${metricsPort}`));
      const bad = await run("localhost:99999");
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /invalid --metrics-listen "localhost:99999"/);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
