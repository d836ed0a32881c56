/**
 * End-to-end: `rdhpf status` and `rdhpf wait` of the compiled binary against
 * running daemons on real test beds: every format, every exit status, the
 * live and the stale path, several instances, `--watch`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { request } from "node:http";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import YAML from "yaml";
import { StatusDocumentSchema } from "../../src/status/schema.ts";
import { InstanceReportSchema, StatusListReportSchema } from "../../src/status/view.ts";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { BINARY, cleanEnv, Daemon, type ExecResult, httpGet, rdhpf, requireBinary, waitFor } from "./_harness.ts";
import { assertStatusIsTruth } from "./_truth.ts";

const skip = testbedSkipReason("end-to-end status tests");
const PORTS: [number, number] = [27000, 27099];

interface MetricSample { name: string; labels: Record<string, string>; value: number }

/** Reads an OpenMetrics exposition line by line; throws at the first line that is not valid. */
function parseOpenMetricsLines(text: string): MetricSample[] {
  assert.ok(text.endsWith("# EOF\n"), "ends with # EOF");
  const samples: MetricSample[] = [];
  const lines = text.slice(0, -1).split("\n");
  lines.pop();
  for (const line of lines) {
    if (/^# (TYPE|UNIT|HELP) [a-zA-Z_:][a-zA-Z0-9_:]*( .*)?$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not an OpenMetrics line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k!] = v!.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const value = m[3] === "NaN" ? Number.NaN : Number(m[3]);
    assert.ok(!Number.isNaN(value) || m[3] === "NaN", `bad value in ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

function metric(samples: MetricSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** GET /status on a control socket; resolves the time to the full answer. */
function timeControlRequest(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ socketPath, path: "/status", method: "GET" }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("rdhpf status and wait (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  const status = (args: string[], over: { tb?: Testbed; dir?: string } = {}): Promise<ExecResult> => {
    const bed = over.tb ?? tb;
    return rdhpf(["status", "--host", bed.alias, "-F", bed.sshConfigFile, ...args], { RDHPF_STATE_DIR: over.dir ?? daemon.stateDir });
  };
  const statusAll = (args: string[]) => rdhpf(["status", ...args], { RDHPF_STATE_DIR: daemon.stateDir });
  const truth = (timeoutMs = 3000) => assertStatusIsTruth(daemon, tb, { timeoutMs, ports: PORTS });

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    const r = await tb.docker(["run", "-d", "--name", "web", "-p", "27001:80", tb.image]);
    assert.equal(r.code, 0, r.stderr);
    daemon = new Daemon(tb);
    await waitFor("web forwarded", () => httpGet(27001), 15_000);
    await truth();
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await tb?.stop();
  });

  it("prints a JSON document that the schema accepts, live, with containers and counters; exit 0 when healthy", async () => {
    const r = await status(["--format", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = InstanceReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(doc.live, true);
    assert.equal(doc.stale_age_s, null);
    assert.equal(doc.host, tb.alias);
    assert.equal(doc.state, "connected");
    assert.ok(doc.forwards.some((f) => f.local_port === 27001 && f.state === "active" && f.container_name === "web"));
    assert.deepEqual(doc.containers.map((c) => [c.name, c.published_tcp_ports]), [["web", [27001]]]);
    assert.ok(doc.forwards_added_total >= 1);
    assert.equal(doc.ssh.connections_opened, 1);
  });

  it("prints YAML that parses to the same data as the JSON", async () => {
    const [j, y] = await Promise.all([status(["--format", "json"]), status(["--format", "yaml"])]);
    assert.equal(y.code, 0, y.stderr);
    const fromJson = JSON.parse(j.stdout);
    const fromYaml = YAML.parse(y.stdout);
    // Two separate answers: only the time of the last change may differ (a resync between them).
    delete fromJson.updated_at;
    delete fromYaml.updated_at;
    assert.deepEqual(fromYaml, fromJson);
    StatusDocumentSchema.parse({ ...fromYaml, updated_at: new Date().toISOString() });
  });

  it("prints a table that fits 100 columns, without colour to a pipe", async () => {
    const r = await status([]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${tb.alias} {2}connected\\n`));
    assert.match(r.stdout, /\n {2}containers {2}1 running, 1 with published TCP ports\n/);
    assert.match(r.stdout, /\n {2}web +[0-9a-f]{12} {2}127\.0\.0\.1,\[::1\]:27001 +127\.0\.0\.1:27001 +tcp +active /);
    assert.doesNotMatch(r.stdout, /\x1b/);
    for (const line of r.stdout.split("\n")) assert.ok([...line].length <= 100, `too wide: ${line}`);
  });

  it("prints OpenMetrics that parses line by line with the documented figures", async () => {
    const r = await status(["--format", "openmetrics"]);
    assert.equal(r.code, 0, r.stderr);
    const samples = parseOpenMetricsLines(r.stdout);
    const host = { host: tb.alias };
    assert.equal(metric(samples, "rdhpf_up", host), 1);
    assert.equal(metric(samples, "rdhpf_state", { ...host, rdhpf_state: "connected" }), 1);
    assert.equal(metric(samples, "rdhpf_forwards", { ...host, state: "active" }), 1);
    assert.equal(metric(samples, "rdhpf_containers", host), 1);
    assert.equal(metric(samples, "rdhpf_ssh_connections_opened_total", host), 1);
    assert.ok(metric(samples, "rdhpf_forwards_added_total", host)! >= 1);
    assert.ok(metric(samples, "rdhpf_forward_add_latency_seconds_count", host)! >= 0, "the add-latency histogram is exposed");
  });

  it("gets the live answer from the daemon within 200 ms", async () => {
    const sock = readdirSync(daemon.stateDir).find((f) => f.endsWith(".api.sock"));
    assert.ok(sock, "control socket in the runtime dir");
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push(await timeControlRequest(join(daemon.stateDir, sock)));
    assert.ok(Math.max(...times) < 200, `answers took ${times.map((t) => t.toFixed(1)).join(", ")} ms`);
  });

  it("exits 2 for a usage error, before asking anyone", async () => {
    const bad = await status(["--format", "xml"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /xml/);
    const badHost = await rdhpf(["status", "--host", "ssh://a b"], { RDHPF_STATE_DIR: daemon.stateDir });
    assert.equal(badHost.code, 2, badHost.stderr);
  });

  it("exits 3 while a forward is in conflict, and 0 again once it is resolved", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(27002, "127.0.0.1", r));
    try {
      assert.equal((await tb.docker(["run", "-d", "--name", "busy", "-p", "27002:80", tb.image])).code, 0);
      const r = await waitFor("status exit 3", async () => {
        const res = await status([]);
        return res.code === 3 ? res : null;
      }, 5000);
      assert.match(r.stdout, new RegExp(`^${tb.alias} {2}degraded\\n`));
      assert.match(r.stdout, /\n {2}busy +[0-9a-f]{12} .*:27002 .* conflict /);
      assert.match(r.stdout, /reason: local port 27002 is in use by pid \d+/);
      await truth();
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    await tb.docker(["rm", "-f", "busy"]);
    await waitFor("status exit 0", async () => (await status([])).code === 0, 5000);
    await truth();
  });

  it("exits 3 while reconnecting after a network cut, and 0 once reconnected", async () => {
    const before = InstanceReportSchema.parse(JSON.parse((await status(["--format", "json"])).stdout));
    await tb.setLinkUp(false);
    try {
      // The cut alone goes unnoticed until keepalives fail; ending the master makes rdhpf reconnect now.
      process.kill(before.ssh.master_pid!, "SIGKILL");
      const r = await waitFor("status exit 3 reconnecting", async () => {
        const res = await status(["--format", "json"]);
        return res.code === 3 && JSON.parse(res.stdout).state === "reconnecting" ? res : null;
      }, 5000);
      const doc = InstanceReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(doc.ssh.connected, false);
      assert.deepEqual(doc.forwards.filter((f) => f.state === "active"), []);
      assert.deepEqual(doc.containers, []);
      assert.match((await status([])).stdout, new RegExp(`^${tb.alias} {2}reconnecting\\n(.*\\n)* {2}ssh {9}not connected`));
    } finally {
      await tb.setLinkUp(true);
    }
    await waitFor("status exit 0 after reconnecting", async () => (await status([])).code === 0, 30_000);
    await truth(5000);
  });

  it("`wait` returns 0 once a new port answers through the tunnel", async () => {
    const started = Date.now();
    const [run, waited] = await Promise.all([
      tb.docker(["run", "-d", "--name", "late", "-p", "27003:80", tb.image]),
      rdhpf(["wait", "--host", tb.alias, "-F", tb.sshConfigFile, "--port", "27003", "--timeout", "20s"], { RDHPF_STATE_DIR: daemon.stateDir }, 25_000),
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /^rdhpf wait: ready after \d+ ms: 127\.0\.0\.1:27003 \(late\)\n$/);
    assert.ok(await httpGet(27003));
    assert.ok(Date.now() - started < 20_000);
    await tb.docker(["rm", "-f", "late"]);
    await truth();
  });

  it("`wait` exits 1 on timeout, saying what is missing and why", async () => {
    const r = await rdhpf(["wait", "--host", tb.alias, "-F", tb.sshConfigFile, "--port", "27999", "--container", "ghost", "--timeout", "1s"], { RDHPF_STATE_DIR: daemon.stateDir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^rdhpf wait: timed out after 1s; still missing:\n/);
    assert.match(r.stderr, /\n {2}port 27999\b.*\n/);
    assert.match(r.stderr, /\n {2}container ghost: no running container of that name/);
  });

  it("keeps names that look like YAML booleans, numbers or null strings, and cuts long names to fit", async () => {
    // Docker allows only [a-zA-Z0-9][a-zA-Z0-9_.-]* in names and rdhpf puts no label text into the
    // status, so control characters cannot come from a real engine: the table's escaping of them
    // is pinned by src/status/format_table_test.ts.
    const long = `a${"b".repeat(119)}`;
    const names = ["yes", "null", "1e3", "0o17", long];
    for (const [i, name] of names.entries()) {
      const r = await tb.docker(["run", "-d", "--name", name, "-p", `${27010 + i}:80`, tb.image]);
      assert.equal(r.code, 0, r.stderr);
    }
    try {
      await truth();
      const y = await status(["--format", "yaml"]);
      const doc = YAML.parse(y.stdout) as { forwards: Array<{ container_name: unknown }>; containers: Array<{ name: unknown }> };
      for (const name of names) {
        assert.ok(doc.containers.some((c) => c.name === name), `container ${name} as a string`);
        assert.ok(doc.forwards.some((f) => f.container_name === name), `forward of ${name} as a string`);
      }
      const table = (await status([])).stdout;
      for (const line of table.split("\n")) assert.ok([...line].length <= 100, `too wide: ${line}`);
      assert.match(table, /\n {2}ab+… +[0-9a-f]{12} {2}127\.0\.0\.1,\[::1\]:27014 /);
      assert.doesNotMatch(table, new RegExp(long));
    } finally {
      await tb.docker(["rm", "-f", ...names]);
    }
    await truth();
  });

  it("--watch redraws every second until SIGINT, then exits 0", async () => {
    const child = spawn(BINARY, ["status", "--watch", "--host", tb.alias, "-F", tb.sshConfigFile, "--format", "json"], {
      env: { ...cleanEnv(), RDHPF_STATE_DIR: daemon.stateDir }, stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    let out = "";
    const arrivals: number[] = [];
    child.stdout!.on("data", (d) => {
      out += d;
      while (arrivals.length < out.split("\n").length - 1) arrivals.push(Date.now());
    });
    try {
      await waitFor("three frames", () => arrivals.length >= 3, 6000);
      const frames = out.split("\n").filter(Boolean).slice(0, 3).map((l) => InstanceReportSchema.parse(JSON.parse(l)));
      assert.ok(frames.every((f) => f.live && f.host === tb.alias));
      const gaps = [arrivals[1]! - arrivals[0]!, arrivals[2]! - arrivals[1]!];
      assert.ok(gaps.every((g) => g >= 700 && g <= 2500), `frames ${gaps.join(", ")} ms apart`);
      child.kill("SIGINT");
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 3000))]);
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("shows every instance without --host, and picks one with --host given as alias or ssh:// URL", async () => {
    const tb2 = await startTestbed();
    let other: Daemon | null = null;
    try {
      assert.equal((await tb2.docker(["run", "-d", "--name", "web2", "-p", "27030:80", tb2.image])).code, 0);
      other = new Daemon(tb2, [], { stateDir: daemon.stateDir });
      await waitFor("second instance forwards", () => httpGet(27030), 15_000);
      // The first instance's forwards share this machine's loopback: judge only the second one's ports.
      await assertStatusIsTruth(other, tb2, { timeoutMs: 3000, ports: [27030, 27039] });

      const all = await statusAll(["--format", "json"]);
      assert.equal(all.code, 0, all.stderr);
      const list = StatusListReportSchema.parse(JSON.parse(all.stdout));
      assert.deepEqual(list.instances.map((i) => [i.host, i.live]).sort(), [[tb.alias, true], [tb2.alias, true]].sort());

      const table = (await statusAll([])).stdout;
      assert.match(table, new RegExp(`^${tb.alias} {2}connected$`, "m"));
      assert.match(table, new RegExp(`^${tb2.alias} {2}connected$`, "m"));
      assert.match(table, /\n\n\S/, "blocks separated by a blank line");

      const picked = InstanceReportSchema.parse(JSON.parse((await status(["--format", "json"], { tb: tb2 })).stdout));
      assert.equal(picked.host, tb2.alias);
      assert.deepEqual(picked.containers.map((c) => c.name), ["web2"]);

      // The URL form resolves (ssh -G) to the same user, host and port as the alias `run` was given.
      const byUrl = await rdhpf(["status", "--host", tb.target, "-F", tb.sshConfigFile, "--format", "json"], { RDHPF_STATE_DIR: daemon.stateDir });
      assert.equal(byUrl.code, 0, byUrl.stderr);
      assert.equal(InstanceReportSchema.parse(JSON.parse(byUrl.stdout)).host, tb.alias);

      // A stopped instance beside a live one is shown stale and does not change the exit status.
      assert.equal(await other.stop(), 0);
      const after = await statusAll(["--format", "json"]);
      assert.equal(after.code, 0, after.stderr);
      const rows = StatusListReportSchema.parse(JSON.parse(after.stdout)).instances.map((i) => [i.host, i.live, i.state]);
      assert.deepEqual(rows, [[tb.alias, true, "connected"], [tb2.alias, false, "stopping"]]);
    } finally {
      await other?.stop();
      await tb2.stop();
    }
  });

  it("shows the last state marked stale, with its age, and exits 1 after the daemon was killed", async () => {
    const live = InstanceReportSchema.parse(JSON.parse((await status(["--format", "json"])).stdout));
    process.kill(daemon.pid, "SIGKILL");
    await daemon.exited;
    try {
      const table = await status([]);
      assert.equal(table.code, 1, table.stderr);
      assert.match(table.stdout, new RegExp(`^${tb.alias} {2}not running {2}\\(last state from \\d+s ago: connected\\)\\n`));
      const json = await status(["--format", "json"]);
      assert.equal(json.code, 1);
      const doc = InstanceReportSchema.parse(JSON.parse(json.stdout));
      assert.equal(doc.live, false);
      assert.equal(doc.unresponsive, false);
      assert.ok(doc.stale_age_s !== null && doc.stale_age_s >= 0 && doc.stale_age_s < 120, `stale_age_s ${doc.stale_age_s}`);
      const metrics = parseOpenMetricsLines((await status(["--format", "openmetrics"])).stdout);
      assert.equal(metric(metrics, "rdhpf_up", { host: tb.alias }), 0);
      assert.equal(metrics.length, 1, "a stopped daemon's figures are not exposed");
      const never = await rdhpf(["status", "--host", "ssh://root@192.0.2.1"], { RDHPF_STATE_DIR: daemon.stateDir });
      assert.equal(never.code, 1);
      assert.match(never.stderr, /rdhpf is not running for ssh:\/\/root@192\.0\.2\.1/);
    } finally {
      // SIGKILL leaves the master behind (the next `run` would end it); end it here.
      if (live.ssh.master_pid) {
        try {
          process.kill(live.ssh.master_pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
    }
  });
});
