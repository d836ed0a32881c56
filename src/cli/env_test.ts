import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dockerHostLine } from "./env.ts";

describe("dockerHostLine", () => {
  const plain = "/run/user/1000/rdhpf/build-box.sock";
  it("writes an sh export for eval", () => assert.equal(dockerHostLine(plain, "sh"), `export DOCKER_HOST=unix://${plain}`));
  it("writes a fish global export", () => assert.equal(dockerHostLine(plain, "fish"), `set -gx DOCKER_HOST 'unix://${plain}'`));
  it("writes a PowerShell environment assignment", () => assert.equal(dockerHostLine(plain, "powershell"), `$Env:DOCKER_HOST = 'unix://${plain}'`));

  const odd = "/home/o'neil/my dir/$x.sock";
  it("quotes a path with spaces, quotes and $ for sh", () => assert.equal(dockerHostLine(odd, "sh"), `export DOCKER_HOST='unix:///home/o'\\''neil/my dir/$x.sock'`));
  it("quotes it for fish", () => assert.equal(dockerHostLine(odd, "fish"), `set -gx DOCKER_HOST 'unix:///home/o\\'neil/my dir/$x.sock'`));
  it("quotes it for PowerShell", () => assert.equal(dockerHostLine(odd, "powershell"), `$Env:DOCKER_HOST = 'unix:///home/o''neil/my dir/$x.sock'`));

  it("gives sh a line that sets exactly the path", async () => {
    const { execFileSync } = await import("node:child_process");
    const out = execFileSync("sh", ["-c", `${dockerHostLine(odd, "sh")}; printf %s "$DOCKER_HOST"`], { encoding: "utf8" });
    assert.equal(out, `unix://${odd}`);
  });
});
