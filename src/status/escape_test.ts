import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { displaySafe, displayWidth, padColumns } from "./escape.ts";

describe("displaySafe", () => {
  const cases: [string, string, number, string][] = [
    ["leaves plain names alone", "web-1", 40, "web-1"],
    ["escapes a newline", "a\nb", 40, "a\\nb"],
    ["escapes ESC of an ANSI colour sequence", "\x1b[31mred", 40, "\\x1b[31mred"],
    ["escapes other C0 controls as \\xNN", "a\x07\x00b", 40, "a\\x07\\x00b"],
    ["escapes DEL and C1 controls (CSI 0x9b)", "a\x7f\u009b2Jb", 40, "a\\x7f\\x9b2Jb"],
    ["escapes tab and carriage return", "a\tb\rc", 40, "a\\tb\\rc"],
    ["escapes backslashes so escapes stay unambiguous", "a\\x1b", 40, "a\\\\x1b"],
    ["escapes a bidi override", "abc\u202etxt.exe", 40, "abc\\u{202e}txt.exe"],
    ["escapes a lone surrogate", "a\ud800b", 40, "a\\u{d800}b"],
    ["keeps shell metacharacters visible and inert", "$(rm -rf /); `id` | &", 40, "$(rm -rf /); `id` | &"],
    ["cuts with an ellipsis", "abcdefghij", 5, "abcd…"],
    ["does not cut text that fits exactly", "abcde", 5, "abcde"],
    ["never splits an escape when cutting", "ab\ncdef", 4, "ab…"],
    ["counts wide characters as two columns", "日本語テキスト", 7, "日本語…"],
    ["returns nothing for a zero budget", "abc", 0, ""],
    ["returns only the ellipsis for a budget of one", "abc", 1, "…"],
    ["escapes combining marks stacked beyond two", "e\u0301\u0301\u0301", 40, "e\u0301\u0301\\u{301}"],
  ];
  for (const [name, input, max, want] of cases) {
    it(name, () => assert.equal(displaySafe(input, max), want));
  }

  it("handles a megabyte of hostile text within its budget, quickly", () => {
    const huge = "\x1b[31m$(rm -rf /)\n".repeat(60_000);
    assert.ok(huge.length > 1_000_000);
    const t0 = performance.now();
    const out = displaySafe(huge, 60);
    const ms = performance.now() - t0;
    assert.ok(displayWidth(out) <= 60);
    assert.ok(out.endsWith("…"));
    assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f]/);
    assert.ok(ms < 50, `took ${ms} ms`);
  });

  it("never lets a control character through, for every code point below 0xa0", () => {
    for (let cp = 0; cp < 0xa0; cp++) {
      const out = displaySafe(String.fromCodePoint(cp), 10);
      assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f]/, `code point ${cp}`);
    }
  });
});

describe("padColumns", () => {
  it("pads by terminal columns, not by string length", () => {
    assert.equal(padColumns("日本", 6), "日本  ");
    assert.equal(padColumns("ab", 4), "ab  ");
    assert.equal(padColumns("abcdef", 4), "abcdef");
  });
});
