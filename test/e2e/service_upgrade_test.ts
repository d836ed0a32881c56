/**
 * `rdhpf service upgrade` and `rdhpf service rollback` as a user runs them,
 * with the compiled binaries against the real test bed: the installed
 * binary is replaced by a build of another commit, the running daemon hands
 * over to it, and nothing drops: no new SSH connection at sshd, the
 * forwarded port answers throughout, and a TCP connection opened through
 * the forward before the upgrade still carries bytes after it.
 *
 * The test machine has no systemd user manager, so `systemctl` is a
 * stand-in on PATH that does what systemd does with the unit
 * `rdhpf service install` wrote: `restart` SIGTERMs a main process that is
 * still running and starts the unit's command; `is-active` tells whether it
 * runs. Everything else is real.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { shellLine, shellWord } from "../../src/shell_words.ts";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { BINARY, cleanEnv, freePort, httpGet, requireBinary, waitFor } from "./_harness.ts";

const skip = testbedSkipReason("service upgrade tests");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Runs an rdhpf binary with the test's environment (without blocking: the poller runs meanwhile); resolves its exit code and output. */
function runBinary(binary: string, args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { env, encoding: "utf8", timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** The stand-in for `systemctl --user` described at the top. */
function writeSystemctl(dir: string, state: string, argv: string[]): void {
  const pidFile = join(state, "main.pid");
  writeFileSync(join(dir, "systemctl"), `#!/bin/sh
# Test stand-in for systemctl --user (no systemd here): what systemd does with rdhpf's unit.
echo "$*" >> ${shellWord(join(state, "systemctl.log"))}
alive() { [ -f ${shellWord(pidFile)} ] && kill -0 "$(cat ${shellWord(pidFile)})" 2>/dev/null; }
case "$*" in
  "--user restart rdhpf.service")
    if alive; then
      kill -TERM "$(cat ${shellWord(pidFile)})"
      while alive; do sleep 0.1; done
    fi
    setsid ${shellLine(argv)} >> ${shellWord(join(state, "service.log"))} 2>&1 < /dev/null &
    echo $! > ${shellWord(pidFile)} ;;
  "--user is-active rdhpf.service")
    if alive; then echo active; else echo inactive; exit 3; fi ;;
esac
exit 0
`, { mode: 0o755 });
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Builds `source` (TypeScript) into a standalone executable at `outfile`, as releases are built. */
function compile(source: string, outfile: string, defines: Record<string, string> = {}): void {
  const bun = process.execPath.endsWith("bun") ? process.execPath : "bun";
  const defineArgs = Object.entries(defines).flatMap(([k, v]) => ["--define", `${k}=${JSON.stringify(v)}`]);
  execFileSync(bun, ["build", "--compile", "--minify", ...defineArgs, "--outfile", outfile, source], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
}

/** GET http://127.0.0.1:`port`/ every 10 ms until stop(): how many answered, and when the others failed. */
function pollPort(port: number): { stop(): Promise<{ answered: number; failures: number[] }> } {
  let polling = true;
  let answered = 0;
  const failures: number[] = [];
  const loop = (async () => {
    while (polling) {
      if (await httpGet(port, "127.0.0.1", 2000)) answered++;
      else failures.push(Date.now());
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    stop: async () => {
      polling = false;
      await loop;
      return { answered, failures };
    },
  };
}

interface Answer { pid: number; version: string; commit: string; state: string; ssh: { master_pid: number | null }; forwards: { local_port: number; state: string }[] }

describe("rdhpf service upgrade: replace the binary of a running service, dropping nothing (compiled binaries, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let work: string;
  let env: Record<string, string>;
  let installed: string;
  let newBinary: string;
  let statusArgs: string[];
  let port: number;
  let echoPort: number;
  const status = async (): Promise<Answer | null> => {
    const r = await runBinary(installed, ["status", ...statusArgs, "--format", "json"], env, 10_000);
    try {
      const doc = JSON.parse(r.out.slice(r.out.indexOf("{")));
      return doc.live ? doc : null;
    } catch {
      return null;
    }
  };

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    work = mkdtempSync(join(tmpdir(), "rdhpf-upgrade-e2e-"));
    const home = join(work, "home");
    const bin = join(work, "bin");
    const state = join(work, "state");
    for (const d of [home, bin]) mkdirSync(d, { recursive: true });
    mkdirSync(state, { mode: 0o700 });
    installed = join(bin, "rdhpf");
    copyFileSync(BINARY, installed);
    // The new release: the same sources built as another commit, so its status tells it apart.
    newBinary = join(work, `rdhpf-${process.platform}-${process.arch}`);
    compile(join(root, "src", "main.ts"), newBinary, { RDHPF_COMMIT: "upgrade-e2e", RDHPF_BUILT_AT: new Date().toISOString() });
    statusArgs = ["--host", tb.alias, "-F", tb.sshConfigFile];
    writeSystemctl(bin, work, [installed, "run", ...statusArgs]);
    env = { ...cleanEnv(), HOME: home, RDHPF_STATE_DIR: state, PATH: `${bin}:${cleanEnv().PATH ?? process.env.PATH}` };

    port = await freePort();
    echoPort = await freePort();
    assert.equal((await tb.docker(["run", "-d", "--name", "upg-web", "-p", `${port}:80`, tb.image])).code, 0);
    // A TCP echo server: a connection to it stays open as long as both ends do.
    assert.equal((await tb.docker(["run", "-d", "--name", "upg-echo", "-p", `${echoPort}:7`, tb.image, "sh", "-c", "while true; do nc -l -p 7 -e cat; done"])).code, 0);

    const install = await runBinary(installed, ["service", "install", ...statusArgs, "--binary", installed], env);
    assert.equal(install.code, 0, install.out);
    await waitFor("the service's daemon connected with both forwards active", async () => {
      const s = await status();
      return s && s.state === "connected" && s.forwards.filter((f) => f.state === "active").length >= 2 ? s : null;
    }, 30_000);
  });

  after(async () => {
    const pidFile = join(work ?? "/nonexistent", "main.pid");
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, "utf8"));
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
      await waitFor("the service's daemon to exit", () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }, 10_000).catch(() => undefined);
    }
    await tb?.docker(["rm", "-f", "upg-web", "upg-echo"]).catch(() => undefined);
    await tb?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("upgrades: new commit answers, same master, no new SSH connection, no failed request, an open TCP connection survives; rollback brings the old one back the same way", async () => {
    const before = (await status())!;
    const acceptedBefore = tb.acceptedConnections();
    const echo: Socket = connect({ host: "127.0.0.1", port: echoPort });
    await new Promise<void>((resolve, reject) => echo.once("connect", resolve).once("error", reject));
    let echoed = "";
    echo.on("data", (d) => (echoed += d));
    echo.write("before\n");
    await waitFor("the echo before the upgrade", () => echoed.includes("before"), 5_000);

    // Poll the forwarded port the whole time: a hand-over that drops the forwards shows up here.
    const poller = pollPort(port);

    const upStarted = Date.now();
    const up = await runBinary(installed, ["service", "upgrade", newBinary, "--timeout", "60s"], env);
    const upMs = Date.now() - upStarted;
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, /verify: pid \d+ answers as \S+ \(commit upgrade-e2e\), connected, \d+ active forwards \(\d+ before, none lost\)/);
    const after = (await status())!;
    assert.equal(after.commit, "upgrade-e2e");
    assert.notEqual(after.pid, before.pid);
    assert.equal(after.ssh.master_pid, before.ssh.master_pid, "the new daemon adopted the running master");
    assert.equal((await runBinary(`${installed}.backup`, ["--version"], env)).out.includes(before.commit), true, "the backup is the old build");

    echo.write("after\n");
    await waitFor("the echo after the upgrade, on the connection opened before it", () => echoed.includes("after"), 5_000);

    const back = await runBinary(installed, ["service", "rollback", "--timeout", "60s"], env);
    assert.equal(back.code, 0, back.out);
    const rolled = (await status())!;
    assert.equal(rolled.commit, before.commit);
    assert.equal(rolled.ssh.master_pid, before.ssh.master_pid);
    echo.write("rolled\n");
    await waitFor("the echo after the rollback", () => echoed.includes("rolled"), 5_000);
    echo.destroy();

    const { answered, failures } = await poller.stop();
    assert.equal(tb.acceptedConnections(), acceptedBefore, "no new SSH connection at sshd");
    assert.deepEqual(failures, [], `the forwarded port failed ${failures.length} of ${answered + failures.length} requests`);
    assert.ok(answered > 10, `only ${answered} requests were made`);
    console.log(`service upgrade took ${upMs} ms; ${answered} requests through the forward during upgrade and rollback, none failed\n${up.out.trim()}`);
  });

  it("rolls back when the new binary passes the check but its daemon never answers: the old binary back byte for byte, the old daemon answering, nothing dropped", async () => {
    // A release that says it is rdhpf but exits at once when run: it passes step 1 and fails step 5.
    const broken = join(work, "rdhpf-broken");
    const source = join(work, "broken.ts");
    writeFileSync(source, `if (process.argv.includes("--version")) console.log("rdhpf 0.1.0 (commit broken-e2e, built now, ${process.platform}-${process.arch})");\nelse { console.error("this build fails on purpose"); process.exit(1); }\n`);
    compile(source, broken);
    const before = (await status())!;
    const installedSum = sha256(installed);
    const acceptedBefore = tb.acceptedConnections();
    const poller = pollPort(port);

    const up = await runBinary(installed, ["service", "upgrade", broken, "--timeout", "5s"], env);
    const { answered, failures } = await poller.stop();
    assert.equal(up.code, 1, up.out);
    assert.match(up.out, /upgrade failed at verify: after 5 s: no daemon answered; rolled back/);
    assert.equal(sha256(installed), installedSum, "the installed binary is the old one again, byte for byte");
    const after = (await status())!;
    assert.equal(after.commit, before.commit);
    assert.equal(after.state, "connected");
    assert.equal(after.ssh.master_pid, before.ssh.master_pid, "the old daemon adopted the master again");
    assert.equal(tb.acceptedConnections(), acceptedBefore, "no new SSH connection at sshd");
    assert.deepEqual(failures, [], `the forwarded port failed ${failures.length} of ${answered + failures.length} requests`);
    console.log(`failed upgrade and rollback: ${answered} requests through the forward, none failed\n${up.out.trim()}`);
  });
});
