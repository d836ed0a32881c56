import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { JsonLineSplitter } from "./json_lines.ts";

const stream = readFileSync(new URL("./testdata/events_api1.41.jsonl", import.meta.url));
const expectedLines = stream.toString("utf8").split("\n").filter(Boolean);
const enc = (s: string) => new TextEncoder().encode(s);

function feed(splitter: JsonLineSplitter, chunks: Uint8Array[]) {
  const lines: string[] = [];
  const dropped: number[] = [];
  for (const c of chunks) {
    const r = splitter.push(c);
    lines.push(...r.lines);
    dropped.push(...r.dropped);
  }
  return { lines, dropped };
}

describe("JsonLineSplitter", () => {
  it("reassembles a captured event stream cut at every byte offset", () => {
    for (let cut = 1; cut < stream.length; cut += 7) {
      const { lines } = feed(new JsonLineSplitter(1 << 20), [stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(lines, expectedLines, `cut at ${cut}`);
    }
  });

  it("reassembles a stream delivered one byte at a time", () => {
    const chunks = Array.from(stream.subarray(0, 2000), (b) => Uint8Array.of(b));
    const { lines } = feed(new JsonLineSplitter(1 << 20), chunks);
    assert.deepEqual(lines, expectedLines.slice(0, lines.length));
    assert.ok(lines.length >= 4);
  });

  it("keeps a multi-byte UTF-8 character that a chunk boundary splits", () => {
    const bytes = enc('{"name":"caf\u00e9 \u{1F600}"}\n');
    for (let cut = 1; cut < bytes.length; cut++) {
      const { lines } = feed(new JsonLineSplitter(1024), [bytes.subarray(0, cut), bytes.subarray(cut)]);
      assert.deepEqual(lines, ['{"name":"caf\u00e9 \u{1F600}"}']);
    }
  });

  it("drops a line over the cap and goes on with the next", () => {
    const huge = `{"x":"${"a".repeat(5000)}"}`;
    const s = new JsonLineSplitter(1000);
    const { lines, dropped } = feed(s, [enc(`{"a":1}\n${huge.slice(0, 3000)}`), enc(huge.slice(3000)), enc('\n{"b":2}\n')]);
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    assert.deepEqual(dropped, [huge.length]);
    assert.equal(s.pendingBytes, 0);
  });

  it("never buffers more than the cap for a line that does not end", () => {
    const s = new JsonLineSplitter(1000);
    for (let i = 0; i < 100; i++) s.push(enc("x".repeat(999)));
    assert.equal(s.pendingBytes, 0);
  });

  it("reads RFC 7464 json-seq records, CRLF endings and blank lines", () => {
    const { lines } = feed(new JsonLineSplitter(1024), [enc('\u001e{"a":1}\n\r\n\n{"b":2}\r\n')]);
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
  });

  it("holds an unfinished line until its newline arrives", () => {
    const s = new JsonLineSplitter(1024);
    assert.deepEqual(s.push(enc('{"a":')).lines, []);
    assert.equal(s.pendingBytes, 5);
    assert.deepEqual(s.push(enc("1}\n")).lines, ['{"a":1}']);
  });
});
