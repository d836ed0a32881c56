import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SAMPLE_NOW, sampleDocument } from "./_sample_document.ts";
import { escapeLabelValue, formatNumber, formatOpenMetrics } from "./format_openmetrics.ts";
import { type StatusDocument, StatusDocumentSchema } from "./schema.ts";
import type { InstanceView } from "./view.ts";

// ---- A small strict parser of the OpenMetrics 1.0 text format (ABNF of the spec). ----

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NUMBER = /^(?:[+-]?\d+(?:\.\d*)?(?:e[+-]?\d+)?|[+-]?\d*\.\d+(?:e[+-]?\d+)?|[+-]?(?:inf|infinity)|nan)$/i;
const SUFFIXES: Record<string, string[]> = {
  gauge: [""], counter: ["_total", "_created"], summary: ["", "_count", "_sum", "_created"], histogram: ["_bucket", "_count", "_sum", "_created"], info: ["_info"], stateset: [""], unknown: [""],
};

interface ParsedSample { family: string; name: string; labels: Record<string, string>; value: number }
interface ParsedFamily { name: string; type: string; unit: string | null; help: string | null; samples: ParsedSample[] }

/** Reads an escaped-string up to the closing quote; returns [value, rest]. */
function readEscaped(s: string): [string, string] {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return [out, s.slice(i + 1)];
    if (c === "\n") throw new Error("raw newline in label value");
    if (c === "\\") {
      const n = s[++i];
      if (n === "n") out += "\n";
      else if (n === '"' || n === "\\") out += n;
      else throw new Error(`undefined escape \\${n}`);
    } else out += c;
  }
  throw new Error("unterminated label value");
}

function parseLabels(s: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let rest = s.slice(1);
  if (rest.startsWith("}")) return [labels, rest.slice(1)];
  for (;;) {
    const eq = rest.indexOf("=");
    const name = rest.slice(0, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${name}`);
    if (name in labels) throw new Error(`duplicate label ${name}`);
    if (rest[eq + 1] !== '"') throw new Error("label value not quoted");
    const [value, after] = readEscaped(rest.slice(eq + 2));
    labels[name] = value;
    if (after.startsWith(",")) rest = after.slice(1);
    else if (after.startsWith("}")) return [labels, after.slice(1)];
    else throw new Error(`unexpected ${after.slice(0, 10)}`);
  }
}

function parseOpenMetrics(text: string): ParsedFamily[] {
  assert.ok(text.endsWith("# EOF\n"), "exposition must end with # EOF");
  assert.doesNotMatch(text, /\r/);
  const lines = text.slice(0, -"# EOF\n".length).split("\n");
  assert.equal(lines.pop(), "", "last line before EOF must end with LF");
  const families: ParsedFamily[] = [];
  const seen = new Set<string>();
  let current: ParsedFamily | null = null;
  const startFamily = (name: string) => {
    if (seen.has(name)) throw new Error(`family ${name} interleaved or repeated`);
    seen.add(name);
    current = { name, type: "unknown", unit: null, help: null, samples: [] };
    families.push(current);
    return current;
  };
  for (const line of lines) {
    const meta = /^# (TYPE|HELP|UNIT) (\S+) ?(.*)$/.exec(line);
    if (line.startsWith("#")) {
      if (!meta) throw new Error(`bad comment line ${line}`);
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name ${name}`);
      const open = current as ParsedFamily | null;
      const fam = open !== null && open.name === name ? open : startFamily(name);
      if (fam.samples.length > 0) throw new Error(`metadata after samples in ${name}`);
      if (kind === "TYPE") {
        if (!(rest in SUFFIXES)) throw new Error(`bad type ${rest}`);
        if (fam.type !== "unknown" || fam.help !== null || fam.unit !== null) throw new Error(`TYPE must come first, once: ${name}`);
        fam.type = rest;
      } else if (kind === "UNIT") {
        if (fam.unit !== null) throw new Error("two UNIT lines");
        if (!name.endsWith(`_${rest}`)) throw new Error(`unit ${rest} is not a suffix of ${name}`);
        fam.unit = rest;
      } else {
        if (fam.help !== null) throw new Error("two HELP lines");
        fam.help = rest;
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*)? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line ${line}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const [labels, rest] = labelText ? parseLabels(labelText) : [{}, ""];
    if (rest !== "") throw new Error(`trailing text ${rest}`);
    if (!NUMBER.test(valueText)) throw new Error(`bad number ${valueText}`);
    const fam = current as ParsedFamily | null;
    if (!fam) throw new Error(`sample ${name} before any family`);
    const suffix = name.slice(fam.name.length);
    if (!name.startsWith(fam.name) || !SUFFIXES[fam.type]!.includes(suffix)) throw new Error(`sample ${name} does not belong to ${fam.type} ${fam.name}`);
    fam.samples.push({ family: fam.name, name, labels, value: Number(valueText.replace(/^\+?inf(inity)?$/i, "Infinity")) });
  }
  for (const f of families) {
    const keys = new Set<string>();
    for (const s of f.samples) {
      const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
      if (keys.has(key)) throw new Error(`duplicate series ${key}`);
      keys.add(key);
      if (f.type === "counter" && s.name.endsWith("_total")) assert.ok(s.value >= 0 && !Number.isNaN(s.value), `${s.name} must be a non-negative number`);
      if (f.type === "stateset") assert.ok(f.name in s.labels, `stateset sample needs label ${f.name}`);
      if (f.type === "info") assert.equal(s.value, 1);
      if (f.type === "summary" && s.name === f.name) assert.ok("quantile" in s.labels);
      if (f.type === "histogram" && s.name.endsWith("_bucket")) assert.ok("le" in s.labels, `${s.name} needs le`);
    }
  }
  return families;
}

