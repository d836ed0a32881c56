/**
 * Start-up, idle cost and recovery of the compiled binary against a real
 * remote Docker host on this machine (docs/performance.md, "Start-up, idle
 * cost and recovery"). A script, not a test: it asserts nothing, it reports.
 *
 *   npm run bench -- --only lifecycle [--parts startup,idle,recovery,cli,trace] [--samples 10] [--idle-s 120] [--port0 26000]
 *   (or: bun scripts/bench_lifecycle.ts with the same options)
 *
 * - startup: spawn → the first of 5 running containers' forwards answers HTTP
 *   (endpoint cached from an earlier start, as on every start but the first).
 * - idle: CPU of rdhpf plus its children (the master, and any process it
 *   spawned and reaped meanwhile) over --idle-s seconds, after 5 s of quiet.
 * - recovery: master SIGKILLed → a forward answers HTTP again.
 * - cli: wall time of `rdhpf --version` and `rdhpf status` (30 runs each).
 * - trace (not in the default parts): one start-up and one recovery with the
 *   debug log, each line printed with its offset in ms from the spawn (or the
 *   SIGKILL), to see where the time goes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, childrenOf, cleanEnv, Daemon, httpGet, isRefused } from "../test/e2e/_harness.ts";
import { instancePaths } from "../src/paths.ts";
import { startTestbed, type Testbed } from "../test/testbed/mod.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1]!;
}
const ONLY = new Set(arg("parts", "startup,idle,recovery,cli").split(","));
const SAMPLES = Number(arg("samples", "10"));
const IDLE_S = Number(arg("idle-s", "120"));
const CONTAINERS = 5;
const PORT0 = Number(arg("port0", "26000"));

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return `n=${s.length} min=${s[0]!.toFixed(1)} p50=${q(50).toFixed(1)} p90=${q(90).toFixed(1)} max=${s[s.length - 1]!.toFixed(1)} ms`;
}

/** Polls every 2 ms until cond holds; the elapsed ms since startedMs. */
async function timeUntil(cond: () => Promise<boolean>, startedMs: number, timeoutMs = 15_000): Promise<number> {
  while (performance.now() - startedMs < timeoutMs) {
    if (await cond()) return performance.now() - startedMs;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error("timed out");
}

/** CPU seconds of a process: own, and of its reaped children (fields 14-17 of /proc/PID/stat). */
function cpuOf(pid: number): { own: number; reaped: number } {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { own: (Number(f[11]) + Number(f[12])) / 100, reaped: (Number(f[13]) + Number(f[14])) / 100 };
}

/** CPU seconds of rdhpf: own; of live children (the master); of children reaped so far. */
function treeCpu(pid: number): { own: number; live: number; reaped: number; children: string[] } {
  const me = cpuOf(pid);
  let live = 0;
  const children: string[] = [];
  for (const [child, name] of childrenOf(pid)) {
    try {
      const c = cpuOf(child);
      live += c.own + c.reaped;
      children.push(`${name}:${child}`);
    } catch {
      // exited meanwhile
    }
  }
  return { own: me.own, live, reaped: me.reaped, children };
}

function lockOf(d: Daemon): { masterPid: number | null } {
  const f = readdirSync(d.stateDir).find((n) => n.endsWith(".lock"));
  return f ? JSON.parse(readFileSync(join(d.stateDir, f), "utf8")) : { masterPid: null };
}

function wall(args: string[], env: Record<string, string>, runs = 30): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    try {
      execFileSync(BINARY, args, { env, stdio: "ignore" });
    } catch {
      // status exits non-zero without an instance; the wall time still counts
    }
    out.push(performance.now() - t0);
  }
  return out;
}

