/**
 * `npm run bench`: measures rdhpf (the compiled binary) against a real remote
 * Docker host on this machine and prints the figures. A script, not a test:
 * it asserts nothing, it reports. docs/performance.md records its output.
 *
 *   npm run bench [-- --samples 30 --burst 50 --idle-s 60]
 *   npm run bench -- --only scale [--n 10,100,300 ...]   (see bench_scale.ts)
 */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { Daemon, httpGet, isRefused, waitFor } from "../test/e2e/_harness.ts";
import { startTestbed, type Testbed } from "../test/testbed/mod.ts";
import { benchScale } from "./bench_scale.ts";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
}
const SAMPLES = arg("samples", 30);
const BURST = arg("burst", 50);
const IDLE_S = arg("idle-s", 60);

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return `n=${s.length} min=${s[0]!.toFixed(0)} p50=${q(50).toFixed(0)} p90=${q(90).toFixed(0)} max=${s[s.length - 1]!.toFixed(0)} ms`;
}

/** Polls a TCP connect every 2 ms; resolves the elapsed ms until HTTP answers. */
async function timeUntil(cond: () => Promise<boolean>, startedMs: number, timeoutMs = 10_000): Promise<number> {
  while (performance.now() - startedMs < timeoutMs) {
    if (await cond()) return performance.now() - startedMs;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error("timed out");
}

function procStat(pid: number): { rssMb: number; cpuS: number } {
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMb: rssKb / 1024, cpuS: ticks / 100 };
}

async function runContainer(tb: Testbed, name: string, port: number): Promise<void> {
  const r = await tb.docker(["run", "-d", "--name", name, "-p", `${port}:80`, tb.image]);
  if (r.code !== 0) throw new Error(`docker run ${name}: ${r.stderr}`);
}

if (process.argv.includes("--only") && process.argv[process.argv.indexOf("--only") + 1] === "scale") {
  await benchScale();
  process.exit(0);
}

const tb = await startTestbed();
const daemons: Daemon[] = [];
try {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}-${process.arch}`);
  const conn0 = tb.acceptedConnections();

  // Start-up with 10 containers already running, first without and then with the endpoint cache.
  for (let i = 0; i < 10; i++) await runContainer(tb, `pre${i}`, 21000 + i);
  for (const label of ["first start (endpoint discovered)", "second start (endpoint cached)"]) {
    const started = performance.now();
    const d = new Daemon(tb, [], { stateDir: daemons[0]?.stateDir });
    daemons.push(d);
    for (let i = 0; i < 10; i++) await timeUntil(async () => (await httpGet(21000 + i, "127.0.0.1", 200)) !== null, started, 15_000);
    console.log(`start-up, 10 containers running, ${label}: all forwarded ${(performance.now() - started).toFixed(0)} ms after spawn`);
    if (label.startsWith("first")) {
      await d.stop("SIGTERM");
    }
  }
  const daemon = daemons[daemons.length - 1]!;
  for (let i = 0; i < 10; i++) await tb.docker(["rm", "-f", `pre${i}`]);

  // Add and remove latency.
  const adds: number[] = [];
  const removes: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const port = 22000 + i;
    await runContainer(tb, `lat${i}`, port);
    const t0 = performance.now();
    adds.push(await timeUntil(async () => (await httpGet(port, "127.0.0.1", 200)) !== null, t0));
    await tb.docker(["rm", "-f", `lat${i}`]);
    const t1 = performance.now();
    removes.push(await timeUntil(() => isRefused(port), t1));
  }
  console.log(`add latency (docker run returned → HTTP answers on 127.0.0.1): ${stats(adds)}`);
  console.log(`remove latency (docker rm -f returned → 127.0.0.1 refuses): ${stats(removes)}`);

  // Burst.
  await Promise.all(Array.from({ length: BURST }, (_, i) => runContainer(tb, `burst${i}`, 23000 + i)));
  const tb0 = performance.now();
  await Promise.all(Array.from({ length: BURST }, (_, i) => timeUntil(async () => (await httpGet(23000 + i, "127.0.0.1", 300)) !== null, tb0, 20_000)));
  console.log(`burst: ${BURST} containers started at once → all answering ${(performance.now() - tb0).toFixed(0)} ms after the last docker run returned`);
  await Promise.all(Array.from({ length: BURST }, (_, i) => tb.docker(["rm", "-f", `burst${i}`])));
  const tb1 = performance.now();
  await Promise.all(Array.from({ length: BURST }, (_, i) => timeUntil(() => isRefused(23000 + i), tb1, 20_000)));
  console.log(`burst: all ${BURST} removed → all closed ${(performance.now() - tb1).toFixed(0)} ms after the last docker rm returned`);

  // Idle.
  await new Promise((r) => setTimeout(r, 2000));
  const a = procStat(daemon.pid);
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const b = procStat(daemon.pid);
  console.log(`idle ${IDLE_S} s: RSS ${b.rssMb.toFixed(1)} MB, CPU ${(b.cpuS - a.cpuS).toFixed(2)} s (${((b.cpuS - a.cpuS) * 60 / IDLE_S).toFixed(2)} s per idle minute)`);

  const st = await daemon.status();
  console.log(`status: state=${st.state} connections_opened=${st.ssh.connections_opened} add latency p50=${st.latency_ms.p50} p99=${st.latency_ms.p99} ms (event → forward active, ${st.latency_ms.samples} samples)`);
  console.log(`SSH connections accepted by the remote sshd during the bench: ${tb.acceptedConnections() - conn0} (two rdhpf starts)`);
  await waitFor("quiet", () => true);
} finally {
  for (const d of daemons) {
    await d.stop("SIGTERM");
    d.cleanup();
  }
  await tb.stop();
}
