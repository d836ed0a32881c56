// Mux operations through a real ControlMaster: forwards in the mux protocol
// (batches, partial failure, equivalence with `ssh -O forward/cancel`), unix
// socket forwards, remote commands, and the promise that none of them opens
// another SSH connection.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { request } from "node:http";
import { join } from "node:path";
import type { LocalForward } from "../../src/ssh/argv.ts";
import { SshMaster } from "../../src/ssh/master.ts";
import { Mux } from "../../src/ssh/mux.ts";
import { runSsh } from "../../src/ssh/process.ts";
import { classifySshStderr, SshConnectError } from "../../src/ssh/errors.ts";
import { startTestbed, type Testbed, testbedSkipReason } from "../testbed/mod.ts";
import { contextFor, httpGetLocal, runtimeDirForTest } from "./_ssh_support.ts";

const skip = testbedSkipReason("SSH mux integration tests");

/** Remote port the test container publishes (busybox httpd on 80). */
const REMOTE_HTTP_PORT = 18080;

function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function occupy(port: number, host = "127.0.0.1"): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => c.destroy());
    s.once("error", reject);
    s.listen(port, host, () => resolve(s));
  });
}

function pingOverSocket(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "ERROR"));
    req.end();
  });
}

const web = (localPort: number, bindAddress = "127.0.0.1"): LocalForward => ({ bindAddress, localPort, remoteHost: "127.0.0.1", remotePort: REMOTE_HTTP_PORT });

