import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isPort, parsePortText } from "./port.ts";

describe("isPort", () => {
  const cases: Array<[number, boolean]> = [[1, true], [80, true], [65535, true], [0, false], [65536, false], [-1, false], [1.5, false], [Number.NaN, false]];
  for (const [n, want] of cases) it(`${n} → ${want}`, () => assert.equal(isPort(n), want));
});

describe("parsePortText", () => {
  it("reads decimal digits in range", () => assert.deepEqual(parsePortText("5432"), { ok: true, port: 5432 }));
  it("takes leading zeros as decimal", () => assert.deepEqual(parsePortText("0080"), { ok: true, port: 80 }));
  for (const text of ["", " 80", "80 ", "+80", "-1", "0x50", "8e3", "54a", "123456", "1.0"]) {
    it(`refuses ${JSON.stringify(text)} as not a number`, () => assert.deepEqual(parsePortText(text), { ok: false, problem: "not-a-number" }));
  }
  for (const [text, value] of [["0", 0], ["65536", 65536], ["99999", 99999]] as const) {
    it(`refuses ${text} as out of range`, () => assert.deepEqual(parsePortText(text), { ok: false, problem: "out-of-range", value }));
  }
});
