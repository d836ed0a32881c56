// The dial-stdio relay, the fallback Docker transport, against the real
// dockerd of a test bed: bridges are the real `docker system dial-stdio`,
// locally (DOCKER_HOST = the test bed's socket) and through ssh to the test
// bed's sshd, exactly as rdhpf runs it on a remote host.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineClient } from "../../src/docker/client.ts";
import { startDialStdioRelay } from "../../src/docker/relay.ts";
import { startTestbed, type Testbed } from "../testbed/mod.ts";
import { EventRecorder, ms, openFds, percentile, testbedSkipReason, waitUntil } from "./_docker_support.ts";

const skip = testbedSkipReason("Docker dial-stdio relay integration tests");

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("dial-stdio relay against a real dockerd", { skip }, () => {
  let tb: Testbed;
  let dir: string;
  const children: ChildProcess[] = [];

  /** A bridge like rdhpf's, but running the docker CLI locally against the test bed's socket. */
  function localBridge(): ChildProcess {
    const child = spawn("docker", ["system", "dial-stdio"], {
      env: { ...process.env, DOCKER_HOST: `unix://${tb.dockerSocket}`, DOCKER_CONFIG: join(dir, "docker-config"), DOCKER_CONTEXT: "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.push(child);
    return child;
  }

  async function docker(args: string[]): Promise<string> {
    const r = await tb.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  }

  const allChildrenGone = () => children.every((c) => !isAlive(c.pid) && (c.exitCode !== null || c.signalCode !== null));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "rdhpf-relay-test-"));
    tb = await startTestbed();
  });

  after(async () => {
    for (const c of children) if (isAlive(c.pid)) c.kill("SIGKILL");
    await tb?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the Engine API and lists a -P container with its assigned port", async () => {
    const socketPath = join(dir, "relay1.sock");
    const relay = await startDialStdioRelay({ socketPath, spawnBridge: localBridge });
    const client = new EngineClient({ socketPath });
    try {
      assert.equal(statSync(socketPath).mode & 0o777, 0o600);
      assert.equal((await client.negotiate()).apiVersion, "1.41");
      const id = await docker(["run", "-d", "--expose", "80", "-P", tb.image]);
      const assigned = Number((await docker(["port", id, "80/tcp"])).split("\n")[0]?.split(":").pop());
      const listed = (await client.listContainers()).find((c) => c.id === id);
      assert.ok(listed?.ports.some((p) => p.publicPort === assigned));
      // Keep-alive: every request so far shared one bridge.
      assert.equal(relay.connections(), 1);
      await docker(["rm", "-f", id]);
    } finally {
      client.close();
      await relay.close();
    }
    await waitUntil(allChildrenGone, 3000, "bridge children to exit");
  });

  it("streams start and die events through the relay", async () => {
    const socketPath = join(dir, "relay2.sock");
    const relay = await startDialStdioRelay({ socketPath, spawnBridge: localBridge });
    const client = new EngineClient({ socketPath });
    try {
      const recorder = new EventRecorder(client);
      await recorder.opened();
      const id = await docker(["run", "-d", tb.image]);
      const runExited = performance.now();
      const start = await recorder.waitFor("start", id, 2000);
      await docker(["rm", "-f", id]);
      const die = await recorder.waitFor("die", id, 2000);
      assert.equal(recorder.order[0], "open");
      assert.equal(relay.connections(), 2, "one bridge for the stream, one for the keep-alive pool (negotiate)");
      const abortMs = await recorder.stop();
      assert.ok(abortMs < 100, `stream returned ${ms(abortMs)} after abort`);
      // The stream's connection went away: its bridge child is ended, the pool's stays.
      await waitUntil(() => relay.connections() === 1, 3000, "the stream's bridge to end");
      process.stdout.write(
        `  relay event delivery: start ${ms(start.atMs - runExited)} after docker run exited, Engine→iterator ${ms(start.engineToIteratorMs)} / ${ms(die.engineToIteratorMs)}\n`,
      );
    } finally {
      client.close();
      await relay.close();
    }
    await waitUntil(allChildrenGone, 3000, "bridge children to exit");
  });

  it("ends each bridge child when its client goes away, leaking no fd", async () => {
    const socketPath = join(dir, "relay3.sock");
    const relay = await startDialStdioRelay({ socketPath, spawnBridge: localBridge });
    const fdsBefore = openFds();
    const spawnedBefore = children.length;
    for (let i = 0; i < 5; i++) {
      const client = new EngineClient({ socketPath });
      await client.ping();
      client.close();
    }
    // A raw client that half-closes after its request, and one that just vanishes.
    for (const halfClose of [true, false]) {
      const sock = net.connect(socketPath);
      await new Promise<void>((r) => sock.once("connect", () => r()));
      sock.write("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
      if (halfClose) {
        sock.end();
        const reply = await new Promise<string>((r) => {
          let s = "";
          sock.on("data", (c) => (s += c));
          sock.on("close", () => r(s));
        });
        assert.match(reply, /^HTTP\/1\.1 200 OK/);
      } else sock.destroy();
    }
    await waitUntil(() => relay.connections() === 0, 3000, "all bridges to end");
    await waitUntil(allChildrenGone, 3000, "bridge children to exit");
    assert.equal(children.length - spawnedBefore, 7, "one child per connection");
    await waitUntil(() => openFds() <= fdsBefore, 2000, `open fds back to ${fdsBefore} (now ${openFds()})`);
    await relay.close();
  });

  it("replaces a stale socket file and refuses to delete anything else", async () => {
    const stale = join(dir, "stale.sock");
    const old = net.createServer().listen(stale);
    await new Promise<void>((r) => old.once("listening", () => r()));
    // Simulate a crash: the socket file stays, nobody listens.
    old.close();
    const oldHandle = new Promise<void>((r) => old.once("close", () => r()));
    await oldHandle;
    writeFileSync(join(dir, "not-a-socket"), "user data");
    await assert.rejects(startDialStdioRelay({ socketPath: join(dir, "not-a-socket"), spawnBridge: localBridge }), /not a socket/);
    const relay = await startDialStdioRelay({ socketPath: stale, spawnBridge: localBridge });
    const client = new EngineClient({ socketPath: stale });
    await client.ping();
    client.close();
    await relay.close();
    assert.throws(() => statSync(stale), /ENOENT/, "close() removes the socket");
  });

  it("close() ends bridges that are still busy", async () => {
    const socketPath = join(dir, "relay5.sock");
    const relay = await startDialStdioRelay({ socketPath, spawnBridge: localBridge });
    const client = new EngineClient({ socketPath });
    const recorder = new EventRecorder(client);
    await recorder.opened();
    await client.ping();
    assert.equal(relay.connections(), 2);
    const t0 = performance.now();
    await relay.close();
    assert.ok(performance.now() - t0 < 2500);
    await recorder.done;
    client.close();
    assert.equal(relay.connections(), 0);
    await waitUntil(allChildrenGone, 3000, "bridge children to exit");
  });

  it("measures relay overhead per request", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await docker(["run", "-d", "-p", `${7200 + i}:80`, tb.image]));
    const socketPath = join(dir, "relay6.sock");
    const relay = await startDialStdioRelay({ socketPath, spawnBridge: localBridge });
    const direct = new EngineClient({ socketPath: tb.dockerSocket });
    const relayed = new EngineClient({ socketPath });
    const sample = async (client: EngineClient, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        assert.equal((await client.listContainers()).length, 10);
        out.push(performance.now() - t0);
      }
      return out;
    };
    await sample(direct, 3);
    await sample(relayed, 3);
    const d = percentile(await sample(direct, 50), 50);
    const r = percentile(await sample(relayed, 50), 50);
    // A fresh connection spawns a fresh bridge.
    const fresh: number[] = [];
    for (let i = 0; i < 10; i++) {
      const c = new EngineClient({ socketPath });
      const t0 = performance.now();
      await c.ping();
      fresh.push(performance.now() - t0);
      c.close();
    }
    process.stdout.write(
      `  listContainers (10 containers) p50: direct ${ms(d)}, relay ${ms(r)} (+${ms(r - d)} per request on a kept-alive bridge); first request on a new bridge (spawns dial-stdio) p50 ${ms(percentile(fresh, 50))}\n`,
    );
    assert.ok(r - d < 20, "a kept-alive bridge adds little per request");
    direct.close();
    relayed.close();
    await relay.close();
    await docker(["rm", "-f", ...ids]);
    await waitUntil(allChildrenGone, 3000, "bridge children to exit");
  });

  it("bridges through ssh to the remote docker system dial-stdio", { timeout: 60_000 }, async () => {
    const socketPath = join(dir, "relay-ssh.sock");
    const before = tb.acceptedConnections();
    const sshBridge = () => {
      // No ControlMaster here: each bridge is its own SSH connection (rdhpf passes -S SOCK instead).
      const child = spawn("ssh", ["-F", tb.sshConfigFile, "-o", "LogLevel=ERROR", "--", tb.alias, "docker", "system", "dial-stdio"], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      children.push(child);
      return child;
    };
    const relay = await startDialStdioRelay({ socketPath, spawnBridge: sshBridge });
    const client = new EngineClient({ socketPath, requestTimeoutMs: 15_000 });
    try {
      const recorder = new EventRecorder(client);
      await recorder.opened(15_000);
      assert.equal((await client.negotiate()).apiVersion, "1.41");
      const id = await docker(["run", "-d", "-p", "7300:80", tb.image]);
      await recorder.waitFor("start", id, 3000);
      const listed = (await client.listContainers()).find((c) => c.id === id);
      assert.deepEqual(listed?.ports.map((p) => p.publicPort), [7300, 7300]);
      await recorder.stop();
      await docker(["rm", "-f", id]);
      assert.equal(tb.acceptedConnections() - before, 2, "one SSH connection per bridge: the stream and the keep-alive pool");
    } finally {
      client.close();
      await relay.close();
    }
    await waitUntil(allChildrenGone, 3000, "ssh bridge children to exit");
  });
});