describe("Mux through a real ControlMaster", { skip }, () => {
  let tb: Testbed;
  let rt: ReturnType<typeof runtimeDirForTest>;
  let master: SshMaster;
  let mux: Mux;

  before(async () => {
    tb = await startTestbed();
    rt = runtimeDirForTest();
    const run = await tb.docker(["run", "-d", "-p", `${REMOTE_HTTP_PORT}:80`, tb.image]);
    assert.equal(run.code, 0, run.stderr);
    const ctx = contextFor(tb, rt.dir);
    // As the daemon runs it: the master's stderr goes to a file, which the mux reads.
    master = new SshMaster(ctx, { stderrFile: join(rt.dir, "m.ssh.stderr") });
    await master.start();
    mux = new Mux(ctx, { masterLog: master });
  });

  after(async () => {
    await master?.stop();
    rt?.remove();
    await tb?.stop();
  });

  it("forwards a local port to a remote container and cancels it", async () => {
    const port = await freePort();
    const added = await mux.forward([web(port)]);
    assert.deepEqual(added.failed, []);
    assert.deepEqual(added.ok, [web(port)]);
    assert.match(await httpGetLocal("127.0.0.1", port), /^HTTP\/1\.[01] 200/);
    const removed = await mux.cancel([web(port)]);
    assert.deepEqual(removed.ok, [web(port)]);
    assert.equal(await httpGetLocal("127.0.0.1", port), "ECONNREFUSED");
  });

  it("carries 20 forwards in one exchange, on 127.0.0.1 and ::1", async () => {
    const ports = await Promise.all(Array.from({ length: 10 }, () => freePort()));
    const specs = ports.flatMap((p) => [web(p), web(p, "::1")]);
    const added = await mux.forward(specs);
    assert.deepEqual(added.ok, specs);
    for (const p of ports) {
      assert.match(await httpGetLocal("127.0.0.1", p), /200/);
      assert.match(await httpGetLocal("::1", p), /200/);
    }
    const removed = await mux.cancel(specs);
    assert.deepEqual(removed.ok, specs);
    for (const p of ports) assert.equal(await httpGetLocal("127.0.0.1", p), "ECONNREFUSED");
    process.stderr.write(`    20 -L: forward ${added.durationMs} ms, cancel ${removed.durationMs} ms\n`);
  });

  it("reports a busy local port as failed with port-in-use and forwards the others", async () => {
    const [a, busy, c] = [await freePort(), await freePort(), await freePort()];
    const blocker = await occupy(busy);
    try {
      const r = await mux.forward([web(a), web(busy), web(c)]);
      assert.deepEqual(r.ok, [web(a), web(c)]);
      assert.equal(r.failed.length, 1);
      assert.deepEqual(r.failed[0]!.spec, web(busy));
      assert.equal(r.failed[0]!.portInUse, true);
      assert.match(r.failed[0]!.reason, new RegExp(`local port ${busy} is in use`));
      const failure = r.failed[0]!.failure;
      assert.equal(failure.kind, "port-in-use");
      assert.match(failure.message, new RegExp(`bind \\[127\\.0\\.0\\.1\\]:${busy}: Address already in use`));
      assert.match(failure.hint ?? "", new RegExp(`lsof -nP -i :${busy}`));
      assert.match(await httpGetLocal("127.0.0.1", a), /200/);
      assert.match(await httpGetLocal("127.0.0.1", c), /200/);
      await mux.cancel([web(a), web(c)]);
    } finally {
      blocker.close();
    }
  });

  it("names the failed spec from the master's lines, also on ::1", async () => {
    const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    const busy = ports[2]!;
    const blocker = await occupy(busy, "::1");
    try {
      const specs = ports.flatMap((p) => [web(p), web(p, "::1")]);
      const r = await mux.forward(specs);
      const failed = r.failed;
      assert.deepEqual(failed.map((x) => [x.spec.bindAddress, x.spec.localPort]), [["::1", busy]]);
      assert.equal(r.ok.length, specs.length - 1);
      assert.equal(failed[0]!.failure.kind, "port-in-use");
      assert.match(failed[0]!.failure.message, new RegExp(`bind \\[::1\\]:${busy}: Address already in use`));
      assert.match(await httpGetLocal("127.0.0.1", busy), /200/, "the 127.0.0.1 side of the same port is forwarded");
      await mux.cancel(specs);
    } finally {
      blocker.close();
    }
  });

  it("without the master's stderr, names the cause of a failed forward by a bind probe", async () => {
    const plain = new Mux(contextFor(tb, rt.dir));
    const [a, busy, c] = [await freePort(), await freePort(), await freePort()];
    const blocker = await occupy(busy);
    try {
      const r = await plain.forward([web(a), web(busy), web(c)]);
      assert.deepEqual(r.ok, [web(a), web(c)]);
      assert.deepEqual(r.failed.map((x) => [x.spec.localPort, x.failure.kind]), [[busy, "port-in-use"]]);
      await plain.cancel([web(a), web(c)]);
    } finally {
      blocker.close();
    }
  });

  it("reports a single busy port with its cause", async () => {
    const busy = await freePort();
    const blocker = await occupy(busy);
    try {
      const r = await mux.forward([web(busy)]);
      assert.deepEqual(r.ok, []);
      assert.equal(r.failed[0]!.failure.kind, "port-in-use");
    } finally {
      blocker.close();
    }
  });

  it("accepts an identical forward again and a cancel of a forward it does not hold", async () => {
    const port = await freePort();
    assert.deepEqual((await mux.forward([web(port)])).failed, []);
    assert.deepEqual((await mux.forward([web(port)])).failed, []);
    assert.deepEqual((await mux.cancel([web(port)])).failed, []);
    assert.deepEqual((await mux.cancel([web(port)])).failed, []);
  });

  it("starts no ssh process to add or cancel forwards", async () => {
    const noClient = new Mux(contextFor(tb, rt.dir, { sshBinary: join(rt.dir, "no-such-ssh") }), { masterLog: master });
    const port = await freePort();
    assert.deepEqual((await noClient.forward([web(port), web(port, "::1")])).failed, []);
    assert.match(await httpGetLocal("::1", port), /200/);
    assert.deepEqual((await noClient.cancel([web(port), web(port, "::1")])).failed, []);
    assert.equal(await httpGetLocal("::1", port), "ECONNREFUSED");
  });

  // The master finds a forward to cancel (and an existing one) by comparing
  // the request's strings with those it holds: a master adopted from an
  // rdhpf that used `ssh -O forward` must see rdhpf's requests as the same.
  it("cancels with the protocol what ssh -O forward opened, and ssh -O cancel cancels what the protocol opened", async () => {
    const ctx = contextFor(tb, rt.dir);
    const port = await freePort();
    const pair = [web(port), web(port, "::1")];
    const byClient = await runSsh({ kind: "forward", forwards: pair }, ctx);
    assert.equal(byClient.code, 0, byClient.stderr);
    assert.deepEqual((await mux.forward(pair)).failed, [], "an open of what ssh -O forward opened is found existing");
    assert.deepEqual((await mux.cancel(pair)).ok, pair);
    for (const host of ["127.0.0.1", "::1"]) assert.equal(await httpGetLocal(host, port), "ECONNREFUSED", `${host}:${port} cancelled`);

    assert.deepEqual((await mux.forward(pair)).failed, []);
    const cancelled = await runSsh({ kind: "cancel", forwards: pair }, ctx);
    assert.equal(cancelled.code, 0);
    assert.doesNotMatch(cancelled.stderr, /port not forwarded/, "ssh -O cancel found both forwards");
    for (const host of ["127.0.0.1", "::1"]) assert.equal(await httpGetLocal(host, port), "ECONNREFUSED", `${host}:${port} cancelled`);

    const local = join(rt.dir, "equiv.sock");
    assert.equal((await runSsh({ kind: "forward-socket", localPath: local, remotePath: tb.dockerSocket }, ctx)).code, 0);
    await mux.cancelSocket(local, tb.dockerSocket);
    await mux.forwardSocket(local, tb.dockerSocket);
    const socketCancel = await runSsh({ kind: "cancel-socket", localPath: local, remotePath: tb.dockerSocket }, ctx);
    assert.doesNotMatch(socketCancel.stderr, /port not forwarded/, "ssh -O cancel found the socket forward");
    assert.equal(await pingOverSocket(local), "ECONNREFUSED");
  });

  it("forwards a unix socket to the remote Docker engine, and cancel removes the socket file", async () => {
    const local = join(rt.dir, "docker.sock");
    await mux.forwardSocket(local, tb.dockerSocket);
    assert.equal(await pingOverSocket(local), "OK");
    await mux.forwardSocket(local, tb.dockerSocket); // an identical socket forward is accepted again
    await mux.cancelSocket(local, tb.dockerSocket);
    assert.equal(existsSync(local), false);
  });

  it("runs a fixed remote command through the master", async () => {
    const r = await mux.run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], 10_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.failure, null);
    assert.equal(r.stdout.trim(), `unix://${tb.dockerSocket}`);
    const quoted = await mux.run(["printf", "%s|", "a b", "it's", "$(id)"], 10_000);
    assert.equal(quoted.stdout, "a b|it's|$(id)|");
  });

  it("bridges docker system dial-stdio over a spawned remote command", async () => {
    const child = mux.spawn(["docker", "system", "dial-stdio"]);
    let out = "";
    child.stdout!.on("data", (c) => (out += c));
    child.stdin!.write("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
    await new Promise<void>((resolve) => child.on("exit", () => resolve()));
    assert.match(out, /^HTTP\/1\.1 200 OK/);
    assert.match(out, /\r\n\r\nOK$/);
  });

  it("adds zero SSH connections for many mux operations", async () => {
    const before = tb.acceptedConnections();
    const port = await freePort();
    for (let i = 0; i < 10; i++) {
      assert.deepEqual((await mux.forward([web(port), web(port, "::1")])).failed, []);
      assert.deepEqual((await mux.cancel([web(port), web(port, "::1")])).failed, []);
    }
    for (let i = 0; i < 3; i++) assert.equal((await mux.run(["true"], 10_000)).code, 0);
    const local = join(rt.dir, "docker2.sock");
    await mux.forwardSocket(local, tb.dockerSocket);
    await mux.cancelSocket(local, tb.dockerSocket);
    assert.equal(await master.check(), true);
    assert.equal(tb.acceptedConnections(), before);
  });

  it("replaces a socket file left by a killed master", async () => {
    const local = join(rt.dir, "docker3.sock");
    await mux.forwardSocket(local, tb.dockerSocket);
    process.kill(master.pid!, "SIGKILL");
    await new Promise<void>((r) => {
      const off = master.onExit(() => {
        off();
        r();
      });
    });
    assert.ok(lstatSync(local).isSocket(), "ssh leaves the socket file behind");
    await master.start();
    await mux.forwardSocket(local, tb.dockerSocket);
    assert.equal(await pingOverSocket(local), "OK");
    await mux.cancelSocket(local, tb.dockerSocket);
  });

  it("fails forwards as timeout when the master is stopped, and works again when it resumes", async () => {
    const quick = new Mux(contextFor(tb, rt.dir), { masterLog: master, opTimeoutMs: 300 });
    const port = await freePort();
    process.kill(master.pid!, "SIGSTOP");
    try {
      const r = await quick.forward([web(port)]);
      assert.equal(r.failed[0]!.failure.kind, "timeout");
    } finally {
      process.kill(master.pid!, "SIGCONT");
    }
    assert.deepEqual((await quick.forward([web(port)])).failed, []);
    await quick.cancel([web(port)]);
  });

  it("never falls back to a new connection when the master is gone", async () => {
    await master.stop();
    const before = tb.acceptedConnections();
    const r = await mux.run(["true"], 10_000);
    assert.equal(r.failure?.kind, "master-gone");
    const f = await mux.forward([web(await freePort())]);
    assert.equal(f.failed[0]!.failure.kind, "master-gone");
    assert.equal(f.failed[0]!.portInUse, false);
    const c = await mux.cancel([web(await freePort())]);
    assert.equal(c.failed[0]!.failure.kind, "master-gone");
    await assert.rejects(mux.forwardSocket(join(rt.dir, "gone.sock"), tb.dockerSocket), (err) => err instanceof SshConnectError && err.kind === "master-gone");
    assert.equal(tb.acceptedConnections(), before);
  });
});

