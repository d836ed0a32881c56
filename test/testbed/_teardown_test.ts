import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { shimSocketPath } from "./_teardown.ts";
import { isStaticElf } from "./_availability.ts";

describe("shimSocketPath", () => {
  it("matches where containerd 1.6 puts a runc v2 shim socket (sha256 of address/namespace/id)", () => {
    // Observed on Debian 12 containerd 1.6.20 for this address and container id.
    const id = "41822d1ff17205afe7c2f006e3e85ef93e937d12366b7287557744f9275cbbb2";
    assert.equal(
      shimSocketPath("/tmp/rdhpf-manual1/exec/containerd/containerd.sock", id),
      "/run/containerd/s/aee67a244b7549d81dc300d5c348d7f5841f63bb6ebe5261388bc8c4493cd1bb",
    );
  });
});

describe("isStaticElf", () => {
  it("rejects a dynamically linked executable", () => {
    assert.equal(isStaticElf("/bin/sh"), false);
  });
  it("rejects a file that is not ELF", () => {
    assert.equal(isStaticElf("/etc/hostname"), false);
  });
});
