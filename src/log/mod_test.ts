import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { logBytesWritten, setupLogging, stopLogging } from "./mod.ts";

describe("setupLogging with a log file", () => {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-log-"));
  after(() => {
    stopLogging();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes each record to the file when it happens, not when a buffer fills", () => {
    const file = join(dir, "rdhpf.log");
    setupLogging({ level: "info", format: "text", file });
    getLogger(["rdhpf", "test"]).info("Forward added", { local_port: 8080 });
    assert.match(readFileSync(file, "utf8"), /msg="Forward added" local_port=8080\n$/);
  });

  it("counts the bytes it writes, multi-byte characters as their UTF-8 length", () => {
    const file = join(dir, "count.log");
    setupLogging({ level: "info", format: "text", file });
    const before = logBytesWritten();
    getLogger(["rdhpf", "test"]).info("Forward added", { container: "wéb" });
    assert.equal(logBytesWritten() - before, Buffer.byteLength(readFileSync(file, "utf8")));
  });
});

describe("collapsing identical warnings", () => {
  after(() => stopLogging());

  it("writes the first, counts the rest and summarises them with the warning's own fields only", () => {
    const lines: string[] = [];
    let nowMs = 1_000_000;
    setupLogging({ level: "info", format: "text", file: null, repeatWindowMs: 1000 }, { write: (s: string) => lines.push(s) }, () => nowMs);
    const log = getLogger(["rdhpf", "test"]);
    for (let i = 0; i < 5; i++) log.warn("SSH connection failed; will retry", { kind: "unreachable" });
    assert.equal(lines.length, 1, "inside the window only the first is written");
    nowMs += 1000; // the window is over
    log.warn("SSH connection failed; will retry", { kind: "unreachable" });
    assert.equal(lines.length, 3, lines.join(""));
    assert.match(lines[1]!, /msg="SSH connection failed; will retry … repeated 4 times in the last 1 s" kind=unreachable\n$/);
  });
});
