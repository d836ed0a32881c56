/**
 * The monitoring kit in docs/monitoring/ checked with the real tools: the
 * alert rules load in promtool, their unit tests (rdhpf.rules.test.yml) pass,
 * the dashboard is importable JSON whose queries promtool parses, and every
 * metric name the rules and the dashboard query is one rdhpf exposes.
 *
 * Outside CI a missing promtool skips the promtool tests, loudly; with
 * CI=true they run and fail, since scripts/bootstrap.sh installs it.
 * $PROMTOOL names a promtool outside PATH (e.g. from a Prometheus release
 * tarball).
 */
import { afterAll, describe, expect, it } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { which } from "../testbed/_availability.ts";
import { metricCatalog } from "../../src/status/metrics.ts";

const MONITORING_DIR = join(import.meta.dir, "..", "..", "docs", "monitoring");
const RULES_FILE = join(MONITORING_DIR, "rdhpf.rules.yml");
const RULES_TEST_FILE = join(MONITORING_DIR, "rdhpf.rules.test.yml");
const DASHBOARD_FILE = join(MONITORING_DIR, "rdhpf-dashboard.json");
const README_FILE = join(MONITORING_DIR, "README.md");

/**
 * Sample names rdhpf's metrics endpoint exposes, from the code's own metric
 * catalogue: a counter family scrapes as `_total`, an info family as `_info`,
 * a histogram as its `_bucket`, `_sum` and `_count` series.
 */
const METRICS_SPEC_NAMES = metricCatalog().flatMap(({ name, type }) => {
  if (type === "counter") return [`${name}_total`];
  if (type === "info") return [`${name}_info`];
  if (type === "histogram") return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  return [name];
});

/** Series Prometheus itself writes for every scrape target. */
const PROMETHEUS_SCRAPE_NAMES = ["up"];

const PROMQL_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);

/**
 * Metric names a PromQL expression selects. String literals, label matchers
 * (`{...}`), grouping label lists (`by (...)`, `on (...)`, ...), ranges
 * (`[5m]`), function names and keywords are removed first: what is left
 * that looks like an identifier is a metric name.
 */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call || name === undefined || PROMQL_KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}

type RuleFile = { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] };
type Dashboard = {
  schemaVersion: number;
  title: string;
  panels: { id: number; type: string; title: string; gridPos: object; targets: { expr: string; refId: string }[] }[];
  templating: { list: { name: string; query: unknown }[] };
};

function readRules(): RuleFile {
  return YAML.parse(readFileSync(RULES_FILE, "utf8")) as RuleFile;
}

function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
}

/** Dashboard queries with Grafana's variables replaced by values Prometheus accepts. */
function dashboardExprsAsPromQL(): { panel: string; expr: string }[] {
  return readDashboard().panels.flatMap((p) =>
    p.targets.map((t) => ({
      panel: p.title,
      expr: t.expr.replaceAll("$__rate_interval", "5m").replace(/\$\{?\w+\}?/g, ".*"),
    })),
  );
}

function ruleExprs(): { rule: string; expr: string }[] {
  return readRules().groups.flatMap((g) => g.rules.map((r) => ({ rule: r.alert ?? r.record ?? "?", expr: r.expr })));
}