// ---- Tests ----

const live = (doc: StatusDocument = sampleDocument()): InstanceView => ({ doc, live: true, staleAgeS: null, unresponsive: false });

function value(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

describe("parseOpenMetrics (the test's own strict parser)", () => {
  const bad: [string, string][] = [
    ["a missing EOF", "# TYPE a gauge\na 1\n"],
    ["a counter sample without _total", "# TYPE a counter\na 1\n# EOF\n"],
    ["an interleaved family", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n# EOF\n"],
    ["a raw newline escape", '# TYPE a gauge\na{x="\\q"} 1\n# EOF\n'],
    ["a bad metric name", "# TYPE 1a gauge\n# EOF\n"],
    ["a bad number", "# TYPE a gauge\na one\n# EOF\n"],
    ["a unit that is not a suffix", "# TYPE a gauge\n# UNIT a seconds\n# EOF\n"],
  ];
  for (const [what, text] of bad) it(`rejects ${what}`, () => assert.throws(() => parseOpenMetrics(text)));
});

describe("formatOpenMetrics", () => {
  it("produces a valid exposition ending in # EOF", () => {
    const families = parseOpenMetrics(formatOpenMetrics([live()], SAMPLE_NOW));
    for (const f of families) {
      assert.ok(f.name.startsWith("rdhpf"), f.name);
      assert.ok(f.help, `HELP of ${f.name}`);
      assert.notEqual(f.type, "unknown", `TYPE of ${f.name}`);
    }
  });

  it("exposes the figures of the status document under the documented names", () => {
    const doc = sampleDocument();
    doc.ssh.connections_opened = 3;
    doc.ssh.reconnects = 2;
    doc.ssh.consecutive_failures = 4;
    doc.docker.event_stream_restarts = 5;
    const fams = parseOpenMetrics(formatOpenMetrics([live(doc)], SAMPLE_NOW));
    const host = { host: doc.host, resolved: "deploy@docker-01.example.internal:22" };
    const started = Date.parse(doc.started_at) / 1000;
    const cases: [string, Record<string, string>, number][] = [
      ["rdhpf_up", {}, 1],
      ["rdhpf_build_info", { version: "0.1.0", commit: "1a2b3c4" }, 1],
      ["rdhpf_start_time_seconds", {}, started],
      ["rdhpf_uptime_seconds", {}, 7990],
      ["rdhpf_state", { rdhpf_state: "connected" }, 1],
      ["rdhpf_state", { rdhpf_state: "reconnecting" }, 0],
      ["rdhpf_ssh_connected", {}, 1],
      ["rdhpf_ssh_connections_opened_total", {}, 3],
      ["rdhpf_ssh_connections_opened_created", {}, started],
      ["rdhpf_ssh_reconnects_total", {}, 2],
      ["rdhpf_ssh_consecutive_failures", {}, 4],
      ["rdhpf_docker_connected", {}, 1],
      ["rdhpf_docker_events_received_total", {}, 1834],
      ["rdhpf_docker_event_stream_restarts_total", {}, 5],
      ["rdhpf_docker_last_event_timestamp_seconds", {}, Date.parse(doc.docker.last_event_at!) / 1000],
      ["rdhpf_containers", {}, 5],
      ["rdhpf_forwards", { state: "active" }, 2],
      ["rdhpf_forwards", { state: "conflict" }, 1],
      ["rdhpf_forwards", { state: "pending" }, 0],
      ["rdhpf_forward_state", { local_port: "5432", state: "conflict" }, 1],
      ["rdhpf_forward_state", { local_port: "8080", state: "active" }, 1],
      ["rdhpf_forwards_added_total", {}, 57],
      ["rdhpf_forwards_removed_total", {}, 55],
      ["rdhpf_forward_add_latency_seconds_bucket", { le: "0.01" }, 3],
      ["rdhpf_forward_add_latency_seconds_bucket", { le: "1.0" }, 160],
      ["rdhpf_forward_add_latency_seconds_bucket", { le: "+Inf" }, 160],
      ["rdhpf_forward_add_latency_seconds_sum", {}, 8.32],
      ["rdhpf_forward_add_latency_seconds_count", {}, 160],
      ["rdhpf_log_bytes_written_total", {}, 48_213],
    ];
    for (const [name, labels, want] of cases) assert.equal(value(fams, name, { ...host, ...labels }), want, `${name}${JSON.stringify(labels)}`);
  });

  it("gives every sample the host and resolved labels and never a container name", () => {
    const doc = sampleDocument();
    const fams = parseOpenMetrics(formatOpenMetrics([live(doc)], SAMPLE_NOW));
    const names = new Set([...doc.forwards, ...doc.history].map((f) => f.container_name));
    for (const s of fams.flatMap((f) => f.samples)) {
      assert.equal(s.labels.host, doc.host, s.name);
      assert.equal(s.labels.resolved, "deploy@docker-01.example.internal:22", s.name);
      for (const v of Object.values(s.labels)) assert.ok(!names.has(v), `${s.name} carries container name ${v}`);
    }
  });

  it("writes one rdhpf_forward_state series when two rows share a local port and state", () => {
    const doc = sampleDocument();
    doc.forwards.push({ ...doc.forwards[2]!, container_name: "db2", container_id: "e".repeat(64) });
    const fams = parseOpenMetrics(formatOpenMetrics([live(doc)], SAMPLE_NOW));
    assert.equal(fams.find((f) => f.name === "rdhpf_forward_state")!.samples.filter((s) => s.labels.local_port === "5432").length, 1);
  });

  it("has empty buckets before any forward was added", () => {
    const doc = StatusDocumentSchema.parse({ ...sampleDocument(), add_latency: undefined });
    const fams = parseOpenMetrics(formatOpenMetrics([live(doc)], SAMPLE_NOW));
    assert.equal(value(fams, "rdhpf_forward_add_latency_seconds_bucket", { le: "+Inf" }), 0);
    assert.equal(value(fams, "rdhpf_forward_add_latency_seconds_count"), 0);
    assert.equal(value(fams, "rdhpf_forward_add_latency_seconds_sum"), 0);
  });

  it("exposes only rdhpf_up 0 for an instance that did not answer", () => {
    const stale = { doc: { ...sampleDocument(), host: "ssh://old" }, live: false, staleAgeS: 60, unresponsive: false };
    const fams = parseOpenMetrics(formatOpenMetrics([live(), stale], SAMPLE_NOW));
    assert.equal(value(fams, "rdhpf_up", { host: "ssh://old" }), 0);
    const other = fams.flatMap((f) => f.samples).filter((s) => s.labels.host === "ssh://old" && s.name !== "rdhpf_up");
    assert.deepEqual(other, []);
  });

  it("escapes hostile label values so that quotes, backslashes and line breaks parse back unchanged", () => {
    const host = 'ssh://a"b\\c\nd';
    const fams = parseOpenMetrics(formatOpenMetrics([live({ ...sampleDocument(), host })], SAMPLE_NOW));
    assert.equal(value(fams, "rdhpf_up", { host }), 1);
  });

  it("never writes an ESC or a bidi override raw: they parse back as U+FFFD", () => {
    const text = formatOpenMetrics([live({ ...sampleDocument(), host: "ssh://a\x1b[31m\u202eb" })], SAMPLE_NOW);
    assert.doesNotMatch(text, /[\x1b\u202e]/);
    assert.equal(value(parseOpenMetrics(text), "rdhpf_up", { host: "ssh://a\ufffd[31m\ufffdb" }), 1);
  });

  it("is valid with no instance at all", () => {
    const fams = parseOpenMetrics(formatOpenMetrics([], SAMPLE_NOW));
    assert.deepEqual(fams.flatMap((f) => f.samples), []);
  });
});

describe("escapeLabelValue and formatNumber", () => {
  const labelCases: [string, string][] = [
    ["plain", "plain"],
    ['say "hi"', 'say \\"hi\\"'],
    ["a\\b", "a\\\\b"],
    ["two\nlines", "two\\nlines"],
    ["lone \ud800 surrogate", "lone \ufffd surrogate"],
    ["an ESC \x1b[2J sequence", "an ESC \ufffd[2J sequence"],
    ["a bidi \u202e override and \u2066 isolate", "a bidi \ufffd override and \ufffd isolate"],
  ];
  for (const [input, want] of labelCases) it(`escapes ${JSON.stringify(input)}`, () => assert.equal(escapeLabelValue(input), want));

  const numberCases: [number, boolean, string][] = [
    [42, false, "42"],
    [42, true, "42.0"],
    [181.5, false, "181.5"],
    [Number.NaN, false, "NaN"],
    [Infinity, false, "+Inf"],
    [1e21, true, "1e+21"],
  ];
  for (const [n, float, want] of numberCases) it(`renders ${n}${float ? " as a float" : ""} as ${want}`, () => assert.equal(formatNumber(n, float), want));
});
