import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { shellLine, shellWord, singleQuote } from "./shell_words.ts";

describe("shellWord", () => {
  const cases: Array<[string, string]> = [
    ["gui/501/com.rdhpf", "gui/501/com.rdhpf"],
    ["/Users/a b/x.plist", "'/Users/a b/x.plist'"],
    ["it's", `'it'\\''s'`],
  ];
  for (const [input, want] of cases) it(`quotes ${JSON.stringify(input)}`, () => assert.equal(shellWord(input), want));
});

describe("shellLine", () => {
  const cases: Array<[string[], string]> = [
    [["ssh", "-O", "check", "--", "root@host"], "ssh -O check -- root@host"],
    [["ssh", "-S", "/Users/A B/x.sock"], "ssh -S '/Users/A B/x.sock'"],
    [["ssh", "-o", "ProxyCommand=ssh -W %h:%p b"], "ssh -o 'ProxyCommand=ssh -W %h:%p b'"],
    [["echo", "it's"], "echo 'it'\\''s'"],
    [["echo", "a\nb"], "echo $'a\\nb'"],
    [["echo", "\u001b[31m'x"], "echo $'\\x1b[31m\\'x'"],
    [["-L", "[::1]:80:127.0.0.1:80"], "-L '[::1]:80:127.0.0.1:80'"],
  ];
  for (const [argv, expected] of cases) it(`renders ${JSON.stringify(argv)} on one line`, () => {
    const out = shellLine(argv);
    assert.equal(out, expected);
    assert.doesNotMatch(out, /\n/);
  });
});

describe("singleQuote", () => {
  it("keeps every character inert, even plain words", () => {
    assert.equal(singleQuote("docker"), "'docker'");
    assert.equal(singleQuote("$(rm -rf ~)"), "'$(rm -rf ~)'");
    assert.equal(singleQuote("it's"), "'it'\\''s'");
  });
});
