import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sampleDocument } from "./_sample_document.ts";
import { startStatusServer, type StatusServer } from "./_status_server.ts";
import { instanceFilesForKey, type InstanceSelection } from "./client.ts";
import type { StatusDocument } from "./schema.ts";
import { showStatus, type StatusIo } from "./show.ts";
import { InstanceReportSchema, StatusListReportSchema } from "./view.ts";

let root: string;
const servers: StatusServer[] = [];
before(() => {
  root = mkdtempSync(join(tmpdir(), "rdhpf-show-test-"));
});
after(async () => {
  for (const s of servers) await s.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
const freshDir = () => mkdtempSync(join(root, `d${n++}-`));

function healthy(): StatusDocument {
  const doc = sampleDocument();
  return { ...doc, forwards: doc.forwards.filter((f) => f.state !== "conflict") };
}

async function serve(dir: string, key: string, doc: StatusDocument): Promise<void> {
  servers.push(await startStatusServer(instanceFilesForKey(dir, key).controlApiSocket, doc));
}

function capture(tty = false, env: Record<string, string> = {}) {
  const out = { stdout: "", stderr: "" };
  const io: StatusIo = {
    stdout: { write: (s: string) => (out.stdout += s), isTTY: tty, columns: tty ? 120 : undefined },
    stderr: { write: (s: string) => (out.stderr += s) },
    env,
  };
  return { out, io };
}

const all = (dir: string): InstanceSelection => ({ dir, host: null });
const one = (dir: string, key: string): InstanceSelection => ({ dir, host: { target: "ssh://test", files: instanceFilesForKey(dir, key) } });

describe("showStatus", () => {
  it("exits 0 and prints the table for a healthy running instance", async () => {
    const dir = freshDir();
    await serve(dir, "a", healthy());
    const { out, io } = capture();
    assert.equal(await showStatus({ selection: all(dir), format: "table", watch: false, io }), 0);
    assert.match(out.stdout, /^ssh:\/\/deploy@docker-01\.example\.internal {2}connected\n/);
    assert.equal(out.stderr, "");
  });

  it("exits 3 when a forward is in conflict", async () => {
    const dir = freshDir();
    await serve(dir, "a", sampleDocument());
    assert.equal(await showStatus({ selection: all(dir), format: "table", watch: false, io: capture().io }), 3);
  });

  it("exits 3 while reconnecting", async () => {
    const dir = freshDir();
    await serve(dir, "a", { ...healthy(), state: "reconnecting" });
    assert.equal(await showStatus({ selection: one(dir, "a"), format: "json", watch: false, io: capture().io }), 3);
  });

  it("exits 1 and shows the last state, marked stale, when the daemon is gone", async () => {
    const dir = freshDir();
    writeFileSync(instanceFilesForKey(dir, "a").stateFile, JSON.stringify({ ...healthy(), pid: 2 ** 30, state: "stopping" }));
    const { out, io } = capture();
    assert.equal(await showStatus({ selection: one(dir, "a"), format: "table", watch: false, io }), 1);
    assert.match(out.stdout.split("\n")[0]!, /not running {2}\(last state from .* ago: stopping\)/);
  });

  it("exits 1 with a hint when --host names an instance that never ran, printing no document", async () => {
    const dir = freshDir();
    const { out, io } = capture();
    assert.equal(await showStatus({ selection: one(dir, "nothing"), format: "json", watch: false, io }), 1);
    assert.equal(out.stdout, "");
    assert.match(out.stderr, /rdhpf is not running for ssh:\/\/test .*\nhint: start it with `rdhpf run --host ssh:\/\/test`/);
  });

  it("prints an empty instance list as JSON when nothing runs at all", async () => {
    const dir = freshDir();
    const { out, io } = capture();
    assert.equal(await showStatus({ selection: all(dir), format: "json", watch: false, io }), 1);
    assert.deepEqual(StatusListReportSchema.parse(JSON.parse(out.stdout)).instances, []);
    assert.match(out.stderr, /no rdhpf instance found in /);
  });

  it("reports a corrupt state file on stderr and still shows the other instances", async () => {
    const dir = freshDir();
    await serve(dir, "a", healthy());
    writeFileSync(instanceFilesForKey(dir, "b").stateFile, "{not json");
    const { out, io } = capture();
    assert.equal(await showStatus({ selection: all(dir), format: "json", watch: false, io }), 0);
    assert.equal(StatusListReportSchema.parse(JSON.parse(out.stdout)).instances.length, 1);
    assert.match(out.stderr, /^rdhpf: state file .*b\.state\.json is corrupt/);
  });

  it("prints the one document for --host in JSON", async () => {
    const dir = freshDir();
    await serve(dir, "a", healthy());
    const { out, io } = capture();
    await showStatus({ selection: one(dir, "a"), format: "json", watch: false, io });
    assert.equal(InstanceReportSchema.parse(JSON.parse(out.stdout)).live, true);
  });

  it("colours only on a terminal without NO_COLOR", async () => {
    const dir = freshDir();
    await serve(dir, "a", healthy());
    const run = async (tty: boolean, env: Record<string, string>) => {
      const { out, io } = capture(tty, env);
      await showStatus({ selection: all(dir), format: "table", watch: false, io });
      return /\x1b\[/.test(out.stdout);
    };
    assert.equal(await run(true, {}), true);
    assert.equal(await run(true, { NO_COLOR: "1" }), false);
    assert.equal(await run(false, {}), false);
  });

  it("--watch redraws every interval on a terminal until stopped, then exits 0", async () => {
    const dir = freshDir();
    await serve(dir, "a", sampleDocument()); // degraded: the watch still ends with 0
    const { out, io } = capture(true);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 350);
    const code = await showStatus({ selection: all(dir), format: "table", watch: true, io, intervalMs: 100, signal: stop.signal });
    assert.equal(code, 0);
    const frames = out.stdout.split("\x1b[H\x1b[2J").filter(Boolean);
    assert.ok(frames.length >= 3 && frames.length <= 5, `${frames.length} frames`);
    assert.match(frames[0]!, /^rdhpf status — \d\d:\d\d:\d\d UTC, every 0\.1s \(Ctrl\+C to stop\)\n\n/);
  });

  it("--watch to a pipe writes one JSON document per line, without screen clearing", async () => {
    const dir = freshDir();
    await serve(dir, "a", healthy());
    const { out, io } = capture(false);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 250);
    await showStatus({ selection: all(dir), format: "json", watch: true, io, intervalMs: 100, signal: stop.signal });
    assert.doesNotMatch(out.stdout, /\x1b/);
    const lines = out.stdout.trimEnd().split("\n");
    assert.ok(lines.length >= 2, `${lines.length} lines`);
    for (const l of lines) StatusListReportSchema.parse(JSON.parse(l));
  });
});
