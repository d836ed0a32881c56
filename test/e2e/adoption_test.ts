/**
 * Restarts that drop nothing, on the real test bed with the compiled binary:
 * after a hand-over (SIGUSR2) or a SIGKILL the next start adopts the SSH
 * master, so sshd sees no new connection, the forwards never stop answering
 * and a TCP connection through one keeps working. A doubtful master is
 * ended and rdhpf starts clean.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { Daemon, httpGet, isRefused, localListeners, requireBinary, waitFor } from "./_harness.ts";
import { assertStatusIsTruth } from "./_truth.ts";

const skip = testbedSkipReason("adoption tests");

const WEB = 25101;
const ECHO = 25102;

function stateFile(d: Daemon, suffix: string): string {
  return join(d.stateDir, readdirSync(d.stateDir).find((n) => n.endsWith(suffix))!);
}

function lockOf(d: Daemon): { pid: number; masterPid: number | null; handedOver?: boolean } {
  return JSON.parse(readFileSync(stateFile(d, ".lock"), "utf8"));
}

/** A TCP connection through a forward to the echo container, exchanging lines. */
class EchoLine {
  private buf = "";
  private constructor(private readonly sock: Socket) {
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => (this.buf += d));
    sock.on("error", () => undefined);
  }
  static open(port: number): Promise<EchoLine> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => resolve(new EchoLine(s)));
      s.once("error", reject);
    });
  }
  /** Sends a line and waits for it to come back. */
  async roundTrip(text: string, timeoutMs = 3000): Promise<void> {
    this.buf = "";
    this.sock.write(`${text}\n`);
    await waitFor(`echo of ${text}`, () => this.buf.includes(`${text}\n`), timeoutMs);
  }
  close(): void {
    this.sock.destroy();
  }
}

