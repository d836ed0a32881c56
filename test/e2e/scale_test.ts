/**
 * End-to-end: a host that publishes a thousand ports, and --max-forwards,
 * through the compiled binary against a real remote Docker host. The test
 * bed's dockerd runs without docker-proxy (--userland-proxy=false): with it,
 * 1,000 ports would start 1,000 proxy processes on the remote side, which
 * is not what this test measures. Prints its measurements.
 *
 * Local ports of this file: 36000-36999 and 37000-37099.
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import type { StatusDocument } from "../../src/status/schema.ts";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, httpGet, localListeners, rdhpf, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("end-to-end scale tests");

const BIG_FROM = 36000;
const BIG_PORTS = 1000;
const BIG_TO = BIG_FROM + BIG_PORTS - 1;

/** Local listeners ("addr:port") on ports from..to. */
async function listenersIn(from: number, to: number): Promise<string[]> {
  return (await localListeners()).filter((l) => {
    const port = Number(l.slice(l.lastIndexOf(":") + 1));
    return port >= from && port <= to;
  });
}

/** Wall time of `rdhpf status` in the given format, and its output. */
async function timedStatus(d: Daemon, format: "json" | "table"): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  const r = await rdhpf(["status", "--host", d.tb.alias, "-F", d.tb.sshConfigFile, "--format", format], { RDHPF_STATE_DIR: d.stateDir });
  const ms = performance.now() - t0;
  assert.ok(r.code === 0 || r.code === 1, `rdhpf status exited ${r.code}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

function parseStatus(stdout: string): StatusDocument {
  const json = JSON.parse(stdout);
  return json.instances ? json.instances[0] : json;
}

/** "Max open files" soft and hard limit of a process (Linux). */
function openFileLimit(pid: number): string {
  const line = readFileSync(`/proc/${pid}/limits`, "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  return line ? line.replace(/^Max open files\s+/, "").replace(/\s+files\s*$/, "").replace(/\s+/g, " soft, ") + " hard" : "unknown";
}

describe("a thousand published ports (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon | null = null;
  const containers: string[] = [];

  before(async () => {
    requireBinary();
    tb = await startTestbed({ userlandProxy: false });
  });

  afterEach(async () => {
    await daemon?.stop("SIGTERM");
    daemon?.cleanup();
    daemon = null;
    if (containers.length > 0) await tb.docker(["rm", "-f", ...containers.splice(0)]);
  });

  after(async () => {
    await tb?.stop();
  });

  it("forwards 1,000 ports on both loopbacks within 5 s, reports them all, and frees them all on removal", async () => {
    daemon = new Daemon(tb, ["--log-level", "debug"]);
    await daemon.waitForLog(/docker events stream started/, 15_000);

    // 999 ports map to the same container port (nothing listens there) and one to httpd, to prove traffic flows.
    const tRun = performance.now();
    const run = await tb.docker(["run", "-d", "--name", "many", "-p", `${BIG_FROM}-${BIG_TO - 1}:${BIG_FROM}-${BIG_TO - 1}`, "-p", `${BIG_TO}:80`, tb.image]);
    assert.equal(run.code, 0, run.stderr);
    containers.push("many");
    const dockerRunMs = performance.now() - tRun;
    const tReturned = performance.now();

    await waitFor(`${BIG_PORTS * 2} listeners on ${BIG_FROM}-${BIG_TO}`, async () => (await listenersIn(BIG_FROM, BIG_TO)).length === BIG_PORTS * 2, 60_000, 50)
      .catch((err) => { throw new Error(`${(err as Error).message}\nlogs (tail):\n${daemon!.logs().slice(-4000)}`); });
    const allUpMs = performance.now() - tReturned;
    assert.ok(await httpGet(BIG_TO), "the forward to httpd answers on 127.0.0.1");
    assert.ok(await httpGet(BIG_TO, "::1"), "and on ::1");

    const json = await timedStatus(daemon, "json");
    const doc = parseStatus(json.stdout);
    const rows = doc.forwards.filter((f) => f.local_port >= BIG_FROM && f.local_port <= BIG_TO);
    assert.equal(rows.length, BIG_PORTS);
    assert.ok(rows.every((r) => r.state === "active" && r.local_addresses.length === 2), "every row active on two addresses");
    assert.equal(doc.state, "connected");
    const table = await timedStatus(daemon, "table");
    assert.match(table.stdout, new RegExp(`${BIG_TO}`));

    // Each add's latency runs from the Docker event that triggered it: the last one is the whole reconcile.
    const reconcileMs = doc.latency_ms.p99;
    assert.ok(reconcileMs !== null && reconcileMs < 5000, `reconcile took ${reconcileMs} ms (bound 5000)`);
    // The debug line "Mux forward" sums up each batch, sent over one connection to the master's control socket.
    const muxLines = daemon.logs().split("\n").filter((l) => l.includes('msg="Mux forward" '));
    const field = (l: string, k: string) => Number(new RegExp(` ${k}=(\\d+)`).exec(l)?.[1] ?? Number.NaN);
    const big = muxLines.sort((a, b) => field(b, "specs") - field(a, "specs"))[0];
    assert.ok(big && field(big, "specs") > 200, `a mux forward of more than 200 specs:\n${muxLines.join("\n")}`);
    const specs = field(big, "specs");

    const masterPid = doc.ssh.master_pid!;
    const masterFds = readdirSync(`/proc/${masterPid}/fd`).length;

    const tRm = performance.now();
    const rm = await tb.docker(["rm", "-f", "many"]);
    assert.equal(rm.code, 0, rm.stderr);
    containers.splice(0);
    const dockerRmMs = performance.now() - tRm;
    const tRemoved = performance.now();
    await waitFor(`no listener left on ${BIG_FROM}-${BIG_TO}`, async () => (await listenersIn(BIG_FROM, BIG_TO)).length === 0, 60_000, 50);
    const allFreedMs = performance.now() - tRemoved;
    const after = parseStatus((await timedStatus(daemon, "json")).stdout);
    assert.equal(after.forwards.filter((f) => f.local_port >= BIG_FROM && f.local_port <= BIG_TO).length, 0);

    console.log([
      `scale: ${BIG_PORTS} ports x 2 loopbacks`,
      `  docker run took ${dockerRunMs.toFixed(0)} ms; all ${BIG_PORTS * 2} listeners up ${allUpMs.toFixed(0)} ms after it returned`,
      `  reconcile (event -> last forward added, status latency p99) ${reconcileMs} ms; largest batch ${specs} specs in one mux exchange taking ${field(big, "durationMs")} ms`,
      `  rdhpf status wall time: json ${json.ms.toFixed(0)} ms (${json.stdout.length} bytes), table ${table.ms.toFixed(0)} ms`,
      `  ssh master pid ${masterPid}: ${masterFds} open fds, open-file limit ${openFileLimit(masterPid)}; rdhpf: ${openFileLimit(daemon.pid)}`,
      `  docker rm -f took ${dockerRmMs.toFixed(0)} ms; all listeners freed ${allFreedMs.toFixed(0)} ms after it returned`,
    ].join("\n"));
  });

  it("--max-forwards 10 forwards the 10 lowest of 15 ports and shows the other 5 as ignored, with one warning", async () => {
    const run = await tb.docker(["run", "-d", "--name", "capped", "-p", "37000-37014:37000-37014", tb.image]);
    assert.equal(run.code, 0, run.stderr);
    containers.push("capped");
    daemon = new Daemon(tb, ["--max-forwards", "10"]);
    const d = daemon;
    const rows = await waitFor("15 status rows", async () => {
      const doc = await d.status();
      const mine = doc.forwards.filter((f) => f.container_name === "capped");
      return mine.length === 15 && mine.filter((f) => f.state === "active").length === 10 ? mine : null;
    }, 20_000).catch((err) => { throw new Error(`${(err as Error).message}\nlogs:\n${d.logs()}`); });
    const byState = (s: string) => rows.filter((r) => r.state === s).map((r) => r.local_port).sort((a, b) => a - b);
    assert.deepEqual(byState("active"), [37000, 37001, 37002, 37003, 37004, 37005, 37006, 37007, 37008, 37009]);
    assert.deepEqual(byState("ignored"), [37010, 37011, 37012, 37013, 37014]);
    for (const r of rows.filter((x) => x.state === "ignored")) assert.match(r.reason ?? "", /limit of 10 forwards .*--max-forwards/);
    assert.equal((await listenersIn(37000, 37014)).length, 20, "10 ports on two loopbacks, nothing for the excess");
    const table = await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: d.stateDir });
    assert.match(table.stdout, /37014[\s\S]*ignored/);
    assert.equal(d.logs().split("\n").filter((l) => l.includes("More published ports than --max-forwards")).length, 1, `one warning:\n${d.logs()}`);
  });
});
