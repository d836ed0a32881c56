/**
 * The test bed is a real remote Docker host: sshd and dockerd in their own
 * network namespace, a published port reachable there and not here, and a
 * teardown that leaves nothing behind.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { cleanupStaleTestbeds, startTestbed, type Testbed, TESTBED_INDEX_HTML, testbedSkipReason } from "../testbed/mod.ts";

const SUITE = "real remote Docker test bed";

/** Resolves with the error code of a TCP connect to 127.0.0.1:port on this machine, or "connected". */
function localConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.setTimeout(3_000, () => {
      s.destroy();
      resolve("timeout");
    });
    s.on("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
  });
}

/** A port that nothing on this machine's 127.0.0.1 listens on right now. */
async function portFreeHere(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if ((await localConnect(port)) === "ECONNREFUSED") return port;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ok = (r: { code: number; stdout: string; stderr: string }, what: string) =>
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}): ${r.stderr}`);

describe(SUITE, { skip: testbedSkipReason(SUITE) }, () => {
  let tb: Testbed;

  before(async () => {
    tb = await startTestbed();
    console.log(`test bed ${tb.name} at ${tb.remoteAddress}: up in ${Math.round(tb.timings.startMs)} ms, image import ${Math.round(tb.timings.imageImportMs)} ms`);
  });

  after(async () => {
    await tb?.stop();
  });

  it("runs `docker` over `ssh -F config alias` against the namespace's dockerd", { timeout: 60_000 }, async () => {
    const here = await tb.docker(["info", "--format", "{{.ID}}"]);
    ok(here, "docker info via the socket");
    const remote = await tb.ssh(["docker", "info", "--format", "{{.ID}}"]);
    ok(remote, "docker info over ssh");
    assert.equal(remote.stdout.trim(), here.stdout.trim());
    const endpoint = await tb.ssh(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"]);
    ok(endpoint, "docker context inspect over ssh");
    assert.equal(endpoint.stdout.trim(), `unix://${tb.dockerSocket}`);
  });

  it("trusts exactly the real host key: a wrong known_hosts entry is refused", { timeout: 60_000 }, async () => {
    const knownHosts = readFileSync(tb.knownHostsFile, "utf8");
    assert.match(knownHosts, new RegExp(`^${tb.remoteAddress.replaceAll(".", "\\.")} ssh-ed25519 `));
    const config = readFileSync(tb.sshConfigFile, "utf8");
    assert.match(config, /StrictHostKeyChecking yes/);
    assert.match(config, /BatchMode yes/);
    const r = await tb.ssh(["-o", "UserKnownHostsFile=/dev/null", "true"]);
    assert.notEqual(r.code, 0, "ssh must refuse an unknown host key");
    assert.match(r.stderr, /Host key verification failed/);
  });

  it("serves a published port inside the namespace but not on this machine's 127.0.0.1", { timeout: 60_000 }, async () => {
    const port = await portFreeHere();
    ok(await tb.docker(["run", "-d", "--name", "web", "-p", `${port}:80`, tb.image]), "docker run");
    for (const host of ["127.0.0.1", tb.remoteAddress]) {
      const url = `http://${host}:${port}/`;
      let body = "";
      await waitFor(async () => {
        const r = await tb.inNetns(["curl", "-sS", "-m", "2", url]);
        body = r.stdout;
        return r.code === 0;
      }, 10_000, `${url} inside the namespace`);
      assert.equal(body, TESTBED_INDEX_HTML);
    }
    assert.equal(await localConnect(port), "ECONNREFUSED");
  });

  it("provides nc and sleep in the image for raw TCP tests", { timeout: 60_000 }, async () => {
    const port = await portFreeHere();
    ok(await tb.docker(["run", "-d", "-p", `${port}:7000`, tb.image, "sh", "-c", "while true; do echo pong | nc -l -p 7000; done"]), "docker run nc");
    let out = "";
    await waitFor(async () => {
      const r = await tb.inNetns(["curl", "-sS", "-m", "2", `telnet://127.0.0.1:${port}`]);
      out = r.stdout;
      return out.includes("pong");
    }, 10_000, "nc answer");
    assert.match(out, /pong/);
  });

  it("logs one Accepted publickey per SSH connection", { timeout: 60_000 }, async () => {
    const before = tb.acceptedConnections();
    ok(await tb.ssh(["true"]), "ssh true");
    ok(await tb.ssh(["true"]), "ssh true");
    await waitFor(async () => tb.acceptedConnections() === before + 2, 5_000, "two more accepted connections");
    assert.equal(tb.acceptedConnections(), before + 2);
  });

  it("cuts and restores the network with setLinkUp", { timeout: 60_000 }, async () => {
    await tb.setLinkUp(false);
    const cut = await tb.ssh(["-o", "ConnectTimeout=2", "true"]);
    assert.notEqual(cut.code, 0, "ssh must fail while the link is down");
    await tb.setLinkUp(true);
    ok(await tb.ssh(["-o", "ConnectTimeout=5", "true"]), "ssh after restoring the link");
  });

  it("restarts sshd with extra config, keeping or dropping established connections", { timeout: 60_000 }, async () => {
    const oldPid = tb.pids().sshd;
    const accepted = tb.acceptedConnections();
    const held = tb.ssh(["sleep", "30"]);
    await waitFor(async () => tb.acceptedConnections() > accepted, 5_000, "held connection");
    await tb.restartSshd({ extraConfig: ["AllowStreamLocalForwarding no"] });
    assert.notEqual(tb.pids().sshd, oldPid);
    ok(await tb.ssh(["true"]), "ssh after restart");
    const effective = await tb.inNetns(["/usr/sbin/sshd", "-T", "-f", `${tb.dir}/sshd_config`]);
    assert.match(effective.stdout, /^allowstreamlocalforwarding no$/m);
    await tb.restartSshd({ dropConnections: true, extraConfig: [] });
    const r = await held;
    assert.notEqual(r.code, 0, "the held connection must be dropped");
  });

  it("restarts dockerd; a container with a restart policy comes back", { timeout: 120_000 }, async () => {
    ok(await tb.docker(["run", "-d", "--name", "always", "--restart", "always", tb.image]), "docker run --restart always");
    const oldPid = tb.pids().dockerd;
    await tb.restartDockerd();
    assert.notEqual(tb.pids().dockerd, oldPid);
    await waitFor(async () => (await tb.docker(["inspect", "-f", "{{.State.Running}}", "always"])).stdout.trim() === "true", 30_000, "container back");
  });

  it("stop() leaves no process, namespace, veth, mount or directory", { timeout: 120_000 }, async () => {
    const pids = Object.values(tb.pids()).filter((p): p is number => typeof p === "number");
    assert.equal(pids.length, 3);
    const t0 = performance.now();
    await tb.stop();
    console.log(`test bed ${tb.name}: stop() took ${Math.round(performance.now() - t0)} ms`);
    for (const pid of pids) assert.equal(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "), false, `pid ${pid} still alive`);
    assert.equal(existsSync(`/var/run/netns/${tb.netns}`), false);
    assert.equal(existsSync(`/sys/class/net/${tb.name}-h`), false);
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").filter((l) => l.includes(tb.dir) || l.includes(`/netns/${tb.netns} `));
    assert.deepEqual(mounts, []);
    assert.equal(existsSync(tb.dir), false);
    assert.deepEqual(tb.leftovers(), []);
  });
});

