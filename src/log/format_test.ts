import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { formatJsonRecord, formatTextRecord, logfmtValue, MAX_FIELD_CHARS } from "./format.ts";

function record(message: string, properties: Record<string, unknown> = {}, level: LogRecord["level"] = "info"): LogRecord {
  return { category: ["rdhpf", "ssh"], level, message: [message], rawMessage: message, timestamp: Date.UTC(2026, 10, 27, 18), properties };
}

describe("formatTextRecord", () => {
  it("writes level=INFO msg=\"...\" key=value", () => {
    assert.equal(
      formatTextRecord(record("SSH ControlMaster verified healthy", { pid: 42, host: "root@h" })),
      'time=2026-11-27T18:00:00.000Z level=INFO logger=rdhpf.ssh msg="SSH ControlMaster verified healthy" pid=42 host=root@h\n',
    );
  });
  it("writes WARN for warnings", () => {
    assert.match(formatTextRecord(record("x", {}, "warning")), / level=WARN /);
  });
  it("keeps a hostile value on one line and without terminal escapes", () => {
    const line = formatTextRecord(record("Forward added", { container: "evil\nlevel=ERROR msg=\"forged\"\u001b[2J" }));
    assert.equal(line.split("\n").length, 2);
    assert.ok(!line.includes("\u001b"));
    assert.match(line, /container="evil\\nlevel=ERROR msg=\\"forged\\"\\x1b\[2J"/);
  });
  it("cuts megabytes of text to a bounded field", () => {
    const line = formatTextRecord(record("x", { label: "a".repeat(1_000_000) }));
    assert.ok(line.length < 3000);
    assert.match(line, /more chars/);
  });
});

describe("logfmtValue", () => {
  const cases: Array<[unknown, string]> = [["plain", "plain"], ["a b", '"a b"'], ["", '""'], [12, "12"], [{ a: 1 }, '"{\\"a\\":1}"'], ["C:\\x", '"C:\\\\x"']];
  for (const [input, expected] of cases) it(`renders ${JSON.stringify(input)} as ${expected}`, () => assert.equal(logfmtValue(input), expected));
});

describe("logfmtValue and hostile text", () => {
  it("quotes and escapes C0, DEL and C1 characters", () => assert.equal(logfmtValue("a\u0000b\u007fc\u009bd"), '"a\\x00b\\x7fc\\x9bd"'));
  it("quotes and escapes a bidi override, which a bare value would let through", () => assert.equal(logfmtValue("abc\u202etxt"), '"abc\\u{202e}txt"'));
});

describe("formatJsonRecord", () => {
  it("writes one JSON object per line", () => {
    const line = formatJsonRecord(record("docker events stream started", { startup_duration_ms: 12 }));
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    assert.deepEqual(JSON.parse(line), {
      "@timestamp": "2026-11-27T18:00:00.000Z", level: "INFO", logger: "rdhpf.ssh", message: "docker events stream started",
      properties: { startup_duration_ms: 12 },
    });
  });

  it("caps long values and writes errors as their message, without a stack", () => {
    const parsed = JSON.parse(formatJsonRecord(record("failed", { error: new Error("boom"), name: "x".repeat(5000) })));
    assert.equal(parsed.properties.error, "boom");
    assert.equal(parsed.properties.name.length, MAX_FIELD_CHARS + 1);
    assert.ok(parsed.properties.name.endsWith("…"));
  });
});
