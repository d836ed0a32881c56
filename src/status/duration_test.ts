import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ageMs, formatAge, parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  const cases: [string, number | null][] = [
    ["500ms", 500],
    ["30s", 30_000],
    ["1.5s", 1500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["45", 45_000],
    ["0s", 0],
    ["24h", 86_400_000],
    ["25h", null],
    ["", null],
    ["-1s", null],
    ["10 s", null],
    ["1d", null],
    ["s", null],
    ["1e3s", null],
  ];
  for (const [text, want] of cases) {
    it(`reads ${JSON.stringify(text)} as ${want}`, () => assert.equal(parseDuration(text), want));
  }
});

describe("formatAge", () => {
  const cases: [number, string][] = [
    [-5000, "0s"],
    [999, "0s"],
    [42_000, "42s"],
    [300_000, "5m"],
    [303_000, "5m 3s"],
    [7_980_000, "2h 13m"],
    [3 * 86_400_000 + 4 * 3_600_000 + 59_000, "3d 4h"],
    [86_400_000, "1d"],
  ];
  for (const [ms, want] of cases) {
    it(`shows ${ms} ms as ${want}`, () => assert.equal(formatAge(ms), want));
  }
});

describe("ageMs", () => {
  const now = new Date("2026-11-27T18:00:10.000Z");
  it("measures from an ISO time", () => assert.equal(ageMs("2026-11-27T18:00:00.000Z", now), 10_000));
  it("gives null for null or garbage", () => {
    assert.equal(ageMs(null, now), null);
    assert.equal(ageMs("yesterday-ish", now), null);
  });
});
