import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { SAMPLE_NOW, sampleDocument } from "./_sample_document.ts";
import { formatOpenMetrics } from "./format_openmetrics.ts";
import { formatPrometheus } from "./format_prometheus.ts";
import type { InstanceView } from "./view.ts";

const live = (doc = sampleDocument()): InstanceView => ({ doc, live: true, staleAgeS: null, unresponsive: false });

interface Exposition { types: Map<string, string>; samples: Map<string, number> }

/**
 * Reads the Prometheus text format 0.0.4 strictly enough for these tests:
 * only its three types, HELP and TYPE before a metric's samples, every sample
 * under a TYPE'd metric (a histogram's under its _bucket/_sum/_count).
 */
function parsePrometheus(text: string): Exposition {
  assert.ok(text.endsWith("\n"));
  assert.doesNotMatch(text, /^# (EOF|UNIT)/m, "0.0.4 has no # EOF and no # UNIT");
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        assert.ok(["gauge", "counter", "histogram"].includes(meta[3]!), `type ${meta[3]} of ${meta[2]}`);
        assert.ok(!types.has(meta[2]!), `TYPE twice: ${meta[2]}`);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m, `bad line ${line}`);
    const name = m[1]!;
    const family = [name, name.replace(/_(bucket|sum|count)$/, "")].find((n) => types.has(n));
    assert.ok(family, `sample ${name} has no TYPE`);
    if (family !== name) assert.equal(types.get(family), "histogram", name);
    samples.set(`${name}${m[2] ?? ""}`, Number(m[3]!.replace("+Inf", "Infinity")));
  }
  return { types, samples };
}

function find(e: Exposition, name: string, labels: Record<string, string>): number | undefined {
  for (const [key, v] of e.samples) {
    if (!key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, val]) => key.includes(`${k}="${val}"`))) return v;
  }
  return undefined;
}

describe("formatPrometheus", () => {
  const text = formatPrometheus([live()], SAMPLE_NOW);
  const e = parsePrometheus(text);

  const typeCases: [string, string][] = [
    ["rdhpf_up", "gauge"],
    ["rdhpf_build_info", "gauge"],
    ["rdhpf_state", "gauge"],
    ["rdhpf_start_time_seconds", "gauge"],
    ["rdhpf_ssh_connections_opened_total", "counter"],
    ["rdhpf_ssh_reconnects_total", "counter"],
    ["rdhpf_docker_events_received_total", "counter"],
    ["rdhpf_forwards_added_total", "counter"],
    ["rdhpf_log_bytes_written_total", "counter"],
    ["rdhpf_forward_state", "gauge"],
    ["rdhpf_forward_add_latency_seconds", "histogram"],
  ];
  for (const [name, type] of typeCases) it(`types ${name} as a ${type}`, () => assert.equal(e.types.get(name), type));

  it("says the same figures as the OpenMetrics rendering, minus _created", () => {
    const om = formatOpenMetrics([live()], SAMPLE_NOW).split("\n").filter((l) => l !== "" && !l.startsWith("#") && !/^\w+_created\{/.test(l));
    const prom = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    assert.deepEqual(prom, om);
  });

  it("expresses info and stateset as gauges of 0 and 1", () => {
    assert.equal(find(e, "rdhpf_build_info", { version: "0.1.0", commit: "1a2b3c4" }), 1);
    assert.equal(find(e, "rdhpf_state", { rdhpf_state: "connected" }), 1);
    assert.equal(find(e, "rdhpf_state", { rdhpf_state: "stopping" }), 0);
  });

  it("writes the histogram's cumulative buckets, +Inf equal to _count", () => {
    const le = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"];
    const counts = le.map((l) => find(e, "rdhpf_forward_add_latency_seconds_bucket", { le: l }));
    assert.deepEqual(counts, [0, 3, 25, 92, 134, 157, 159, 160, 160, 160, 160, 160]);
    assert.equal(find(e, "rdhpf_forward_add_latency_seconds_count", {}), 160);
  });

  it("writes no _created sample, which 0.0.4 would read as an untyped metric", () => {
    assert.doesNotMatch(text, /_created\{/);
  });

  it("exposes only rdhpf_up 0 for an instance that did not answer", () => {
    const dead = parsePrometheus(formatPrometheus([{ ...live(), live: false, staleAgeS: 9 }], SAMPLE_NOW));
    assert.deepEqual([...dead.samples.values()], [0]);
  });

  // The reference parser and linter, where installed (scripts/bootstrap.sh installs it for the e2e tests).
  const promtool = spawnSync("promtool", ["--version"]).status === 0;
  it("passes `promtool check metrics` without a complaint", { skip: promtool ? false : "promtool not installed" }, () => {
    const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(`${r.stdout}${r.stderr}`, "");
    assert.equal(r.status, 0);
  });
});