/** Facts printed by `scripts/testbed.ts up`. */
interface UpFacts {
  name: string;
  netns: string;
  dir: string;
  pids: Record<string, number>;
}

/** Starts `bun scripts/testbed.ts up` and resolves once it printed its facts. */
function spawnUp(): Promise<{ pid: number; facts: UpFacts; exited: Promise<number | null> }> {
  const script = join(import.meta.dir ?? new URL(".", import.meta.url).pathname, "..", "..", "scripts", "testbed.ts");
  const child = spawn(process.execPath, [script, "up"], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      try {
        resolve({ pid: child.pid!, facts: JSON.parse(out) as UpFacts, exited });
      } catch {
        // JSON not complete yet
      }
    });
    child.on("exit", (code) => reject(new Error(`testbed.ts up exited ${code} before printing its facts: ${err}`)));
  });
}

function gone(facts: UpFacts): string[] {
  const left: string[] = [];
  for (const [what, pid] of Object.entries(facts.pids)) {
    if (existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ")) left.push(`${what} ${pid}`);
  }
  if (existsSync(`/var/run/netns/${facts.netns}`)) left.push("netns");
  if (existsSync(`/sys/class/net/${facts.name}-h`)) left.push("veth");
  if (existsSync(facts.dir)) left.push("dir");
  if (readFileSync("/proc/mounts", "utf8").includes(facts.dir)) left.push("mounts");
  return left;
}

describe(`${SUITE}: coexistence and crashes`, { skip: testbedSkipReason(SUITE) }, () => {
  it("runs two test beds side by side, each with its own subnet, daemons and ports", { timeout: 120_000 }, async () => {
    const [a, b] = await Promise.all([startTestbed(), startTestbed()]);
    try {
      assert.notEqual(a.name, b.name);
      assert.notEqual(a.remoteAddress, b.remoteAddress);
      assert.notEqual(a.dockerSocket, b.dockerSocket);
      const port = await portFreeHere();
      for (const tb of [a, b]) ok(await tb.docker(["run", "-d", "-p", `${port}:80`, tb.image]), `docker run on ${tb.name}`);
      for (const tb of [a, b]) {
        await waitFor(async () => (await tb.inNetns(["curl", "-sf", "-m", "2", `http://127.0.0.1:${port}/`])).code === 0, 10_000, `port ${port} in ${tb.name}`);
        const ids = await tb.docker(["ps", "-q"]);
        assert.equal(ids.stdout.trim().split("\n").length, 1, `${tb.name} sees only its own container`);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    assert.deepEqual([...a.leftovers(), ...b.leftovers()], []);
  });

  it("makes every remote command's shell start-up heavy with heavyShellMs, from a script in its own dir", { timeout: 120_000 }, async () => {
    const tb = await startTestbed({ heavyShellMs: 500 });
    try {
      assert.equal(tb.heavyShellMs, 500);
      const t0 = performance.now();
      const r = await tb.ssh(["echo", "$RDHPF_TESTBED_SHELL_SLEPT_MS"]);
      const ms = performance.now() - t0;
      ok(r, "ssh echo");
      assert.equal(r.stdout, "500\n", "the session went through the heavy shell script");
      assert.ok(ms >= 500, `ssh took ${ms.toFixed(0)} ms`);
    } finally {
      await tb.stop();
    }
  });

  it("`scripts/testbed.ts up` removes its test bed on SIGTERM", { timeout: 120_000 }, async () => {
    const up = await spawnUp();
    try {
      assert.ok(gone(up.facts).includes("netns"), "the test bed is up while the script runs");
    } finally {
      process.kill(up.pid, "SIGTERM");
    }
    assert.equal(await up.exited, 0);
    assert.deepEqual(gone(up.facts), []);
  });

  it("cleanupStaleTestbeds() removes what a SIGKILLed run left behind", { timeout: 120_000 }, async () => {
    const up = await spawnUp();
    process.kill(up.pid, "SIGKILL");
    await up.exited;
    assert.ok(gone(up.facts).includes("netns"), "a SIGKILLed run cannot clean up after itself");
    await cleanupStaleTestbeds();
    assert.deepEqual(gone(up.facts), []);
  });
});
