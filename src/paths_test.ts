import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { basename } from "node:path";
import { dockerClientSocketPath, maxSocketPathBytes } from "./paths.ts";

describe("dockerClientSocketPath", () => {
  const dir = "/run/user/1000/rdhpf";
  const cases: Array<[string, { host: string; port: number | null }, string]> = [
    ["an ssh alias as it is", { host: "build-box", port: null }, "build-box.sock"],
    ["a host name with dots", { host: "docker.build.example", port: null }, "docker.build.example.sock"],
    ["a port the target names", { host: "build-box", port: 2222 }, "build-box-2222.sock"],
    ["an IPv6 address with its colons replaced", { host: "fd00::10", port: 22 }, "fd00__10-22.sock"],
    ["a leading dot replaced, so the file is not hidden", { host: ".hidden", port: null }, "_hidden.sock"],
    ["a name that would look like an instance's control socket", { host: "box.api", port: null }, "box.api_.sock"],
  ];
  for (const [what, target, want] of cases) {
    it(`names the socket after ${what}`, () => assert.equal(dockerClientSocketPath(dir, target, "linux"), `${dir}/${want}`));
  }

  it("keeps a long name within macOS's 104-byte sun_path by cutting it and adding a hash", () => {
    const host = `${"a".repeat(60)}.example`;
    const mac = dockerClientSocketPath(`/Users/someone/.rdhpf`, { host: `${host}.very-long-domain.internal`, port: null }, "darwin");
    assert.ok(Buffer.byteLength(mac) <= 103, `${mac} is ${Buffer.byteLength(mac)} bytes`);
    assert.match(basename(mac), /^a{60}\.exam-[0-9a-f]{10}\.sock$/);
  });

  it("hashes only when needed: the same name fits Linux's 108 bytes but not macOS's 104", () => {
    const dir40 = `/${"d".repeat(39)}`;
    const host = "h".repeat(103 - dir40.length - "/.sock".length + 2);
    assert.equal(dockerClientSocketPath(dir40, { host, port: null }, "linux"), `${dir40}/${host}.sock`);
    assert.notEqual(dockerClientSocketPath(dir40, { host, port: null }, "darwin"), `${dir40}/${host}.sock`);
  });

  it("gives different long names different paths, and the same name the same path", () => {
    const long = (s: string) => ({ host: `${"x".repeat(120)}${s}`, port: null });
    const a = dockerClientSocketPath(dir, long("a"), "darwin");
    assert.notEqual(a, dockerClientSocketPath(dir, long("b"), "darwin"));
    assert.equal(a, dockerClientSocketPath(dir, long("a"), "darwin"));
  });

  it("falls back to the hash alone when the runtime dir leaves no room for a name", () => {
    const deep = `/${"d".repeat(95)}`;
    assert.match(basename(dockerClientSocketPath(deep, { host: "box", port: null }, "darwin")), /^[0-9a-f]{10}\.sock$/);
  });
});

describe("maxSocketPathBytes", () => {
  it("leaves room for the terminating NUL of sun_path", () => {
    assert.equal(maxSocketPathBytes("darwin"), 103);
    assert.equal(maxSocketPathBytes("linux"), 107);
  });
});
