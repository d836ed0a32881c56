import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bracketIpv6, hostPort } from "./address.ts";

describe("hostPort", () => {
  const cases: Array<[string, number, string]> = [
    ["127.0.0.1", 5432, "127.0.0.1:5432"],
    ["::1", 5432, "[::1]:5432"],
    ["fe80::1", 80, "[fe80::1]:80"],
    ["build-host.example", 22, "build-host.example:22"],
  ];
  for (const [host, port, want] of cases) it(`writes ${host} and ${port} as ${want}`, () => assert.equal(hostPort(host, port), want));
});

describe("bracketIpv6", () => {
  it("leaves a bracketed or non-IPv6 host as it is", () => {
    assert.equal(bracketIpv6("10.0.0.1"), "10.0.0.1");
    assert.equal(bracketIpv6("[::1]"), "[::1]");
  });
});
