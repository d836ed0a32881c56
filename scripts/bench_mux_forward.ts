/**
 * What adding one forward pair (127.0.0.1 and ::1, one published port)
 * costs at the SSH layer: rdhpf's mux protocol requests on the control
 * socket against one `ssh -O forward` process with the same two -L, on a
 * real ControlMaster of the test bed. Each sample runs from the call to the
 * master's answer (the listeners are up then); the cancel after it is not
 * timed. The two ways take turns, so that the machine's load falls on both
 * alike. Prints p50/p99 per way and the load average.
 *
 *   CI=true bun scripts/bench_mux_forward.ts [samples per way, default 50]
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { tryListen } from "../src/listens.ts";
import type { LocalForward } from "../src/ssh/argv.ts";
import { SshMaster } from "../src/ssh/master.ts";
import { Mux } from "../src/ssh/mux.ts";
import { runSsh } from "../src/ssh/process.ts";
import { contextFor, runtimeDirForTest } from "../test/integration/_ssh_support.ts";
import { startTestbed } from "../test/testbed/mod.ts";

const SAMPLES = Number(process.argv[2] ?? 50);
/** Below Linux's ephemeral range (32768-60999), where other programs' connections take ports at random. */
const FIRST_PORT = 29500;
let nextPort = FIRST_PORT;

/** The next port free on both loopbacks (other programs may hold some). */
async function freePairPort(): Promise<number> {
  for (;; nextPort++) {
    if ((await tryListen(nextPort, "127.0.0.1")) === null && (await tryListen(nextPort, "::1")) === null) return nextPort++;
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

const tb = await startTestbed();
const rt = runtimeDirForTest();
const ctx = contextFor(tb, rt.dir);
const master = new SshMaster(ctx, { stderrFile: join(rt.dir, "m.ssh.stderr") });
try {
  await master.start();
  const mux = new Mux(ctx, { masterLog: master });
  const pair = (port: number): LocalForward[] => ["127.0.0.1", "::1"].map((bindAddress) => ({ bindAddress, localPort: port, remoteHost: "127.0.0.1", remotePort: 80 }));
  const ways = {
    "mux protocol": async (specs: LocalForward[]) => {
      const r = await mux.forward(specs);
      if (r.failed.length > 0) throw new Error(`forward failed: ${r.failed[0]!.reason}`);
    },
    "ssh -O forward": async (specs: LocalForward[]) => {
      const r = await runSsh({ kind: "forward", forwards: specs }, ctx);
      if (r.code !== 0) throw new Error(`ssh -O forward exited ${r.code}: ${r.stderr}`);
    },
  };
  const times: Record<keyof typeof ways, number[]> = { "mux protocol": [], "ssh -O forward": [] };
  const loadBefore = loadavg();
  for (let i = -5; i < SAMPLES; i++) {
    for (const [name, add] of Object.entries(ways) as Array<[keyof typeof ways, (s: LocalForward[]) => Promise<void>]>) {
      const specs = pair(await freePairPort());
      const started = performance.now();
      await add(specs);
      const ms = performance.now() - started;
      if (i >= 0) times[name].push(ms); // the first 5 rounds warm up
      await mux.cancel(specs);
    }
  }
  const loadAfter = loadavg();
  console.log(`add one forward pair (127.0.0.1 + ::1), ${SAMPLES} samples each; load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`);
  for (const [name, xs] of Object.entries(times)) console.log(`  ${name.padEnd(16)} p50 ${fmt(pct(xs, 50))}  p99 ${fmt(pct(xs, 99))}  max ${fmt(Math.max(...xs))}`);
} finally {
  await master.stop();
  rt.remove();
  await tb.stop();
}
