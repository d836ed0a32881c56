/**
 * The demo: builds a real remote Docker host in a network namespace (dockerd
 * + sshd), runs the compiled rdhpf against it, starts a web container there,
 * shows it answering on this machine's 127.0.0.1 through the forward, prints
 * `rdhpf status`, then streams rdhpf's logs until Ctrl+C / SIGTERM (or
 * --duration SECONDS) and tears everything down.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, httpGet, rdhpf, waitFor } from "../test/e2e/_harness.ts";
import { startTestbed, testbedAvailability } from "../test/testbed/mod.ts";

function parseDuration(argv: string[]): number | null {
  const i = argv.indexOf("--duration");
  if (i === -1) return null;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    console.error("demo: --duration takes a number of seconds, e.g. --duration 20");
    process.exit(2);
  }
  return v;
}

const durationS = parseDuration(process.argv.slice(2));
const avail = testbedAvailability();
if (!avail.available) {
  console.error(`demo: cannot build the test bed here: ${avail.reason}`);
  process.exit(1);
}

const say = (s: string) => console.log(`\n\u001b[1m== ${s}\u001b[0m`);
say("starting a remote Docker host (network namespace + dockerd + sshd)");
const tb = await startTestbed();
const stateDir = mkdtempSync(join(tmpdir(), "rdhpf-demo-"));
const env = { ...process.env, RDHPF_STATE_DIR: stateDir } as Record<string, string>;
let daemon: ReturnType<typeof spawn> | null = null;
let finished = false;

async function teardown(code: number): Promise<never> {
  if (finished) process.exit(code);
  finished = true;
  say("tearing down");
  if (daemon && daemon.exitCode === null) {
    daemon.kill("SIGTERM");
    await new Promise((r) => daemon!.once("exit", r));
  }
  await tb.stop();
  rmSync(stateDir, { recursive: true, force: true });
  console.log("done: no process, namespace or file left behind");
  process.exit(code);
}
process.on("SIGINT", () => void teardown(0));
process.on("SIGTERM", () => void teardown(0));

try {
  console.log(`remote host: ${tb.target} (ssh config alias ${tb.alias})`);
  say(`rdhpf run --host ${tb.alias} -F ${tb.sshConfigFile}`);
  daemon = spawn(BINARY, ["run", "--host", tb.alias, "-F", tb.sshConfigFile], { env, stdio: ["ignore", "inherit", "inherit"] });
  daemon.on("exit", (code) => {
    if (!finished) {
      console.error(`demo: rdhpf exited unexpectedly with status ${code}`);
      void teardown(1);
    }
  });

  const port = 18080;
  say(`docker run -d -p ${port}:80 ${tb.image}   (on the remote host)`);
  const run = await tb.docker(["run", "-d", "--name", "rdhpf-demo-web", "-p", `${port}:80`, tb.image]);
  if (run.code !== 0) throw new Error(`docker run failed: ${run.stderr}`);
  const started = Date.now();
  const body = await waitFor(`http://127.0.0.1:${port}/`, () => httpGet(port), 15_000);
  say(`curl http://127.0.0.1:${port}/ answered ${Date.now() - started} ms after docker run returned:`);
  console.log(body.split("\r\n\r\n").slice(1).join("\n").trim());

  say("rdhpf status");
  const st = await rdhpf(["status", "--host", tb.alias, "-F", tb.sshConfigFile], { RDHPF_STATE_DIR: stateDir });
  process.stdout.write(st.stdout + st.stderr);

  say(durationS ? `live logs for ${durationS} s (Ctrl+C ends earlier)` : "live logs until Ctrl+C");
  if (durationS) setTimeout(() => void teardown(0), durationS * 1000);
} catch (err) {
  console.error(`demo: ${(err as Error).message}`);
  await teardown(1);
}
