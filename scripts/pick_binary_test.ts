import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { listedDigest } from "./pick_binary.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);

describe("listedDigest", () => {
  it("finds a file's digest in sha256sum's text and binary formats", () => {
    const sums = `${A}  rdhpf-darwin-x64\n${B} *rdhpf-linux-x64\n`;
    assert.equal(listedDigest(sums, "rdhpf-linux-x64"), B);
    assert.equal(listedDigest(sums, "rdhpf-darwin-x64"), A);
  });

  it("matches whole names only, so rdhpf-linux-x64 is not found via rdhpf-linux-x64.old", () => {
    assert.equal(listedDigest(`${A}  rdhpf-linux-x64.old\n`, "rdhpf-linux-x64"), undefined);
  });

  it("ignores lines that are not a sha256 entry", () => {
    assert.equal(listedDigest(`# comment rdhpf-linux-x64\nabc  rdhpf-linux-x64\n`, "rdhpf-linux-x64"), undefined);
  });
});
