/**
 * End-to-end: port rules, container labels, the config file and
 * --on-conflict, through the compiled binary against a real remote Docker
 * host. Local ports of this file: 29000-29999.
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Server } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakeDockerDir } from "../../src/docker/_fake_docker_cli.ts";
import type { ForwardStatus, StatusDocument } from "../../src/status/schema.ts";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, httpGet, isRefused, rdhpf, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("end-to-end port rule tests");

/** The status rows of the test bed's containers, once the daemon reports every remote port in `ports`. */
async function rowsFor(daemon: Daemon, ports: number[], timeoutMs = 15_000): Promise<Map<number, ForwardStatus>> {
  let last: StatusDocument | null = null;
  return await waitFor(`status rows for remote ports ${ports.join(",")}`, async () => {
    last = await daemon.status();
    const rows = new Map(last.forwards.map((f) => [f.remote_port, f]));
    return ports.every((p) => rows.has(p)) ? rows : null;
  }, timeoutMs).catch((err) => {
    throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(last?.forwards)}\nlogs:\n${daemon.logs()}`);
  });
}

function scratchFile(name: string, content: string): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-e2e-cfg-"));
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A local TCP server that answers "mine" to every connection. */
function ownListener(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((sock) => sock.end("mine\n"));
    s.once("error", reject);
    s.listen({ port, host, exclusive: true }, () => resolve(s));
  });
}

function readLine(port: number, host = "127.0.0.1"): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let data = "";
    sock.on("data", (d) => (data += d));
    sock.on("end", () => resolve(data));
    sock.on("error", () => resolve(null));
    setTimeout(() => { sock.destroy(); resolve(null); }, 1000);
  });
}

const publish = (...ports: number[]) => ports.flatMap((p) => ["-p", `${p}:80`]);

describe("port rules and labels (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon | null = null;
  const containers: string[] = [];

  async function container(name: string, args: string[]): Promise<void> {
    const r = await tb.docker(["run", "-d", "--name", name, ...args, tb.image]);
    assert.equal(r.code, 0, r.stderr);
    containers.push(name);
  }

  async function startDaemon(args: string[]): Promise<Daemon> {
    daemon = new Daemon(tb, args);
    await daemon.waitForLog(/docker events stream started/, 15_000);
    return daemon;
  }

  before(async () => {
    requireBinary();
    tb = await startTestbed();
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

  it("forwards only --include-ports, never --exclude-ports (exclusion wins), and --map REMOTE:LOCAL", async () => {
    await container("rules", publish(29010, 29011, 29012, 29013, 29020, 29030));
    const d = await startDaemon(["--include-ports", "29010-29019,29030", "--exclude-ports", "29012", "--map", "29013:29113"]);
    const rows = await rowsFor(d, [29010, 29011, 29012, 29013, 29020, 29030]);
    const view = (p: number) => { const r = rows.get(p)!; return [r.local_port, r.state, r.reason]; };
    assert.deepEqual(view(29010), [29010, "active", null]);
    assert.deepEqual(view(29030), [29030, "active", null]);
    assert.deepEqual(view(29012), [29012, "ignored", "excluded by --exclude-ports"]);
    assert.deepEqual(view(29020), [29020, "ignored", "not in --include-ports"]);
    assert.deepEqual(view(29013), [29113, "active", null]);
    assert.ok(await httpGet(29010));
    assert.ok(await httpGet(29113), "29013 arrives on local 29113");
    assert.ok(await httpGet(29113, "::1"));
    for (const p of [29012, 29013, 29020]) assert.ok(await isRefused(p), `nothing listens on ${p}`);
  });

  it("leaves a container with label rdhpf.ignore=true alone and shows its ports ignored; rdhpf.port.REMOTE=LOCAL moves a port", async () => {
    await container("hidden", ["--label", "rdhpf.ignore=true", ...publish(29101)]);
    await container("relabelled", ["--label", "rdhpf.port.29102=29202", ...publish(29102, 29103)]);
    const d = await startDaemon([]);
    const rows = await rowsFor(d, [29101, 29102, 29103]);
    assert.deepEqual([rows.get(29101)!.state, rows.get(29101)!.reason], ["ignored", "container has label rdhpf.ignore=true"]);
    assert.deepEqual([rows.get(29102)!.local_port, rows.get(29102)!.state], [29202, "active"]);
    assert.deepEqual([rows.get(29103)!.local_port, rows.get(29103)!.state], [29103, "active"]);
    assert.ok(await isRefused(29101));
    assert.ok(await httpGet(29202));
    assert.ok(await isRefused(29102));
    // The table shows "ignored" too, not only the JSON.
    const table = await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: d.stateDir });
    assert.match(table.stdout, /29101[\s\S]*ignored|ignored[\s\S]*29101/);
  });

  it("says so, once and in status, when a rule cannot apply as written: a bad rdhpf.port label, a --map given twice", async () => {
    await container("badlabel", ["--label", "rdhpf.port.29104=postgres", ...publish(29104)]);
    await container("mapped", publish(29105));
    const d = await startDaemon(["--map", "29105:29205", "--map", "29105:29305"]);
    const rows = await rowsFor(d, [29104, 29105]);
    assert.deepEqual([rows.get(29104)!.local_port, rows.get(29104)!.state], [29104, "active"]);
    assert.match(rows.get(29104)!.reason ?? "", /^label rdhpf\.port\.29104="postgres" is not a port .*; forwarded on 29104$/);
    assert.deepEqual([rows.get(29105)!.local_port, rows.get(29105)!.state], [29305, "active"]);
    assert.equal(rows.get(29105)!.reason, "--map for remote port 29105 given with 29205, 29305; the last, 29305, applies");
    assert.ok(await httpGet(29104));
    assert.ok(await httpGet(29305));
    // Another container event reconciles again: still one warning per container and rule.
    await container("bystander", publish(29106));
    await rowsFor(d, [29106]);
    const warned = (re: RegExp) => d.logs().split("\n").filter((l) => /A port rule could not apply as written/.test(l) && re.test(l)).length;
    assert.equal(warned(/remote_port=29104/), 1, d.logs());
    assert.equal(warned(/remote_port=29105/), 1, d.logs());
    assert.match(d.logs(), /A remote port is mapped more than once; the last --map applies/);
  });

  it("reads rules from --config; a rule on the command line replaces the file's", async () => {
    const cfg = scratchFile("rdhpf.json", JSON.stringify({ includePorts: "29040-29049", excludePorts: "29041", map: ["29042:29142"] }));
    try {
      await container("configured", publish(29040, 29041, 29042, 29050));
      let d = await startDaemon(["--config", cfg.path]);
      let rows = await rowsFor(d, [29040, 29041, 29042, 29050]);
      assert.deepEqual([...rows.values()].map((r) => `${r.remote_port}→${r.local_port} ${r.state}`).sort(), [
        "29040→29040 active", "29041→29041 ignored", "29042→29142 active", "29050→29050 ignored",
      ]);
      assert.ok(await httpGet(29142));

      await d.stop("SIGTERM");
      d.cleanup();
      d = await startDaemon(["--config", cfg.path, "--exclude-ports", "29040"]);
      rows = await rowsFor(d, [29040, 29041, 29042, 29050]);
      assert.equal(rows.get(29040)!.state, "ignored", "the command line's --exclude-ports wins");
      assert.equal(rows.get(29041)!.state, "active", "the file's excludePorts no longer applies");
      assert.equal(rows.get(29042)!.local_port, 29142, "the file's other keys still apply");
    } finally {
      cfg.cleanup();
    }
  });

  it("takes settings from the command line, then the environment, then the config file", async () => {
    // Nothing listens on 127.0.0.1 port 1 or 2: each run ends at once with exit 2, after its start-up line.
    const cfg = scratchFile("rdhpf.json", JSON.stringify({ host: "ssh://nobody@127.0.0.1:1", logLevel: "error" }));
    const state = mkdtempSync(join(tmpdir(), "rdhpf-e2e-"));
    const starting = /msg="?rdhpf starting"? .*host="?ssh:\/\/nobody@127\.0\.0\.1:(\d)/;
    try {
      const fileOnly = await rdhpf(["run", "--config", cfg.path], { RDHPF_STATE_DIR: state });
      assert.equal(fileOnly.code, 2, fileOnly.stderr);
      assert.doesNotMatch(fileOnly.stderr, starting, "logLevel error from the file hides info lines");

      const env = { RDHPF_STATE_DIR: state, RDHPF_LOG_LEVEL: "info", RDHPF_HOST: "ssh://nobody@127.0.0.1:2" };
      const envOverFile = await rdhpf(["run", "--config", cfg.path], env);
      assert.equal(envOverFile.code, 2, envOverFile.stderr);
      assert.equal(envOverFile.stderr.match(starting)?.[1], "2", envOverFile.stderr);

      const cliOverEnv = await rdhpf(["run", "--config", cfg.path, "--host", "ssh://nobody@127.0.0.1:1", "--log-level", "warn"], env);
      assert.equal(cliOverEnv.code, 2, cliOverEnv.stderr);
      assert.doesNotMatch(cliOverEnv.stderr, starting, "--log-level warn beats RDHPF_LOG_LEVEL=info");
      assert.match(cliOverEnv.stderr, /port 1\b/, "--host beats RDHPF_HOST");
      assert.doesNotMatch(cliOverEnv.stderr, /port 2\b/);
    } finally {
      cfg.cleanup();
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("takes the host from the current docker context (DOCKER_CONTEXT) after everything else", async () => {
    // A stand-in docker CLI: context "remote" points at an ssh:// endpoint where nothing listens.
    const fake = fakeDockerDir(`[ "$DOCKER_CONTEXT" = remote ] || { echo '[{"Name":"default","Endpoints":{"docker":{"Host":"unix:///var/run/docker.sock"}}}]'; exit 0; }
echo '[{"Name":"remote","Endpoints":{"docker":{"Host":"ssh://nobody@127.0.0.1:1"}}}]'`);
    const state = mkdtempSync(join(tmpdir(), "rdhpf-e2e-"));
    try {
      const env = { PATH: fake.path, RDHPF_STATE_DIR: state };
      const fromContext = await rdhpf(["run"], { ...env, DOCKER_CONTEXT: "remote" });
      assert.equal(fromContext.code, 2, fromContext.stderr);
      assert.match(fromContext.stderr, /Docker host taken from the current docker context.*context=remote/);
      assert.match(fromContext.stderr, /127\.0\.0\.1 port 1\b/);

      const notSsh = await rdhpf(["run"], env);
      assert.equal(notSsh.code, 2, notSsh.stderr);
      assert.match(notSsh.stderr, /no Docker host given[\s\S]*RDHPF_HOST[\s\S]*DOCKER_HOST[\s\S]*"default" points at unix:/);
    } finally {
      fake.cleanup();
      rmSync(state, { recursive: true, force: true });
    }
  });

  const badConfigs: Array<[string, Record<string, unknown>, string]> = [
    ["an unknown key", { includePort: "29000" }, "includePort"],
    ["a bad conflict policy", { onConflict: "steal" }, "onConflict"],
    ["a malformed port list", { excludePorts: "22-" }, "excludePorts"],
  ];
  for (const [what, content, named] of badConfigs) {
    it(`exits 2 naming the setting for a config file with ${what}`, async () => {
      const cfg = scratchFile("rdhpf.json", JSON.stringify(content));
      try {
        const r = await rdhpf(["run", "--host", tb.alias, "-F", tb.sshConfigFile, "--config", cfg.path]);
        assert.equal(r.code, 2, r.stderr);
        assert.ok(r.stderr.includes(named), r.stderr);
      } finally {
        cfg.cleanup();
      }
    });
  }

  it("--on-conflict next-free forwards a port held locally to the next free one, says so, and leaves the holder alone", async () => {
    const mine = await ownListener(29060, "127.0.0.1");
    try {
      await container("wants-29060", publish(29060));
      const d = await startDaemon(["--on-conflict", "next-free"]);
      const row = (await rowsFor(d, [29060])).get(29060)!;
      assert.equal(row.local_port, 29061);
      assert.equal(row.state, "active");
      assert.match(row.reason ?? "", new RegExp(`^wanted 29060 \\(busy: pid ${process.pid} \\(.*\\)\\); next free$`));
      assert.ok(await httpGet(29061), "the container answers on 29061");
      assert.ok(await httpGet(29061, "::1"));
      assert.equal(await readLine(29060), "mine\n", "our own listener still owns 29060");
      await d.waitForLog(/Local port taken; forwarding to the next free port.*wanted_port=29060.*local_port=29061/);
      const table = await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: d.stateDir });
      assert.match(table.stdout, /:29061 .*active.*\n\s*reason: wanted 29060 \(busy: pid \d+/, table.stdout);
      const waited = await rdhpf(["wait", "--host", tb.alias, "-F", tb.sshConfigFile, "--port", "29060", "--timeout", "1s"], { RDHPF_STATE_DIR: d.stateDir });
      assert.equal(waited.code, 1, "29060 itself is not rdhpf's");
      assert.match(waited.stdout + waited.stderr, /port 29060: wants-29060 is forwarded on local port 29061 instead/);

      // The wanted port frees up; the next reconcile (a container event) must not move a working forward.
      await new Promise((r) => mine.close(r));
      await container("other", publish(29070));
      await rowsFor(d, [29070]);
      const again = (await rowsFor(d, [29060])).get(29060)!;
      assert.deepEqual([again.local_port, again.state], [29061, "active"]);
      assert.ok(await isRefused(29060), "29060 stays free");
      assert.ok(await httpGet(29061));
    } finally {
      mine.close();
    }
  });

  // "first" maps its 29081 onto local 29080 and is forwarded; "second" then publishes 29080 itself and, being newer, wins it.
  async function contest(d: Daemon): Promise<Map<number, ForwardStatus>> {
    await container("first", ["--label", "rdhpf.port.29081=29080", ...publish(29081)]);
    await waitFor("first on 29080", async () => (await rowsFor(d, [29081])).get(29081)?.state === "active", 10_000);
    await container("second", publish(29080));
    return await waitFor("second on 29080", async () => {
      const rows = await rowsFor(d, [29080, 29081]);
      return rows.get(29080)?.state === "active" && rows.get(29081)?.container_name === "first" && rows.get(29081)?.state !== undefined ? rows : null;
    }, 10_000);
  }

  it("--on-conflict wait (the default) keeps the container that lost a contested local port waiting", async () => {
    const rows = await contest(await startDaemon([]));
    assert.deepEqual([rows.get(29080)!.local_port, rows.get(29080)!.state], [29080, "active"]);
    assert.deepEqual([rows.get(29081)!.local_port, rows.get(29081)!.state], [29080, "conflict"]);
  });

  it("--on-conflict next-free moves the container that lost a contested local port to the next free one", async () => {
    const d = await startDaemon(["--on-conflict", "next-free"]);
    await contest(d);
    const rows = await waitFor("first moved", async () => {
      const r = await rowsFor(d, [29080, 29081]);
      return r.get(29081)?.state === "active" ? r : null;
    }, 10_000);
    assert.deepEqual([rows.get(29080)!.local_port, rows.get(29080)!.container_name], [29080, "second"]);
    const moved = rows.get(29081)!;
    assert.deepEqual([moved.local_port, moved.state, moved.reason], [29081, "active", "wanted 29080 (claimed by second); next free"]);
    assert.ok(await httpGet(29081));
    assert.ok(await httpGet(29080));
  });
});
