import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { excerpt, firstIssue, httpError } from "./engine_errors.ts";

describe("excerpt", () => {
  it("makes server text one line without control characters", () => {
    assert.equal(excerpt("boom\u001b[31m\nsecond   line\r\n"), "boom [31m second line");
  });

  it("cuts long text at 200 characters with an ellipsis", () => {
    assert.equal(excerpt("x".repeat(500)), `${"x".repeat(200)}…`);
  });
});

describe("firstIssue", () => {
  it("names the path of the first zod issue", () => {
    const parsed = z.object({ Id: z.string() }).safeParse({ Id: 1 });
    assert.ok(!parsed.success);
    assert.match(firstIssue(parsed.error), /^Id: /);
  });

  it("names the root when the value itself is wrong", () => {
    const parsed = z.array(z.string()).safeParse({});
    assert.ok(!parsed.success);
    assert.match(firstIssue(parsed.error), /^\(root\): /);
  });
});

describe("httpError", () => {
  it("quotes a plain-text body when it is not the Engine's JSON", () => {
    const err = httpError("/s.sock", "GET", "/version", 400, Buffer.from("client version 1.12 is too old\n"));
    assert.equal(err.message, "Docker Engine API GET /version on /s.sock failed with HTTP 400: client version 1.12 is too old");
    assert.match(err.hint ?? "", /docker version/);
  });
});
