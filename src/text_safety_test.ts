import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { displaySafe, displayWidth, escapeSerialized, escapeUnsafe, hasUnsafeChars, isUnsafeCodePoint, padColumns, quoteInput, replaceUnsafe } from "./text_safety.ts";

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
    ["escapes every bidi embedding and override U+202A-202E", "\u202a\u202b\u202c\u202d\u202e", 80, "\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}"],
    ["escapes every bidi isolate U+2066-2069", "\u2066\u2067\u2068\u2069", 80, "\\u{2066}\\u{2067}\\u{2068}\\u{2069}"],
    ["escapes line and paragraph separators", "a\u2028b\u2029c", 40, "a\\u{2028}b\\u{2029}c"],
    ["escapes zero-width characters and the BOM", "a\u200bb\ufeffc", 40, "a\\u{200b}b\\u{feff}c"],
    ["escapes a whole CSI sequence's ESC and keeps the rest visible", "\x1b[2J\x1b]0;title\x07", 40, "\\x1b[2J\\x1b]0;title\\x07"],
    ["escapes a C1 CSI and OSC", "\u009b31m\u009d0;t", 40, "\\x9b31m\\x9d0;t"],
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

describe("isUnsafeCodePoint: the one definition", () => {
  const unsafe: [string, number[]][] = [
    ["C0 controls", [0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b, 0x1f]],
    ["DEL", [0x7f]],
    ["C1 controls", [0x80, 0x85, 0x9b, 0x9d, 0x9f]],
    ["bidi embeddings and overrides", [0x202a, 0x202b, 0x202c, 0x202d, 0x202e]],
    ["bidi isolates", [0x2066, 0x2067, 0x2068, 0x2069]],
    ["marks and invisible characters", [0x200b, 0x200e, 0x200f, 0x061c, 0x2028, 0x2029, 0xfeff]],
    ["lone surrogates", [0xd800, 0xdfff]],
  ];
  for (const [what, cps] of unsafe) {
    it(`counts ${what} as unsafe`, () => {
      for (const cp of cps) assert.equal(isUnsafeCodePoint(cp), true, cp.toString(16));
    });
  }
  it("counts printable text, including accents, CJK and emoji, as safe", () => {
    for (const ch of ["a", " ", "~", "\u00a0", "é", "日", "😀", "\u0301"]) assert.equal(isUnsafeCodePoint(ch.codePointAt(0)!), false, ch);
  });
});

describe("hasUnsafeChars", () => {
  const cases: [string, boolean][] = [["web-1", false], ["日本", false], ["a\nb", true], ["\x1b[0m", true], ["a\u202eb", true], ["a\u2066b", true], ["a\u009bb", true]];
  for (const [input, want] of cases) it(`${escapeUnsafe(input)} → ${want}`, () => assert.equal(hasUnsafeChars(input), want));
});

describe("escapeUnsafe", () => {
  it("escapes like displaySafe and never cuts", () => {
    const long = `${"x".repeat(5000)}\x1b\u202e`;
    assert.equal(escapeUnsafe(long), `${"x".repeat(5000)}\\x1b\\u{202e}`);
  });
});

describe("quoteInput", () => {
  it("quotes, escapes quotes, backslashes and controls, and cuts", () => {
    assert.equal(quoteInput('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
    assert.equal(quoteInput("abcdefgh", 5), '"abcd…"');
  });
});

describe("replaceUnsafe", () => {
  it("hands each unsafe code point to the renderer and keeps the rest", () => {
    assert.equal(replaceUnsafe("a\x1bb\u202ec😀", (cp) => `<${cp.toString(16)}>`), "a<1b>b<202e>c😀");
  });
});

describe("escapeSerialized", () => {
  it("writes C1, DEL and bidi characters as \\uXXXX, which JSON reads back unchanged", () => {
    const value = { name: "a\u009bb\u007fc\u202ed\u2066e" };
    const out = escapeSerialized(JSON.stringify(value));
    assert.equal(out, '{"name":"a\\u009bb\\u007fc\\u202ed\\u2066e"}');
    assert.deepEqual(JSON.parse(out), value);
  });
  it("leaves the document's own line breaks alone", () => {
    assert.equal(escapeSerialized('{\n  "a": 1\n}\n'), '{\n  "a": 1\n}\n');
  });
});
