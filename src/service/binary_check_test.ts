import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { platformName } from "../version.ts";
import { executablePlatform, parseVersionOutput, sameBuild } from "./binary_check.ts";

/** The first bytes of a 64-bit little-endian ELF with e_machine `machine`. */
function elf(machine: number, cls = 2, data = 1): Uint8Array {
  const b = new Uint8Array(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, cls, data, 1]);
  new DataView(b.buffer).setUint16(18, machine, true);
  return b;
}

/** The first bytes of a thin 64-bit Mach-O with `cputype`. */
function macho(cputype: number): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xfeedfacf, true);
  v.setUint32(4, cputype, true);
  return b;
}

describe("executablePlatform: which machine a binary is for, from its header", () => {
  const cases: [string, Uint8Array, string | null][] = [
    ["ELF x86-64", elf(0x3e), "linux-x64"],
    ["ELF aarch64", elf(0xb7), "linux-arm64"],
    ["ELF riscv", elf(0xf3), "linux-other"],
    ["32-bit ELF", elf(0x03, 1), null],
    ["big-endian ELF", elf(0x3e, 2, 2), null],
    ["Mach-O x86_64", macho(0x01000007), "darwin-x64"],
    ["Mach-O arm64", macho(0x0100000c), "darwin-arm64"],
    ["a shell script", new TextEncoder().encode("#!/bin/sh\necho rdhpf 9.9.9\n"), null],
    ["an empty file", new Uint8Array(0), null],
    ["a truncated ELF", elf(0x3e).subarray(0, 10), null],
  ];
  for (const [what, header, want] of cases) {
    it(`${what} → ${want ?? "not recognised"}`, () => {
      const p = executablePlatform(header);
      assert.equal(p === null ? null : platformName(p.os, p.arch), want);
    });
  }

  it("reads the machine this test runs on from its own executable", async () => {
    const { readFileSync } = await import("node:fs");
    const p = executablePlatform(readFileSync(process.execPath).subarray(0, 64));
    if (process.platform === "linux" || process.platform === "darwin") {
      assert.equal(p?.os, process.platform);
      assert.equal(p?.arch, process.arch);
    }
  });
});

describe("parseVersionOutput: the version `rdhpf --version` prints", () => {
  const cases: [string, { version: string; commit: string } | null][] = [
    ["rdhpf 0.1.0 (commit dev, not a release build, linux-x64)\n", { version: "0.1.0", commit: "dev" }],
    ["rdhpf 1.2.3-rc.1 (commit abc1234, built 2026-11-27T18:00:00Z, darwin-arm64)", { version: "1.2.3-rc.1", commit: "abc1234" }],
    ["rdhpf 0.2.0", { version: "0.2.0", commit: "unknown" }],
    ["true (GNU coreutils) 9.1\n", null],
    ["rdhpf version 1\n", null],
    ["rdhpf 0.1.0\nanother line\n", null],
    ["", null],
  ];
  for (const [out, want] of cases) it(`${JSON.stringify(out)} → ${JSON.stringify(want)}`, () => assert.deepEqual(parseVersionOutput(out), want));

  it("tells two builds of one version apart by commit", () => {
    assert.equal(sameBuild({ version: "0.2.0", commit: "aaa" }, { version: "0.2.0", commit: "bbb" }), false);
    assert.equal(sameBuild({ version: "0.2.0", commit: "aaa" }, { version: "0.2.0", commit: "aaa" }), true);
    assert.equal(sameBuild({ version: "0.2.0", commit: "unknown" }, { version: "0.2.0", commit: "aaa" }), true);
    assert.equal(sameBuild({ version: "0.1.0", commit: "aaa" }, { version: "0.2.0", commit: "aaa" }), false);
  });
});
