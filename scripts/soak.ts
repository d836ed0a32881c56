/**
 * `npm run soak -- --minutes N`: runs the compiled rdhpf against a real
 * remote Docker host for N minutes with random container churn and, every
 * 5 minutes, a killed ControlMaster; every 10 s it checks "nothing lost"
 * (local forwards == the remote's running containers' published TCP ports).
 * Prints log volume, reconnects, checks passed/failed, RSS. A script that
 * reports; it does not assert.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Daemon, httpGet, isRefused } from "../test/e2e/_harness.ts";
import { startTestbed } from "../test/testbed/mod.ts";

const i = process.argv.indexOf("--minutes");
const minutes = i === -1 ? 5 : Number(process.argv[i + 1]);
if (!Number.isFinite(minutes) || minutes <= 0) {
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

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}

try {
  await daemon.waitForLog(/docker events stream started/, 15_000);
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
  const st = await daemon.status();
  const logBytes = daemon.logs().length - logStart;
  console.log(`soak ${minutes} min: ${checksOk} "nothing lost" checks passed, ${checksFailed} failed`);
  console.log(`master kills ${masterKills}, reconnects ${st.ssh.reconnects}, SSH connections opened ${st.ssh.connections_opened}`);
  console.log(`log volume ${logBytes} bytes (${(logBytes / minutes).toFixed(0)} bytes/min, info level, with churn)`);
  console.log(`RSS ${rssMb(daemon.pid).toFixed(1)} MB, add latency p50 ${st.latency_ms.p50} ms, p99 ${st.latency_ms.p99} ms`);
} finally {
  await daemon.stop();
  daemon.cleanup();
  await tb.stop();
}
