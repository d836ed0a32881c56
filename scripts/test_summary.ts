/**
 * The summary of `npm test`: one row per runner (Bun, Deno, the fresh-machine
 * check, ...) read from that runner's own output, then the line CI reads:
 *
 *   tests: N passed, N failed, N skipped
 *
 * A runner's output is the only source of its counts; its exit code can only
 * add to the failures: a runner that exits non-zero while its output shows no
 * failure (a crash, a file that would not load, an error outside any test)
 * counts as one failure under its own name, so the last line never says
 * "0 failed" for a run that failed.
 *
 *   bun scripts/test_summary.ts RESULTS_FILE
 *
 * RESULTS_FILE has one line per runner: name, kind (bun | deno | check), exit
 * code and the path of its log (may be empty), separated by tabs. Exits 1 when anything failed.
 *
 * @module
 */
import { readFileSync } from "node:fs";

/** What one runner reported. `errors` are Bun's errors outside any test ("Unhandled error between tests"). */
export interface RunnerCounts { passed: number; failed: number; skipped: number; errors: number }

/** One row of the summary table. */
export interface RunnerResult extends RunnerCounts {
  name: string;
  exitCode: number;
  /** Why a failure was added beyond the runner's own counts, if one was. */
  note?: string;
}

export type RunnerKind = "bun" | "deno" | "check";

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

function lines(log: string): string[] {
  return log.replace(ANSI, "").replace(/\r/g, "").split("\n");
}

/**
 * Bun ends a run with lines like " 12 pass", " 1 skip", " 2 todo", " 0 fail",
 * " 1 error" / " 2 errors", then "Ran 15 tests across 3 files.". The last
 * occurrence of each wins, so test output above it cannot fool the count.
 * Todo tests are not run: they count as skipped.
 */
export function parseBunCounts(log: string): RunnerCounts {
  const last: Record<string, number> = {};
  for (const line of lines(log)) {
    const m = /^\s*(\d+) (pass|fail|skip|todo|errors?)$/.exec(line);
    if (m) last[m[2] === "errors" ? "error" : m[2]!] = Number(m[1]);
  }
  return { passed: last.pass ?? 0, failed: last.fail ?? 0, skipped: (last.skip ?? 0) + (last.todo ?? 0), errors: last.error ?? 0 };
}

/**
 * Deno prints one line per test and per step ("  name ... ok (1ms)"); a group
 * (a describe, or a test with steps) opens with "name ..." and closes with its
 * own result line at the same indent. Only leaves are counted, like Bun does,
 * so the two runners' numbers mean the same thing. The ERRORS and FAILURES
 * sections at the end repeat names and are not counted.
 */
export function parseDenoCounts(log: string): RunnerCounts {
  const counts: RunnerCounts = { passed: 0, failed: 0, skipped: 0, errors: 0 };
  const open: Array<{ indent: number; name: string }> = [];
  let inReport = false;
  for (const line of lines(log)) {
    if (/^ (ERRORS|FAILURES) $/.test(line)) inReport = true;
    if (/^running \d+ tests? from /.test(line)) inReport = false;
    if (inReport) continue;
    const header = /^(\s*)(.+) \.\.\.$/.exec(line);
    if (header) {
      open.push({ indent: header[1]!.length, name: header[2]! });
      continue;
    }
    const result = /^(\s*)(.+?) \.\.\. (ok|FAILED|ignored|cancelled)( \(.*)?$/.exec(line);
    if (!result) continue;
    const indent = result[1]!.length;
    const top = open.at(-1);
    if (top && top.indent === indent && top.name === result[2]) {
      open.pop(); // a group's own result: its steps were counted
      continue;
    }
    if (result[3] === "ok") counts.passed++;
    else if (result[3] === "ignored") counts.skipped++;
    else counts.failed++;
  }
  return counts;
}

/** A check script ends with "check result: passed|failed|skipped (why)"; without that line its exit code decides. */
export function parseCheckCounts(log: string, exitCode: number): RunnerCounts {
  const verdicts = lines(log).map((l) => /^check result: (passed|failed|skipped)\b/.exec(l)?.[1]).filter((v) => v !== undefined);
  const verdict = verdicts.at(-1) ?? (exitCode === 0 ? "passed" : "failed");
  return { passed: verdict === "passed" ? 1 : 0, failed: verdict === "failed" ? 1 : 0, skipped: verdict === "skipped" ? 1 : 0, errors: 0 };
}

/** One runner's row: its parsed counts, plus one failure if it exited non-zero without reporting any. */
export function runnerResult(name: string, kind: RunnerKind, exitCode: number, log: string): RunnerResult {
  const counts = kind === "bun" ? parseBunCounts(log) : kind === "deno" ? parseDenoCounts(log) : parseCheckCounts(log, exitCode);
  const row: RunnerResult = { name, exitCode, ...counts };
  if (exitCode !== 0 && counts.failed + counts.errors === 0) {
    row.failed += 1;
    row.note = `exited ${exitCode} without reporting a failed test: counted as 1 failure`;
  }
  return row;
}

/** Totals over all runners; an error outside a test is a failure. */
export function totals(rows: RunnerResult[]): { passed: number; failed: number; skipped: number } {
  let passed = 0, failed = 0, skipped = 0;
  for (const r of rows) {
    passed += r.passed;
    failed += r.failed + r.errors;
    skipped += r.skipped;
  }
  return { passed, failed, skipped };
}

/** The table and, last, the line CI reads. */
export function renderSummary(rows: RunnerResult[]): string {
  const width = Math.max(6, ...rows.map((r) => r.name.length));
  const cols = ["passed", "failed", "skipped", "errors", "exit"];
  const out = [[`${"runner".padEnd(width)}`, ...cols.map((c) => c.padStart(7))].join(" ")];
  for (const r of rows) {
    out.push([r.name.padEnd(width), ...[r.passed, r.failed, r.skipped, r.errors, r.exitCode].map((n) => String(n).padStart(7))].join(" "));
  }
  for (const r of rows) if (r.note) out.push(`note: ${r.name} ${r.note}`);
  const t = totals(rows);
  out.push(`tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
  return out.join("\n");
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: bun scripts/test_summary.ts RESULTS_FILE (lines: name<TAB>bun|deno|check<TAB>exit code<TAB>log file)");
  const rows = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => {
    const [name, kind, code, log] = l.split("\t");
    if (!name || (kind !== "bun" && kind !== "deno" && kind !== "check")) throw new Error(`bad line in ${file}: ${JSON.stringify(l)}`);
    let text = "";
    try {
      if (log) text = readFileSync(log, "utf8");
    } catch {
      // no log: the exit code alone decides
    }
    return runnerResult(name, kind, Number(code), text);
  });
  console.log(renderSummary(rows));
  process.exitCode = totals(rows).failed === 0 ? 0 : 1;
}
