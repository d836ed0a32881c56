import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { ensurePrivateDir, writeFileAtomic } from "./state_file.ts";

describe("writeFileAtomic", () => {
  it("replaces the file whole, mode 0600, leaving no temp file", () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-sf-"));
    try {
      const path = join(dir, "x.json");
      writeFileAtomic(path, "one");
      writeFileAtomic(path, "two");
      assert.equal(readFileSync(path, "utf8"), "two");
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(dir), ["x.json"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ensurePrivateDir", () => {
  it("creates the runtime dir with mode 0700", () => {
    const base = mkdtempSync(join(tmpdir(), "rdhpf-sf-"));
    try {
      const dir = join(base, "run");
      ensurePrivateDir(dir);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
  it("refuses a group- or world-writable dir and says how to fix it", () => {
    const dir = mkdtempSync(join(tmpdir(), "rdhpf-sf-"));
    try {
      chmodSync(dir, 0o777);
      assert.throws(() => ensurePrivateDir(dir), (e: unknown) => e instanceof RdhpfError && e.exitCode === 2 && /chmod 700/.test(e.hint ?? ""));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
