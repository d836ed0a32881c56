import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { displayWidth } from "../text_safety.ts";
import { SAMPLE_NOW, sampleDocument } from "./_sample_document.ts";
import { formatTable } from "./format_table.ts";
import type { StatusDocument } from "./schema.ts";
import type { InstanceView } from "./view.ts";

const live = (doc: StatusDocument = sampleDocument()): InstanceView => ({ doc, live: true, staleAgeS: null, unresponsive: false });
const ANSI_SGR = /\x1b\[[0-9;]*m/g;
const plain = (s: string) => s.replace(ANSI_SGR, "");

function assertFits(out: string, width: number): void {
  for (const line of plain(out).split("\n")) {
    assert.ok(displayWidth(line) <= width, `line of ${displayWidth(line)} columns: ${JSON.stringify(line.slice(0, 120))}`);
  }
}

function hostile(doc: StatusDocument, name: string): StatusDocument {
  return {
    ...doc,
    host: name,
    last_error: name,
    docker: { ...doc.docker, endpoint: name, server_version: name },
    forwards: doc.forwards.map((f) => ({ ...f, container_name: name, container_id: name, reason: name })),
    history: doc.history.map((h) => ({ ...h, container_name: name, end_reason: name })),
  };
}

const HOSTILE_NAMES: [string, string][] = [
  ["an ANSI colour escape", "\x1b[31mred\x1b[0m"],
  ["a cursor-moving CSI and a C1 CSI", "\x1b[2J\x1b[H\u009b2J"],
  ["newlines forging a row", "web\n  evil   ffffffffffff  127.0.0.1:22  tcp  active"],
  ["a command substitution", "$(rm -rf /)"],
  ["a megabyte of text", "A".repeat(1_048_576)],
  ["a megabyte of escapes", "\x1b".repeat(1_048_576)],
  ["wide characters", "数据库".repeat(40)],
];

describe("formatTable", () => {
  it("shows the header figures operators watch", () => {
    const out = formatTable([live()], { color: false, now: SAMPLE_NOW });
    for (const want of [
      "ssh://deploy@docker-01.example.internal  connected",
      "PID 48213, version 0.1.0, up 2h 13m",
      "connected for 2h 13m, master PID 48220",
      "1 opened since start, 0 reconnects, 0 consecutive failures",
      "Docker 20.10.24 (API 1.41) via socket-forward",
      "1834 received, last 3s ago, 0 stream restarts",
      "p50 42 ms, p99 181.5 ms over the last 100 adds",
      "2 active, 1 conflict, 1 unsupported",
    ]) assert.ok(out.includes(want), `missing ${want}\n${out}`);
  });

  it("lists one row per forward with name, short id, both loopbacks, remote end, protocol, state and age", () => {
    const out = formatTable([live()], { color: false, now: SAMPLE_NOW });
    assert.match(out, /\n {2}web {8}3f2a9c1b7d4e {2}127\.0\.0\.1,\[::1\]:8080 {2}127\.0\.0\.1:8080 {2}tcp {4}active {7}2h 13m\n/);
    assert.match(out, /dns .* -:5353 .* udp +unsupported/);
    assert.match(out, /reason: local port 5432 is in use by postgres \(pid 812\)/);
  });

  it("lists current forwards before the history of the last hour, newest end first, with end reasons", () => {
    const out = formatTable([live()], { color: false, now: SAMPLE_NOW });
    const history = out.indexOf("ended in the last hour:");
    assert.ok(history > out.indexOf("  web "));
    assert.ok(out.indexOf("api-old") > history && out.indexOf("migrate") > out.indexOf("api-old"));
    assert.match(out, /end reason: port claimed by api/);
    assert.match(out, /end reason: container stopped/);
  });

  it("leaves out forwards that ended more than an hour ago", () => {
    const doc = sampleDocument();
    doc.history[0]!.ended_at = new Date(SAMPLE_NOW.getTime() - 3_700_000).toISOString();
    const out = formatTable([live(doc)], { color: false, now: SAMPLE_NOW });
    assert.doesNotMatch(out, /migrate/);
    assert.match(out, /api-old/);
  });

  it("shows at most 100 ended forwards", () => {
    const doc = sampleDocument();
    const h = doc.history[0]!;
    doc.history = Array.from({ length: 150 }, (_, i) => ({ ...h, container_name: `old-${i}` }));
    const out = formatTable([live(doc)], { color: false, now: SAMPLE_NOW });
    assert.equal(out.match(/ old-\d+ /g)?.length, 100);
  });

  it("fits 100 columns with the sample and with narrower widths", () => {
    for (const width of [100, 90, 80]) assertFits(formatTable([live()], { color: false, now: SAMPLE_NOW, width }), width);
  });

  for (const [what, name] of HOSTILE_NAMES) {
    it(`escapes and truncates ${what} and still fits 100 columns`, () => {
      const out = formatTable([live(hostile(sampleDocument(), name))], { color: false, now: SAMPLE_NOW });
      assertFits(out, 100);
      assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, "a control character reached the output");
      assert.ok(out.length < 20_000, `output of ${out.length} chars`);
    });
  }

  it("cannot be made to print an extra forward row by a name holding a newline", () => {
    const out = formatTable([live(hostile(sampleDocument(), "web\n  evil"))], { color: false, now: SAMPLE_NOW });
    assert.doesNotMatch(out, /^ {2}evil/m);
    assert.match(out, /web\\n {2}evil/);
  });

  it("colours states only when asked", () => {
    const plainOut = formatTable([live()], { color: false, now: SAMPLE_NOW });
    assert.doesNotMatch(plainOut, /\x1b/);
    const coloured = formatTable([live()], { color: true, now: SAMPLE_NOW });
    assert.match(coloured, /\x1b\[32mactive {5}\x1b\[0m/);
    assert.match(coloured, /\x1b\[31mconflict {3}\x1b\[0m/);
    assert.match(coloured, /\x1b\[2munsupported\x1b\[0m/);
    assert.match(coloured, /\x1b\[32mconnected\x1b\[0m/);
    assertFits(coloured, 100);
  });

  it("marks a stale view as not running with the age of its last state", () => {
    const doc = { ...sampleDocument(), state: "stopping" as const };
    const out = formatTable([{ doc, live: false, staleAgeS: 312, unresponsive: false }], { color: false, now: SAMPLE_NOW });
    assert.match(out.split("\n")[0]!, /not running {2}\(last state from 5m 12s ago: stopping\)$/);
  });

  it("marks a daemon whose PID exists but does not answer as not answering", () => {
    const out = formatTable([{ doc: sampleDocument(), live: false, staleAgeS: 40, unresponsive: true }], { color: false, now: SAMPLE_NOW });
    assert.match(out.split("\n")[0]!, /not answering {2}\(PID 48213 exists; last state from 40s ago: connected\)$/);
  });

  it("shows one block per instance", () => {
    const other = { ...sampleDocument(), host: "ssh://ci@runner-02" };
    const out = formatTable([live(), live(other)], { color: false, now: SAMPLE_NOW });
    assert.match(out, /^ssh:\/\/deploy@docker-01\.example\.internal {2}connected$/m);
    assert.match(out, /^ssh:\/\/ci@runner-02 {2}connected$/m);
  });

  it("says so when an instance has no forwards and nothing measured yet", () => {
    const doc = { ...sampleDocument(), forwards: [], history: [], latency_ms: { p50: null, p99: null, samples: 0 } };
    const out = formatTable([live(doc)], { color: false, now: SAMPLE_NOW });
    assert.match(out, /\n {2}no forwards\n/);
    assert.match(out, /add latency no forward added yet/);
  });

  it("puts a short reason in a REASON column when the row leaves room for it", () => {
    const doc = sampleDocument();
    doc.history = [];
    doc.forwards = [{ ...doc.forwards[0]!, local_addresses: ["127.0.0.1"], local_port: 80, remote_port: 80, state: "pending", reason: "being added" }];
    const out = formatTable([live(doc)], { color: false, now: SAMPLE_NOW });
    assert.match(out, / SINCE {4}REASON\n/);
    assert.match(out, / pending {6}2h 13m {3}being added\n/);
    assertFits(out, 100);
  });

  it("counts the running containers and the forwards added and removed since start", () => {
    const out = formatTable([live()], { color: false, now: SAMPLE_NOW });
    assert.match(out, /\n {2}containers {2}5 running, 3 with published TCP ports\n/);
    assert.match(out, /\n {2}forwards {4}2 active, 1 conflict, 1 unsupported; 57 added, 55 removed since start\n/);
    const down = { ...sampleDocument(), ssh: { ...sampleDocument().ssh, connected: false }, containers: [] };
    assert.match(formatTable([live(down)], { color: false, now: SAMPLE_NOW }), /containers {2}unknown while not connected/);
  });

  it("aligns the columns at the default width when the width option is present but undefined", () => {
    const out = formatTable([live()], { color: false, now: SAMPLE_NOW, width: undefined });
    assert.match(out, /\n {2}api {8}b7c8d9e0f1a2 {2}127\.0\.0\.1,\[::1\]:3000 {2}/);
    assertFits(out, 100);
  });

  it("writes IPv6 addresses in brackets", () => {
    const doc = sampleDocument();
    doc.forwards = [{ ...doc.forwards[0]!, local_addresses: ["::1"], remote_address: "fd00::5" }];
    const out = formatTable([live(doc)], { color: false, now: SAMPLE_NOW });
    assert.match(out, /\[::1\]:8080 +\[fd00::5\]:8080/);
  });
});