describe("Mux against an sshd that refuses forwarding", { skip }, () => {
  let tb: Testbed;
  let rt: ReturnType<typeof runtimeDirForTest>;
  let master: SshMaster;
  let mux: Mux;

  before(async () => {
    tb = await startTestbed({ sshdExtraConfig: ["AllowStreamLocalForwarding no", "AllowTcpForwarding no"] });
    rt = runtimeDirForTest();
    const ctx = contextFor(tb, rt.dir);
    master = new SshMaster(ctx);
    await master.start();
    mux = new Mux(ctx, { masterLog: master });
  });

  after(async () => {
    await master?.stop();
    rt?.remove();
    await tb?.stop();
  });

  // The refusal shows only when a connection is made: the -O forward itself
  // succeeds, the connection is closed at once, and the master (at LogLevel
  // INFO) names the reason.
  it("sees a refused unix socket forward as stream-local-refused in the master's stderr", async () => {
    const local = join(rt.dir, "docker.sock");
    await mux.forwardSocket(local, tb.dockerSocket);
    const mark = master.cursor();
    assert.notEqual(await pingOverSocket(local), "OK");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(classifySshStderr(master.since(mark)).kind, "stream-local-refused");
    await mux.cancelSocket(local, tb.dockerSocket);
  });

  it("sees a refused TCP forward as forward-refused in the master's stderr", async () => {
    const port = await freePort();
    assert.deepEqual((await mux.forward([web(port)])).failed, []);
    const mark = master.cursor();
    assert.doesNotMatch(await httpGetLocal("127.0.0.1", port), /200/);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(classifySshStderr(master.since(mark)).kind, "forward-refused");
    await mux.cancel([web(port)]);
  });
});