const tb: Testbed = await startTestbed();
const stateDir = mkdtempSync(join(tmpdir(), "rdhpf-bench-"));
const daemons: Daemon[] = [];
try {
  console.log(`binary: ${BINARY}`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at start`);
  for (let i = 0; i < CONTAINERS; i++) {
    const r = await tb.docker(["run", "-d", "--name", `life${i}`, "-p", `${PORT0 + i}:80`, tb.image]);
    if (r.code !== 0) throw new Error(`docker run: ${r.stderr}`);
  }
  const startOne = async (env: Record<string, string> = {}): Promise<{ d: Daemon; firstMs: number; allMs: number }> => {
    const t0 = performance.now();
    const d = new Daemon(tb, [], { stateDir, env });
    daemons.push(d);
    const firstMs = await Promise.race(Array.from({ length: CONTAINERS }, (_, i) => timeUntil(async () => (await httpGet(PORT0 + i, "127.0.0.1", 200)) !== null, t0)));
    for (let i = 0; i < CONTAINERS; i++) await timeUntil(async () => (await httpGet(PORT0 + i, "127.0.0.1", 200)) !== null, t0);
    return { d, firstMs, allMs: performance.now() - t0 };
  };
  const stopAll = async () => {
    for (const d of daemons.splice(0)) await d.stop("SIGTERM");
    for (let i = 0; i < CONTAINERS; i++) await timeUntil(() => isRefused(PORT0 + i), performance.now());
  };

  // The first start discovers and caches the endpoint; it is not counted.
  // The cache is seeded too, so that a slow remote login shell (the
  // discovery is a remote command) does not hold the first start up.
  writeFileSync(instancePaths(stateDir, `root@${tb.remoteAddress}:22`).endpointCache, `unix://${tb.dockerSocket}\n`);
  await startOne();
  await stopAll();

  if (ONLY.has("startup")) {
    const first: number[] = [];
    const all: number[] = [];
    for (let s = 0; s < SAMPLES; s++) {
      const r = await startOne();
      first.push(r.firstMs);
      all.push(r.allMs);
      await stopAll();
    }
    console.log(`start-up, ${CONTAINERS} containers running, spawn → first forward answers: ${stats(first)}`);
    console.log(`start-up, ${CONTAINERS} containers running, spawn → all ${CONTAINERS} answer: ${stats(all)}`);
  }

  if (ONLY.has("idle") || ONLY.has("recovery")) {
    const { d } = await startOne();
    if (ONLY.has("idle")) {
      await new Promise((r) => setTimeout(r, 5000));
      const a = treeCpu(d.pid);
      await new Promise((r) => setTimeout(r, IDLE_S * 1000));
      const b = treeCpu(d.pid);
      const perMin = (x: number) => ((x * 1000 * 60) / IDLE_S).toFixed(0);
      console.log(`idle ${IDLE_S} s (children: ${b.children.join(" ")}): rdhpf ${perMin(b.own - a.own)} ms/min, live children ${perMin(b.live - a.live)} ms/min, reaped children ${perMin(b.reaped - a.reaped)} ms/min, total ${perMin(b.own - a.own + b.live - a.live + b.reaped - a.reaped)} ms/min (clock tick 10 ms)`);
    }
    if (ONLY.has("recovery")) {
      const back: number[] = [];
      for (let s = 0; s < SAMPLES; s++) {
        const { masterPid } = lockOf(d);
        if (!masterPid) throw new Error("no master pid in the lock file");
        const t0 = performance.now();
        process.kill(masterPid, "SIGKILL");
        await timeUntil(() => isRefused(PORT0), t0, 5000);
        back.push(await timeUntil(async () => (await httpGet(PORT0, "127.0.0.1", 200)) !== null, t0));
        // Let the new session live past REPLACE_AT_ONCE_AFTER_MS (5 s) before the next kill.
        await new Promise((r) => setTimeout(r, 6000));
      }
      console.log(`recovery, master SIGKILLed → forward answers again: ${stats(back)}`);
    }
    await stopAll();
  }

  if (ONLY.has("trace")) {
    // Each log line's time= against the wall clock at the spawn (or the kill).
    const offsets = (text: string, t0Ms: number, fromLine = 0) =>
      text.split("\n").slice(fromLine).filter((l) => l.includes("time=")).map((l) => {
        const at = Date.parse(/time=(\S+)/.exec(l)![1]!);
        return `${String(at - t0Ms).padStart(6)} ms  ${l.replace(/time=\S+ /, "").slice(0, 220)}`;
      }).join("\n");
    // A start after a stopped run, as in the start-up samples.
    await startOne();
    await stopAll();
    const spawnedAt = Date.now();
    const { d, firstMs } = await startOne({ RDHPF_LOG_LEVEL: "debug" });
    console.log(`trace: start-up (first forward answered at ${firstMs.toFixed(0)} ms)\n${offsets(d.logs(), spawnedAt)}`);
    await new Promise((r) => setTimeout(r, 6000));
    const { masterPid } = lockOf(d);
    if (!masterPid) throw new Error("no master pid in the lock file");
    const linesBefore = d.logs().split("\n").length - 1;
    const killedAt = Date.now();
    const t0 = performance.now();
    process.kill(masterPid, "SIGKILL");
    await timeUntil(() => isRefused(PORT0), t0, 5000);
    const backMs = await timeUntil(async () => (await httpGet(PORT0, "127.0.0.1", 200)) !== null, t0);
    await new Promise((r) => setTimeout(r, 300));
    console.log(`trace: recovery (forward answered again at ${backMs.toFixed(0)} ms)\n${offsets(d.logs(), killedAt, linesBefore)}`);
    await stopAll();
  }

  if (ONLY.has("cli")) {
    const env = { ...cleanEnv(), RDHPF_STATE_DIR: stateDir };
    console.log(`rdhpf --version: ${stats(wall(["--version"], env))}`);
    const { d } = await startOne();
    console.log(`rdhpf status (one instance running): ${stats(wall(["status"], { ...env, RDHPF_STATE_DIR: d.stateDir }))}`);
    await stopAll();
  }
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at the end`);
} finally {
  for (const d of daemons) {
    await d.stop("SIGTERM");
    d.cleanup();
  }
  rmSync(stateDir, { recursive: true, force: true });
  await tb.stop();
}
