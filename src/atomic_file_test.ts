import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic_file.ts";

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "rdhpf-af-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("writeFileAtomic", () => {
  it("replaces the file whole, mode 0600 by default, leaving no temp file", () =>
    withDir((dir) => {
      const path = join(dir, "x.json");
      writeFileAtomic(path, "one");
      writeFileAtomic(path, "two");
      assert.equal(readFileSync(path, "utf8"), "two");
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(dir), ["x.json"]);
    }));

  it("writes a service file 0644 and creates its directory when asked", () =>
    withDir((dir) => {
      const path = join(dir, "systemd", "user", "rdhpf.service");
      writeFileAtomic(path, "[Unit]\n", { mode: 0o644, createDirMode: 0o755 });
      assert.equal(statSync(path).mode & 0o777, 0o644);
      assert.equal(statSync(join(dir, "systemd")).mode & 0o777, 0o755);
    }));

  it("fails when the directory is missing and was not to be created, leaving nothing behind", () =>
    withDir((dir) => {
      assert.throws(() => writeFileAtomic(join(dir, "missing", "x"), "a"), /ENOENT/);
      assert.deepEqual(readdirSync(dir), []);
    }));
});
