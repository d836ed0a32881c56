import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RdhpfError } from "../errors.ts";
import { ensurePrivateDir, privateDirVerdict } from "./state_file.ts";

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

describe("privateDirVerdict", () => {
  const cases: Array<[string, { uid: number; mode: number }, "ok" | "tighten" | RegExp]> = [
    ["0700 of this user", { uid: 501, mode: 0o40700 }, "ok"],
    ["0755 of this user (readable by others)", { uid: 501, mode: 0o40755 }, "tighten"],
    ["0770 (writable by the group)", { uid: 501, mode: 0o40770 }, /writable by group or others \(mode 770\)/],
    ["0700 of another user", { uid: 0, mode: 0o40700 }, /belongs to uid 0, not to you \(uid 501\)/],
  ];
  for (const [what, st, expected] of cases) {
    it(`judges ${what}: ${expected}`, () => {
      const v = privateDirVerdict("/run/user/501/rdhpf", st, 501);
      if (typeof expected === "string") assert.equal(v, expected);
      else assert.ok(v instanceof Error && expected.test(v.message), String(v));
    });
  }
});