describe("metric names used by the monitoring kit", () => {
  it("finds the metric names of a query and nothing else", () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le, host) (rate(rdhpf_forward_add_latency_seconds_bucket{rdhpf_state="up",host=~"a|b"}[5m])))',
      ),
    ).toEqual(["rdhpf_forward_add_latency_seconds_bucket"]);
    expect(metricNamesIn('rdhpf_build_info and on() (count(count by (version) (rdhpf_build_info)) > 1)')).toEqual(["rdhpf_build_info"]);
    expect(metricNamesIn('up{job="rdhpf"} == 0 or rdhpf_up offset 5m == bool 0')).toEqual(["rdhpf_up", "up"]);
  });

  it("uses only names rdhpf exposes in every alert rule", () => {
    const allowed = new Set([...METRICS_SPEC_NAMES, ...PROMETHEUS_SCRAPE_NAMES]);
    const rules = ruleExprs();
    expect(rules.length).toBeGreaterThan(0);
    const unknown = rules.flatMap(({ rule, expr }) => metricNamesIn(expr).filter((n) => !allowed.has(n)).map((n) => `${rule}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it("uses only names rdhpf exposes in every dashboard query", () => {
    const allowed = new Set(METRICS_SPEC_NAMES);
    const exprs = dashboardExprsAsPromQL();
    expect(exprs.length).toBeGreaterThan(0);
    const unknown = exprs.flatMap(({ panel, expr }) => metricNamesIn(expr).filter((n) => !allowed.has(n)).map((n) => `${panel}: ${n}`));
    expect(unknown).toEqual([]);
  });
});

describe("alert rule unit tests", () => {
  it("has a unit test that makes every alert fire", () => {
    const tests = YAML.parse(readFileSync(RULES_TEST_FILE, "utf8")) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const fired = new Set(
      tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname)),
    );
    const alerts = ruleExprs().map((r) => r.rule);
    expect(alerts.filter((a) => !fired.has(a))).toEqual([]);
  });
});

describe("Grafana dashboard", () => {
  it("is JSON Grafana can import: schemaVersion, title, panels with ids, positions and PromQL targets", () => {
    const d = readDashboard();
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(d.title).toBeTruthy();
    expect(d.panels.length).toBeGreaterThan(0);
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of d.panels) {
      expect(p.gridPos).toBeDefined();
      expect(p.targets.length).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.expr.length).toBeGreaterThan(0);
    }
  });

  it("has the panels the fleet needs", () => {
    const exprs = readDashboard().panels.flatMap((p) => p.targets.map((t) => t.expr));
    const has = (re: RegExp) => exprs.some((e) => re.test(e));
    expect(has(/increase\(rdhpf_ssh_connections_opened_total\{[^}]*\}\[1h\]\)/)).toBe(true);
    expect(has(/rdhpf_ssh_consecutive_failures/)).toBe(true);
    expect(has(/sum by \(state\) \(rdhpf_forwards\{/)).toBe(true);
    expect(has(/histogram_quantile\(0\.5, .*rdhpf_forward_add_latency_seconds_bucket/)).toBe(true);
    expect(has(/histogram_quantile\(0\.99, .*rdhpf_forward_add_latency_seconds_bucket/)).toBe(true);
    expect(has(/increase\(rdhpf_docker_event_stream_restarts_total\{[^}]*\}\[1h\]\)/)).toBe(true);
    expect(has(/increase\(rdhpf_log_bytes_written_total\{[^}]*\}\[1d\]\)/)).toBe(true);
    expect(has(/by \(version, commit\) \(rdhpf_build_info\)/)).toBe(true);
  });
});

/** $PROMTOOL when set (null when no such file), else promtool on PATH, else null. */
function promtoolPath(): string | null {
  const chosen = process.env.PROMTOOL;
  if (chosen) return existsSync(chosen) ? chosen : null;
  return which("promtool");
}

function promtoolSkipReason(): string | false {
  if (promtoolPath() || process.env.CI === "true") return false;
  const reason = "promtool is not installed (as root, `bash scripts/bootstrap.sh` installs the prometheus package)";
  process.stderr.write(`\n*** SKIPPING the promtool tests of docs/monitoring: ${reason}; with CI=true this is a failure ***\n\n`);
  return reason;
}

/** promtool test rules takes about 3 s on an idle machine; a busy CI machine is slower. */
const PROMTOOL_TEST_TIMEOUT_MS = 120_000;

function promtool(...args: string[]): { status: number | null; stdout: string; output: string } {
  const bin = promtoolPath();
  if (!bin) {
    throw new Error(
      `promtool is not installed${process.env.PROMTOOL ? ` at $PROMTOOL (${process.env.PROMTOOL})` : ""}: run \`bash scripts/bootstrap.sh\` as root, which installs the prometheus package`,
    );
  }
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
}

describe.skipIf(promtoolSkipReason() !== false)("promtool", () => {
  const scratch = mkdtempSync(join(tmpdir(), "rdhpf-monitoring-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("accepts the alert rules (promtool check rules)", () => {
    const r = promtool("check", "rules", RULES_FILE);
    expect(r.output).toContain("SUCCESS");
    expect(r.status).toBe(0);
  }, PROMTOOL_TEST_TIMEOUT_MS);

  it("passes the alert rules' unit tests (promtool test rules)", () => {
    const r = promtool("test", "rules", RULES_TEST_FILE);
    if (r.status !== 0) console.error(r.output);
    expect(r.output).toContain("SUCCESS");
    expect(r.status).toBe(0);
  }, PROMTOOL_TEST_TIMEOUT_MS);

  it("parses every dashboard query (as recording rules, with Grafana's variables filled in)", () => {
    const file = join(scratch, "dashboard_queries.rules.yml");
    const rules = dashboardExprsAsPromQL().map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr }));
    writeFileSync(file, YAML.stringify({ groups: [{ name: "dashboard", rules }] }));
    const r = promtool("check", "rules", file);
    if (r.status !== 0) console.error(r.output);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  }, PROMTOOL_TEST_TIMEOUT_MS);

  it("accepts the README's scrape configurations, and their relabelling makes instance the runner's name", () => {
    const readme = readFileSync(README_FILE, "utf8");
    const scrapeBlocks = [...readme.matchAll(/```yaml\n(scrape_configs:\n[\s\S]*?)```/g)].map((m) => m[1] ?? "");
    expect(scrapeBlocks.length).toBe(2);
    const targetsBlock = /```yaml\n# \/etc\/prometheus\/targets\/rdhpf\/ci\.yml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(targetsBlock).toBeDefined();
    const targetsDir = join(scratch, "targets");
    mkdirSync(targetsDir);
    writeFileSync(join(targetsDir, "ci.yml"), targetsBlock ?? "");
    const jobs = scrapeBlocks.flatMap((b, i) =>
      (YAML.parse(b) as { scrape_configs: Record<string, unknown>[] }).scrape_configs.map((job) => {
        const sd = job.file_sd_configs as { files: string[] }[] | undefined;
        if (sd) for (const c of sd) c.files = [join(targetsDir, "*.yml")];
        return { ...job, job_name: `${job.job_name}-${i}` };
      }),
    );
    const config = join(scratch, "prometheus.yml");
    writeFileSync(config, YAML.stringify({ rule_files: [RULES_FILE], scrape_configs: jobs }));
    const check = promtool("check", "config", config);
    if (check.status !== 0) console.error(check.output);
    expect(check.status).toBe(0);

    // Static and file discovery only read the config and the files: nothing is scraped.
    for (const job of jobs) {
      const r = promtool("check", "service-discovery", "--timeout=1s", config, String(job.job_name));
      expect(r.status).toBe(0);
      if (r.status !== 0) console.error(r.output);
      const targets = JSON.parse(r.stdout) as { labels: Record<string, string> }[];
      expect(targets.map((t) => [t.labels.instance, t.labels.metrics_port, t.labels.runner]).sort()).toEqual([
        ["ci-runner-01", "9464", undefined],
        ["ci-runner-02", "9464", undefined],
        ["ci-runner-02", "9465", undefined],
      ]);
    }
  }, PROMTOOL_TEST_TIMEOUT_MS);
});
