/**
 * `npm run bench`: measures rdhpf (the compiled binary) against a real remote
 * Docker host on this machine and prints the figures. A script, not a test:
 * it asserts nothing, it reports. docs/performance.md records its output.
 *
 *   npm run bench [-- --samples 30 --burst 50 --idle-s 60]
 *   npm run bench -- --only ports    port forwarding: start-up, add/remove latency, burst, idle
 *   npm run bench -- --only socket   rdhpf's Docker socket vs DOCKER_HOST=ssh:// [--cli-samples 20 --api-samples 500 --heavy-shell-ms 500]
 *   npm run bench -- --only hold     the start hold: first-try connects after docker run, with and without it [--hold-runs 200]
 *   npm run bench -- --only lifecycle  start-up, idle cost, recovery, CLI start (see bench_lifecycle.ts for its options)
 *   npm run bench -- --only scale    cost as the host grows [--n 10,100,300 --binary NAME=PATH ...] (see bench_scale.ts; never part of the default run)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { Agent, get } from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { docker, sshPathWithConfigOf } from "../test/e2e/_docker_cli.ts";
import { percentile, runThenConnectOnce } from "../test/e2e/_first_try.ts";
import { Daemon, httpGet, isRefused, waitFor } from "../test/e2e/_harness.ts";
import { RUNC_START_RACE, startTestbed, type Testbed } from "../test/testbed/mod.ts";
import { benchScale } from "./bench_scale.ts";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
}
const SAMPLES = arg("samples", 30);
const BURST = arg("burst", 50);
const IDLE_S = arg("idle-s", 60);
const CLI_SAMPLES = arg("cli-samples", 20);
const API_SAMPLES = arg("api-samples", 500);
const HEAVY_SHELL_MS = arg("heavy-shell-ms", 500);
const HOLD_RUNS = arg("hold-runs", 200);
const SECTIONS = ["ports", "socket", "hold", "lifecycle", "scale"] as const;
const ONLY = process.argv.includes("--only") ? (process.argv[process.argv.indexOf("--only") + 1] ?? "") : null;
if (ONLY !== null && !(SECTIONS as readonly string[]).includes(ONLY)) throw new Error(`--only ${ONLY}: expected one of ${SECTIONS.join(", ")}`);
// The scaling run starts hundreds of containers (minutes): only when asked for.
const runs = (section: (typeof SECTIONS)[number]) => ONLY === section || (ONLY === null && section !== "scale");

/** The p-th percentile (nearest rank) of xs. */
function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function stats(xs: number[]): string {
  return `n=${xs.length} min=${quantile(xs, 0).toFixed(0)} p50=${quantile(xs, 50).toFixed(0)} p90=${quantile(xs, 90).toFixed(0)} max=${quantile(xs, 100).toFixed(0)} ms`;
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

async function portsSection(): Promise<void> {
  const tb = await startTestbed();
  const daemons: Daemon[] = [];
  try {
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
}

/** Accepted SSH connections during fn (sshd logs each at authentication, before any command of it runs). */
async function countingConnections<T>(tb: Testbed, fn: () => Promise<T>): Promise<{ value: T; connections: number }> {
  const before = tb.acceptedConnections();
  const value = await fn();
  return { value, connections: tb.acceptedConnections() - before };
}

/** One HTTP GET over a unix socket; resolves the ms until the whole body arrived. */
function timedGet(socketPath: string, path: string, agent: Agent | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    get({ socketPath, path, agent: agent ?? false }, (res) => {
      res.on("data", () => undefined);
      res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`))));
    }).on("error", reject);
  });
}

const ms2 = (x: number) => `${x.toFixed(2)} ms`;

/**
 * The relay's own cost per API call: the same GET, alternately through
 * rdhpf's socket and directly through the link's private forwarded socket
 * (so load on the machine hits both alike). Kept-alive: one connection each,
 * bytes relayed only; new connection: each request also opens a channel.
 */
async function relayOverhead(clientSocket: string, linkSocket: string): Promise<void> {
  for (const keepAlive of [true, false]) {
    for (const path of ["/_ping", "/containers/json"]) {
      const n = keepAlive ? API_SAMPLES : Math.ceil(API_SAMPLES / 5);
      const agents = keepAlive ? [new Agent({ keepAlive: true, maxSockets: 1 }), new Agent({ keepAlive: true, maxSockets: 1 })] : [undefined, undefined];
      const relayed: number[] = [];
      const direct: number[] = [];
      for (let i = 0; i < 10; i++) await Promise.all([timedGet(clientSocket, path, agents[0]), timedGet(linkSocket, path, agents[1])]); // warm-up
      for (let i = 0; i < n; i++) {
        relayed.push(await timedGet(clientSocket, path, agents[0]));
        direct.push(await timedGet(linkSocket, path, agents[1]));
      }
      for (const a of agents) a?.destroy();
      const row = (xs: number[]) => [50, 90, 99].map((p) => `p${p}=${ms2(quantile(xs, p))}`).join(" ");
      console.log(`  GET ${path} (${keepAlive ? "kept-alive connection" : "new connection each"}, n=${n}): rdhpf socket ${row(relayed)} | link socket ${row(direct)} | p50 difference ${ms2(quantile(relayed, 50) - quantile(direct, 50))}`);
    }
  }
}

/**
 * rdhpf's Docker socket vs DOCKER_HOST=ssh:// (the docker CLI's own ssh,
 * one SSH connection and remote shell per command) on a test bed whose
 * remote shell start-up is made heavy, as on hosts with conda/pyenv/nvm.
 */
async function socketSection(): Promise<void> {
  const tb = await startTestbed({ heavyShellMs: HEAVY_SHELL_MS });
  const daemon = new Daemon(tb);
  const configDir = mkdtempSync(join(tmpdir(), "rdhpf-bench-docker-"));
  const ssh = sshPathWithConfigOf(tb);
  try {
    await daemon.waitForLog(/docker events stream started/, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; rdhpf's log:\n${daemon.logs().slice(-3000)}`);
    });
    const st = await daemon.status();
    const clientSocket = st.docker.client_socket;
    const linkFile = readdirSync(daemon.stateDir).find((n) => n.endsWith(".docker.sock"));
    if (!clientSocket || !linkFile || st.docker.transport !== "socket-forward") throw new Error(`no socket-forward link to measure: ${JSON.stringify(st.docker)}`);
    const t0 = performance.now();
    const sshTrue = await tb.ssh(["true"]);
    console.log(`rdhpf's Docker socket vs DOCKER_HOST=ssh:// (remote shell start-up +${tb.heavyShellMs} ms; one \`ssh host true\` took ${(performance.now() - t0).toFixed(0)} ms, exit ${sshTrue.code})`);

    const keeper = await tb.docker(["run", "-d", tb.image, "sleep", "3600"]);
    if (keeper.code !== 0) throw new Error(`docker run: ${keeper.stderr}`);
    const commands: Array<[string, string[]]> = [
      ["docker ps", ["ps"]],
      ["docker run -d --rm IMAGE true", ["run", "-d", "--rm", tb.image, "true"]],
      ["docker inspect ID", ["inspect", keeper.stdout.trim()]],
    ];
    const sides = [
      { name: "rdhpf socket", host: `unix://${clientSocket}`, env: {}, connections: 0, commands: 0, runtimeRetries: 0, failures: [] as string[] },
      { name: "ssh://", host: `ssh://${tb.alias}`, env: ssh.env, connections: 0, commands: 0, runtimeRetries: 0, failures: [] as string[] },
    ];
    const cliConnections0 = tb.acceptedConnections();
    for (const [label, args] of commands) {
      // Alternately one command per side, so the machine's changing load hits both alike.
      const times = sides.map((): number[] => []);
      for (let i = 0; i < CLI_SAMPLES; i++) {
        for (const [s, side] of sides.entries()) {
          for (;;) {
            const { value: r, connections } = await countingConnections(tb, () => docker(side.host, configDir, args, { env: side.env }));
            side.connections += connections;
            side.commands++;
            // runc sometimes fails a start on a loaded machine: the remote runtime, not the path measured; that sample is taken again.
            if (r.code !== 0 && RUNC_START_RACE.test(r.stderr) && side.runtimeRetries++ < CLI_SAMPLES) continue;
            // Any other failure is a finding to report, not a sample.
            if (r.code !== 0) side.failures.push(`${label}: exit ${r.code} after ${r.ms.toFixed(0)} ms: ${r.stderr.trim().slice(0, 200) || "(no stderr)"}`);
            else times[s]!.push(r.ms);
            break;
          }
        }
      }
      const [viaSocket, viaSsh] = times as [number[], number[]];
      const pq = (xs: number[]) => `p50 ${quantile(xs, 50).toFixed(0)} / p90 ${quantile(xs, 90).toFixed(0)} ms`;
      const ratio = (p: number) => `${(quantile(viaSsh, p) / quantile(viaSocket, p)).toFixed(1)}x`;
      console.log(`  ${label} (n=${viaSocket.length} / ${viaSsh.length}): rdhpf socket ${pq(viaSocket)} | ssh:// ${pq(viaSsh)} | ratio p50 ${ratio(50)}, p90 ${ratio(90)}`);
    }
    for (const side of sides) {
      const retried = side.runtimeRetries > 0 ? ` (${side.runtimeRetries} of them failed in runc's start race and were taken again)` : "";
      console.log(`  ${side.name}: ${side.commands} docker commands${retried}, ${side.failures.length} failed, ${side.connections} SSH connections accepted by the remote sshd`);
      for (const f of side.failures) console.log(`    failed: ${f}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    console.log(`  (all accepted during the docker commands, read 1 s later: ${tb.acceptedConnections() - cliConnections0})`);

    console.log("relay overhead per API call, rdhpf socket vs the link's private forwarded socket:");
    const { connections } = await countingConnections(tb, () => relayOverhead(clientSocket, join(daemon.stateDir, linkFile)));
    console.log(`  ${connections} SSH connections accepted by the remote sshd during these requests`);
  } finally {
    ssh.cleanup();
    rmSync(configDir, { recursive: true, force: true });
    await daemon.stop("SIGTERM");
    daemon.cleanup();
    await tb.stop();
  }
}

/**
 * The start hold: `docker run -d -p P:80 … && connect once to 127.0.0.1:P`
 * through rdhpf's socket, HOLD_RUNS times with the hold and HOLD_RUNS times
 * with `--no-start-hold` (the event path alone), and what the hold added by
 * the daemon's own count.
 */
async function holdSection(): Promise<void> {
  const tb = await startTestbed();
  const configDir = mkdtempSync(join(tmpdir(), "rdhpf-bench-docker-"));
  try {
    console.log(`start hold: docker run -d -p P:80 then ONE connect to 127.0.0.1:P, ${HOLD_RUNS} times each way, through rdhpf's socket`);
    for (const [label, args] of [["hold on", []], ["hold off (--no-start-hold, event path only)", ["--no-start-hold"]]] as const) {
      const daemon = new Daemon(tb, [...args]);
      try {
        await daemon.waitForLog(/docker events stream started/, 60_000);
        const socket = `unix://${(await daemon.status()).docker.client_socket}`;
        const r = await runThenConnectOnce((a) => docker(socket, configDir, a), tb.image, `bench-${args.length}`, HOLD_RUNS);
        const hold = (await daemon.status()).start_hold;
        const added = hold.enabled ? `; the hold added p50 ${hold.added_ms.p50} ms, p99 ${hold.added_ms.p99} ms (${hold.holds} holds: ${hold.ready} ready, ${hold.timeouts} timeouts, ${hold.errors} errors)` : "";
        const retried = r.runtimeFailures > 0 ? ` (${r.runtimeFailures} runs failed in runc and were taken again)` : "";
        console.log(`  ${label}: ${r.firstTry} of ${HOLD_RUNS} connected at the first try, ${r.answered} answered by httpd${retried}; docker run -d p50 ${percentile(r.runMs, 50)} ms, p99 ${percentile(r.runMs, 99)} ms${added}`);
      } finally {
        await daemon.stop("SIGTERM");
        daemon.cleanup();
      }
    }
  } finally {
    rmSync(configDir, { recursive: true, force: true });
    await tb.stop();
  }
}

console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}-${process.arch}; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
if (runs("ports")) await portsSection();
if (runs("socket")) await socketSection();
if (runs("hold")) await holdSection();
if (runs("lifecycle")) {
  // Its own script with its own options (--parts, --samples, --idle-s): run as a child, the rest of argv passed on.
  const rest = process.argv.slice(2).filter((a, i, all) => a !== "--only" && all[i - 1] !== "--only");
  const r = spawnSync(process.execPath, [join(import.meta.dirname, "bench_lifecycle.ts"), ...rest], { stdio: "inherit" });
  if (r.status !== 0) console.log(`bench_lifecycle.ts exited ${r.status}`);
}
if (runs("scale")) await benchScale();
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
