/**
 * End-to-end diagnostics of the compiled binary: `--log-level debug` shows
 * every ssh command line (quoted so that a shell splits it back into the same
 * argv), every forward request sent to the master's control socket and
 * every Engine API request with its status and duration; `info`
 * stays quiet while nothing changes; `--log-format json` writes one JSON
 * object per line.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, httpGet, isRefused, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("end-to-end logging tests");

/** The value of a logfmt field (bare, or double-quoted with \\ and \" escapes). */
function logfmtField(line: string, key: string): string | null {
  const m = new RegExp(`(?:^| )${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|(\\S+))`).exec(line);
  if (!m) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!;
}

/** Splits a command line as a POSIX shell would (bare words, '…' quotes, backslash escapes). */
function shellSplit(line: string): string[] {
  assert.ok(!line.includes("$'"), "no control characters expected in these argvs");
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " ") {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated quote in ${line}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === "\\") {
      word = (word ?? "") + line[++i];
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

describe("rdhpf run diagnostics (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let debug: Daemon;
  let info: Daemon;
  let dir: string;
  let awkwardConfig: string;

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    for (const [name, port] of [["dbg", 27101], ["inf", 27201]] as const) {
      const r = await tb.docker(["run", "-d", "--name", name, "-p", `${port}:80`, tb.image]);
      assert.equal(r.code, 0, r.stderr);
    }
    // A config path a shell would split or misquote unless the log quotes it.
    dir = mkdtempSync(join(tmpdir(), "rdhpf-e2e-"));
    mkdirSync(join(dir, "ssh cfg's"));
    awkwardConfig = join(dir, "ssh cfg's", "config");
    copyFileSync(tb.sshConfigFile, awkwardConfig);
    // Two instances of one host (separate runtime dirs), each forwarding its own ports only.
    mkdirSync(join(dir, "run dir's"));
    debug = new Daemon(tb, ["-F", awkwardConfig, "--log-level", "debug", "--include-ports", "27101-27199"], { stateDir: join(dir, "run dir's") });
    info = new Daemon(tb, ["--log-format", "json", "--include-ports", "27201-27299"]);
    await waitFor("debug instance forwards", () => httpGet(27101), 15_000);
    await waitFor("info instance forwards", () => httpGet(27201), 15_000);
  });

  after(async () => {
    for (const d of [debug, info]) {
      await d?.stop();
      d?.cleanup();
    }
    await tb?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("logs every ssh command line at debug, quoted so that a shell splits it back into the argv, and every forward request", async () => {
    assert.equal((await tb.docker(["run", "-d", "--name", "dbg2", "-p", "27102:80", tb.image])).code, 0);
    await waitFor("27102 forwarded", () => httpGet(27102), 5000);
    assert.equal((await tb.docker(["rm", "-f", "dbg2"])).code, 0);
    await waitFor("27102 closed", () => isRefused(27102), 5000);
    await waitFor("cancel logged", () => /msg="Mux request" op=cancel/.test(debug.logs()), 3000);

    const runs = debug.logs().split("\n").filter((l) => /msg="(Running|Starting) ssh"/.test(l));
    const argvs = runs.map((l) => {
      const argv = logfmtField(l, "argv");
      assert.ok(argv, `no argv in ${l}`);
      return { op: logfmtField(l, "op"), words: shellSplit(argv) };
    });
    const ops = new Set(argvs.map((a) => a.op));
    for (const op of ["resolve", "master"]) assert.ok(ops.has(op), `an ssh run of op ${op} is logged (saw ${[...ops].join(", ")})`);
    for (const { op, words } of argvs) {
      // ssh -G and the master read the user's config; mux clients read none and find the master by its socket in the runtime dir.
      if (op === "version") continue;
      const config = words[words.indexOf("-F") + 1];
      if (op === "resolve" || op === "master") {
        assert.equal(config, awkwardConfig, `op ${op}`);
      } else {
        assert.equal(config, "/dev/null", `op ${op}`);
        const socket = words[words.indexOf("-S") + 1] ?? "";
        assert.ok(socket.startsWith(`${debug.stateDir}/`), `op ${op}: -S ${socket}`);
      }
    }
    // Forwards go over the control socket in the mux protocol: one line per request, the forward written as its -L spec.
    const requests = debug.logs().split("\n").filter((l) => l.includes('msg="Mux request"'));
    const specsOf = (op: string) => requests.filter((l) => logfmtField(l, "op") === op).map((l) => logfmtField(l, "spec") ?? "");
    for (const port of [27101, 27102]) {
      assert.ok(specsOf("forward").some((l) => l.startsWith(`127.0.0.1:${port}:`)), `forward of 127.0.0.1:${port} logged`);
      assert.ok(specsOf("forward").some((l) => l.startsWith(`[::1]:${port}:`)), `forward of [::1]:${port} logged`);
    }
    assert.ok(specsOf("cancel").some((l) => l.startsWith("127.0.0.1:27102:")), "cancel of 27102 logged");
    assert.ok(runs.every((l) => /^time=\S+ level=DEBUG logger=rdhpf\.ssh /.test(l)), "debug lines of the ssh logger");
  });

  it("logs every Engine API request at debug with its status and duration", () => {
    const requests = debug.logs().split("\n").filter((l) => l.includes('msg="Engine API request"'));
    const paths = requests.map((l) => logfmtField(l, "path") ?? "");
    for (const want of [/^\/_ping$|\/version$/, /^\/v[\d.]+\/containers\/json$/, /^\/v[\d.]+\/events\?/]) {
      assert.ok(paths.some((p) => want.test(p)), `a request matching ${want} is logged (saw ${paths.join(", ")})`);
    }
    for (const l of requests) {
      assert.match(logfmtField(l, "status") ?? "", /^\d{3}$/, l);
      assert.match(logfmtField(l, "duration_ms") ?? "", /^\d+(\.\d+)?$/, l);
    }
  });

  it("writes one JSON object per line with --log-format json, and nothing at info while nothing changes", async () => {
    // One resync (30 s) and two health checks (15 s) pass in this window.
    await new Promise((r) => setTimeout(r, 1000));
    const settled = info.logs();
    await new Promise((r) => setTimeout(r, 31_000));
    const lines = info.logs().split("\n").filter(Boolean);
    for (const line of lines) {
      const record = JSON.parse(line) as Record<string, unknown>;
      assert.equal(typeof record, "object");
      assert.match(String(record["@timestamp"]), /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
      assert.ok(["INFO", "WARN", "ERROR"].includes(String(record.level)), line);
      assert.match(String(record.logger), /^rdhpf(\.|$)/);
      assert.equal(typeof record.message, "string");
      assert.equal(typeof record.properties, "object");
    }
    assert.ok(lines.some((l) => JSON.parse(l).message === "Forward added"), "the add itself was logged at info");
    assert.equal(info.logs().slice(settled.length), "", "no log line at info in steady state");
  });
});
