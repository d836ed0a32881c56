/**
 * A brand-new machine has no /run/sshd (no systemd tmpfiles ran), and sshd
 * refuses to start without it. The test bed creates it; this check makes
 * sure it keeps doing so: it removes /run/sshd when no sshd on the machine
 * can need it, then starts one test bed, logs in over ssh and stops it.
 *
 *   bun scripts/fresh_machine_check.ts
 *
 * Ends with "check result: passed|failed|skipped (why)" for the summary of
 * `npm test`; exits 1 on failure. Skips where no test bed can be built
 * (non-root, not Linux, packages missing), except with CI=true, where that
 * is a failure like for every other test bed user.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from "node:fs";
import { basename } from "node:path";
import { cleanupStaleTestbeds, startTestbed, type Testbed, testbedAvailability } from "../test/testbed/mod.ts";

const PRIVSEP_DIR = "/run/sshd";

/** Pids of every sshd on the machine (by /proc, read only: nothing is signalled). */
export function sshdPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let comm = "";
    let exe = "";
    try {
      comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      exe = basename(readlinkSync(`/proc/${entry}/exe`));
    } catch {
      // gone, or a kernel thread without exe
    }
    // OpenSSH 9.8+ also runs sshd-session / sshd-auth children; they use the directory too.
    if (/^sshd(-|$)/.test(comm) || /^sshd(-|$)/.test(exe)) pids.push(Number(entry));
  }
  return pids;
}

function verdict(result: "passed" | "failed" | "skipped", why: string): void {
  console.log(`check result: ${result} (${why})`);
  if (result === "failed") process.exitCode = 1;
}

async function main(): Promise<void> {
  if (process.platform !== "linux") return verdict("skipped", `the test bed needs Linux, this is ${process.platform}`);
  const { available, reason } = testbedAvailability();
  if (!available) {
    const why = `test bed unavailable: ${reason}`;
    return process.env.CI === "true" ? verdict("failed", `${why}; with CI=true the test bed is required`) : verdict("skipped", why);
  }

  const running = sshdPids();
  if (running.length > 0) {
    console.log(`an sshd is running on this machine (pids ${running.join(", ")}): ${PRIVSEP_DIR} stays, since it may need it; starting a test bed anyway`);
  } else if (existsSync(PRIVSEP_DIR)) {
    rmdirSync(PRIVSEP_DIR); // rmdir, not rm -r: it is empty unless something uses it, and then it must stay
    console.log(`no sshd running: removed ${PRIVSEP_DIR}, as on a brand-new machine`);
  } else {
    console.log(`no sshd running and no ${PRIVSEP_DIR}, as on a brand-new machine`);
  }

  await cleanupStaleTestbeds();
  let tb: Testbed | undefined;
  try {
    tb = await startTestbed();
    console.log(`test bed ${tb.name} up in ${Math.round(tb.timings.startMs)} ms`);
    const r = await tb.ssh(["echo", "fresh-machine-ok"]);
    if (r.code !== 0 || r.stdout.trim() !== "fresh-machine-ok") {
      return verdict("failed", `ssh to the test bed failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    }
    verdict("passed", `test bed started${running.length === 0 ? ` without a ${PRIVSEP_DIR} to begin with` : ""}, ssh works`);
  } catch (err) {
    verdict("failed", `the test bed did not start: ${(err as Error).message}`);
  } finally {
    await tb?.stop();
  }
}

if (import.meta.main) await main();
