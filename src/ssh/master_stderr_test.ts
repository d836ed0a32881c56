import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MasterStderrFile } from "./master_stderr.ts";

function tempPath(): { path: string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-stderr-"));
  return { path: join(dir, "m.ssh.stderr"), done: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("MasterStderrFile", () => {
  it("reads what was written after a cursor, like the pipe it replaces", () => {
    const t = tempPath();
    const f = MasterStderrFile.rotate(t.path);
    appendFileSync(t.path, "first\n");
    const mark = f.cursor();
    appendFileSync(t.path, "bind [127.0.0.1]:5432: Address already in use\n");
    assert.equal(f.since(mark), "bind [127.0.0.1]:5432: Address already in use\n");
    assert.equal(f.since(f.cursor()), "");
    f.close();
    t.done();
  });

  it("keeps the previous master's file as .1 when a new master starts", () => {
    const t = tempPath();
    MasterStderrFile.rotate(t.path).close();
    appendFileSync(t.path, "old master\n");
    const f = MasterStderrFile.rotate(t.path);
    assert.equal(readFileSync(`${t.path}.1`, "utf8"), "old master\n");
    assert.equal(f.tail(100), "");
    f.close();
    t.done();
  });

  it("lets an adopting rdhpf read what the master wrote before", () => {
    const t = tempPath();
    MasterStderrFile.rotate(t.path).close();
    appendFileSync(t.path, "before the hand-over\n");
    const f = MasterStderrFile.attach(t.path);
    assert.equal(f.tail(100), "before the hand-over\n");
    const mark = f.cursor();
    appendFileSync(t.path, "after\n");
    assert.equal(f.since(mark), "after\n");
    f.close();
    t.done();
  });

  it("empties the file beyond its cap; offsets keep growing and old ones read from the start", () => {
    const t = tempPath();
    const f = MasterStderrFile.rotate(t.path, 100);
    appendFileSync(t.path, "x".repeat(150));
    const before = f.cursor(); // enforces the cap
    assert.equal(before, 150);
    assert.equal(readFileSync(t.path, "utf8"), "");
    appendFileSync(t.path, "new line\n");
    assert.equal(f.cursor(), 159);
    assert.equal(f.since(before), "new line\n");
    assert.equal(f.since(10), "new line\n");
    assert.ok(existsSync(t.path));
    f.close();
    t.done();
  });
});
