/**
 * `npm run soak -- --minutes N`: runs the compiled rdhpf against a real
 * remote Docker host for N minutes with random container churn and, every
 * 5 minutes, a killed ControlMaster; every 10 s it checks "nothing lost"
 * (local forwards == the remote's running containers' published TCP ports).
 * Then an idle phase (`--idle-minutes`, default 1) and a network cut
 * (`--outage-minutes`, default 1) followed by recovery. Prints log volume per
 * phase, reconnects, checks passed/failed, RSS. A script that reports; it
 * does not assert.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Daemon, httpGet, isRefused } from "../test/e2e/_harness.ts";
import { startTestbed } from "../test/testbed/mod.ts";

function minutesArg(flag: string, fallback: number): number {
  const at = process.argv.indexOf(flag);
  const v = at === -1 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isFinite(v) || v < 0) {
    console.error(`soak: ${flag} takes a number of minutes (0 or more)`);
    process.exit(2);
  }
  return v;
}
const minutes = minutesArg("--minutes", 5);
const idleMinutes = minutesArg("--idle-minutes", 1);
const outageMinutes = minutesArg("--outage-minutes", 1);
if (minutes <= 0) {
  console.error("soak: --minutes takes a positive number");
  process.exit(2);
}

const tb = await startTestbed();
const daemon = new Daemon(tb);
const PORTS = Array.from({ length: 8 }, (_, k) => 26000 + k);
const running = new Set<number>();
let checksOk = 0;
let checksFailed = 0;
let masterKills = 0;
const endAt = Date.now() + minutes * 60_000;
let nextKill = Date.now() + 5 * 60_000;
let nextCheck = Date.now() + 10_000;

/** Log bytes (stderr, info level) per phase, in the order the phases ran. */
const phases: Array<{ name: string; bytes: number; ms: number }> = [];
let phaseStart = { bytes: 0, ms: Date.now() };
function endPhase(name: string): void {
  const now = { bytes: daemon.logs().length, ms: Date.now() };
  phases.push({ name, bytes: now.bytes - phaseStart.bytes, ms: now.ms - phaseStart.ms });
  phaseStart = now;
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}

try {
  await daemon.waitForLog(/docker events stream started/, 15_000);
  await new Promise((r) => setTimeout(r, 2_000));
  endPhase("start-up");
  const logStart = daemon.logs().length;
  while (Date.now() < endAt) {
    const port = PORTS[Math.floor(Math.random() * PORTS.length)]!;
    if (running.has(port)) {
      await tb.docker(["rm", "-f", `soak${port}`]);
      running.delete(port);
    } else if ((await tb.docker(["run", "-d", "--name", `soak${port}`, "-p", `${port}:80`, tb.image])).code === 0) {
      running.add(port);
    }
    if (Date.now() > nextKill) {
      nextKill = Date.now() + 5 * 60_000;
      const lock = readdirSync(daemon.stateDir).find((f) => f.endsWith(".lock"))!;
      const { masterPid } = JSON.parse(readFileSync(join(daemon.stateDir, lock), "utf8"));
      if (masterPid) (process.kill(masterPid, "SIGKILL"), masterKills++);
    }
    if (Date.now() > nextCheck) {
      nextCheck = Date.now() + 10_000;
      await new Promise((r) => setTimeout(r, 5_000)); // truth within 5 s
      let ok = true;
      for (const p of PORTS) ok &&= running.has(p) ? (await httpGet(p)) !== null : await isRefused(p);
      ok ? checksOk++ : checksFailed++;
    }
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 1800));
  }
  const logBytes = daemon.logs().length - logStart;
  endPhase("churn and master kills");
  await new Promise((r) => setTimeout(r, idleMinutes * 60_000));
  endPhase("idle");
  if (outageMinutes > 0) {
    await tb.setLinkUp(false);
    try {
      await new Promise((r) => setTimeout(r, outageMinutes * 60_000));
    } finally {
      await tb.setLinkUp(true);
    }
    endPhase("network cut");
    const restored = Date.now();
    const back = async () => {
      for (const p of PORTS) if (running.has(p) ? (await httpGet(p)) === null : !(await isRefused(p))) return false;
      return true;
    };
    while (!(await back()) && Date.now() - restored < 60_000) await new Promise((r) => setTimeout(r, 500));
    (await back()) ? checksOk++ : checksFailed++;
    console.log(`after the network cut: forwards equal the truth ${Date.now() - restored} ms after the link came up`);
    endPhase("recovery");
  }
  const st = await daemon.status();
  console.log(`soak ${minutes} min: ${checksOk} "nothing lost" checks passed, ${checksFailed} failed`);
  console.log(`master kills ${masterKills}, reconnects ${st.ssh.reconnects}, SSH connections opened ${st.ssh.connections_opened}`);
  console.log(`log volume ${logBytes} bytes (${(logBytes / minutes).toFixed(0)} bytes/min, info level, with churn)`);
  console.log("log volume by phase (info level):");
  for (const p of phases) {
    console.log(`  ${p.name.padEnd(24)} ${String(p.bytes).padStart(8)} bytes in ${(p.ms / 1000).toFixed(0)} s (${((p.bytes * 3_600_000) / Math.max(p.ms, 1) / 1024).toFixed(1)} KB/h)`);
  }
  console.log(`RSS ${rssMb(daemon.pid).toFixed(1)} MB, add latency p50 ${st.latency_ms.p50} ms, p99 ${st.latency_ms.p99} ms`);
} finally {
  await daemon.stop();
  daemon.cleanup();
  await tb.stop();
}