/** Connects to a port every 10 ms and counts the attempts that were refused or failed. */
function pollPort(port: number): { stop(): Promise<{ attempts: number; refused: number }> } {
  let running = true;
  let attempts = 0;
  let refused = 0;
  const once = () => new Promise<boolean>((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.on("connect", () => { s.destroy(); resolve(true); });
    s.on("error", () => resolve(false));
  });
  const loop = (async () => {
    while (running) {
      attempts++;
      if (!(await once())) refused++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return { stop: async () => { running = false; await loop; return { attempts, refused }; } };
}

describe("restarts that drop nothing (compiled binary, real sshd + dockerd)", { skip }, () => {
  let tb: Testbed;
  let daemon: Daemon;
  const masters = new Set<number>();

  const activePorts = async (d: Daemon) => (await d.status()).forwards.filter((f) => f.state === "active").map((f) => f.local_port).sort();

  before(async () => {
    requireBinary();
    tb = await startTestbed();
    for (const args of [
      ["run", "-d", "--name", "web", "-p", `${WEB}:80`, tb.image],
      ["run", "-d", "--name", "echo", "-p", `${ECHO}:7`, tb.image, "/bin/sh", "-c", "while true; do nc -l -p 7 -e /bin/cat; done"],
    ]) {
      const r = await tb.docker(args);
      assert.equal(r.code, 0, r.stderr);
    }
    daemon = new Daemon(tb);
    try {
      await waitFor("web forwarded", () => httpGet(WEB), 30_000);
      await waitFor("echo forwarded", async () => (await activePorts(daemon)).includes(ECHO), 15_000);
    } catch (err) {
      console.log(daemon.logs().slice(-4000));
      throw err;
    }
  });

  after(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    // Masters this test left running on purpose end with their daemon; a failed test may leave one.
    for (const pid of masters) if (existsSync(`/proc/${pid}`)) process.kill(pid, "SIGTERM");
    await tb?.stop();
  });

  /** Ends the current daemon with `signal`, changes containers during the gap, starts the next one; checks what survived. */
  async function restartKeepingEverything(signal: "SIGUSR2" | "SIGKILL", gap: { add: string; addPort: number; remove: string; removePort: number }) {
    const conn = await EchoLine.open(ECHO);
    await conn.roundTrip("before");
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    masters.add(masterPid);
    const portsBefore = await activePorts(daemon);
    const accepted = tb.acceptedConnections();
    const poll = pollPort(WEB);

    const t0 = Date.now();
    const code = await daemon.stop(signal);
    if (signal === "SIGUSR2") {
      assert.equal(code, 0);
      console.log(`SIGUSR2 to exit: ${Date.now() - t0} ms`);
      assert.equal(lockOf(daemon).handedOver, true, "the lock says it was handed over");
    }
    assert.ok(existsSync(`/proc/${masterPid}`), "the master outlived rdhpf");
    await conn.roundTrip("in-the-gap");
    assert.equal((await tb.docker(["run", "-d", "--name", gap.add, "-p", `${gap.addPort}:80`, tb.image])).code, 0);
    assert.equal((await tb.docker(["rm", "-f", gap.remove])).code, 0);

    const next = new Daemon(tb, [], { stateDir: daemon.stateDir });
    daemon = next;
    await next.waitForLog(/Adopting the SSH master of the previous run/, 10_000);
    const started = Date.now();
    await waitFor("container started in the gap forwarded", () => httpGet(gap.addPort), 10_000);
    await waitFor("container removed in the gap unforwarded", () => isRefused(gap.removePort), 10_000);
    console.log(`${signal}: gap changes reconciled ${Date.now() - started} ms after the adoption line`);

    await conn.roundTrip("after");
    conn.close();
    const polled = await poll.stop();
    console.log(`${signal}: ${polled.refused} of ${polled.attempts} connects to a forwarded port failed (polled every 10 ms)`);
    assert.equal(polled.refused, 0);
    assert.equal(tb.acceptedConnections() - accepted, 0, "sshd saw no new connection");
    const st = await next.status();
    assert.equal(st.ssh.master_pid, masterPid);
    assert.equal(st.ssh.connections_opened, 0);
    const expected = [...portsBefore.filter((p) => p !== gap.removePort), gap.addPort].sort();
    assert.deepEqual(await activePorts(next), expected);
    const listeners = (await localListeners()).filter((l) => l.endsWith(`:${WEB}`));
    assert.deepEqual(listeners.sort(), [`127.0.0.1:${WEB}`, `::1:${WEB}`]);
    await assertStatusIsTruth(next, tb, { timeoutMs: 5000, ports: [25100, 25199] });
  }

  it("adopts the master after SIGUSR2: no new SSH connection, no refused connect, the open connection survives", async () => {
    assert.equal((await tb.docker(["run", "-d", "--name", "old1", "-p", "25104:80", tb.image])).code, 0);
    await waitFor("old1 forwarded", () => httpGet(25104), 10_000);
    await restartKeepingEverything("SIGUSR2", { add: "new1", addPort: 25103, remove: "old1", removePort: 25104 });
  });

  it("adopts the master after rdhpf was SIGKILLed", async () => {
    await restartKeepingEverything("SIGKILL", { add: "new2", addPort: 25104, remove: "new1", removePort: 25103 });
  });

  it("notices within about a second that an adopted master (not its child) died, and reconnects", async () => {
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    const t0 = Date.now();
    process.kill(masterPid, "SIGKILL");
    await daemon.waitForLog(/SSH session ended/, 5000);
    const noticedMs = Date.now() - t0;
    console.log(`death of the adopted master noticed after ${noticedMs} ms`);
    assert.ok(noticedMs < 2500, `noticed after ${noticedMs} ms`);
    await waitFor("forward back", () => httpGet(WEB), 10_000);
    assert.notEqual((await daemon.status()).ssh.master_pid, masterPid);
  });

  it("ends a master whose control socket is gone and starts clean", async () => {
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    masters.add(masterPid);
    process.kill(daemon.pid, "SIGKILL");
    await daemon.exited;
    rmSync(stateFile(daemon, ".ssh.sock"));
    const accepted = tb.acceptedConnections();
    const next = new Daemon(tb, [], { stateDir: daemon.stateDir });
    daemon = next;
    await next.waitForLog(/Starting a new SSH master.*control socket is missing/, 10_000);
    await waitFor("doubtful master ended", () => !existsSync(`/proc/${masterPid}`), 5000);
    await waitFor("forwards back", async () => (await httpGet(WEB)) && (await httpGet(25104)), 15_000);
    assert.equal(tb.acceptedConnections() - accepted, 1, "one new SSH connection");
    assert.notEqual((await next.status()).ssh.master_pid, masterPid);
  });

  it("ends a master that does not answer (SIGSTOPped) and starts clean", async () => {
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    masters.add(masterPid);
    await daemon.stop("SIGUSR2");
    process.kill(masterPid, "SIGSTOP");
    const next = new Daemon(tb, [], { stateDir: daemon.stateDir });
    daemon = next;
    await next.waitForLog(/Starting a new SSH master.*does not answer/, 15_000);
    await waitFor("stopped master ended", () => !existsSync(`/proc/${masterPid}`), 5000);
    await waitFor("forwards back", async () => (await httpGet(WEB)) && (await httpGet(25104)), 15_000);
  });

  it("ends the master and starts clean when the state file cannot be read", async () => {
    const { masterPid } = lockOf(daemon);
    assert.ok(masterPid);
    masters.add(masterPid);
    await daemon.stop("SIGUSR2");
    writeFileSync(stateFile(daemon, ".state.json"), "{ not json");
    const next = new Daemon(tb, [], { stateDir: daemon.stateDir });
    daemon = next;
    await next.waitForLog(/Starting a new SSH master.*state file is not JSON/, 10_000);
    await waitFor("doubtful master ended", () => !existsSync(`/proc/${masterPid}`), 5000);
    await waitFor("forwards back", async () => (await httpGet(WEB)) && (await httpGet(25104)), 15_000);
  });
});
